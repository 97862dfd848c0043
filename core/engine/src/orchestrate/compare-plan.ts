/**
 * Planning a comparison: the grid of cells (strategies x tasks x budgets x seeds), each with a
 * stable key, the dependency `matchComputeOf` makes between cells, and each cell's run
 * configuration. Pure functions of the configuration: a resumed comparison plans the same cells.
 */
import type { BudgetSpec, ComponentRef } from '@peftkit/api';
import { ConfigError } from '@peftkit/api';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { CompareStrategy, RunConfig } from '../config/types.js';
import { completeRecipe } from '../config/validate.js';

/** One cell as cells.json records it. */
export interface CellPlan {
  /** `label|task|budget|seed`: unique in the comparison, the same when it is resumed. */
  key: string;
  label: string;
  task: ComponentRef;
  budget: BudgetSpec;
  budgetLabel: string;
  seed: number;
  /** Indices into the comparison's tasks and budgets (absent in cells.json of older versions). */
  taskIndex?: number;
  budgetIndex?: number;
  dir?: string;
  /**
   * `done` once result.json is written; `failed` with the error when the run threw; while it is
   * pending: `queued` (handed to the executor) or `running` (on `worker`, when it runs elsewhere).
   */
  status?: 'queued' | 'running' | 'done' | 'failed';
  /** Where the cell ran or runs, when an executor ran it in another process. */
  worker?: string;
  error?: string;
  failedAt?: string;
}

export function budgetLabel(b: BudgetSpec): string {
  return b.params !== undefined ? `${b.params} params` : `ratio ${b.ratio}`;
}

/** The tasks and budgets of the grid (compare.tasks/budgets, else the top-level task and budget). */
export function gridAxes(config: RunConfig): { tasks: ComponentRef[]; budgets: BudgetSpec[] } {
  const spec = config.compare!;
  return {
    tasks: spec.tasks ?? [config.task],
    budgets: spec.budgets ?? (config.budget ? [config.budget] : []),
  };
}

export function planCells(config: RunConfig): CellPlan[] {
  const spec = config.compare!;
  const { tasks, budgets } = gridAxes(config);
  if (budgets.length === 0)
    throw new ConfigError(
      'a comparison needs budgets (compare.budgets or budget)',
      undefined,
      'compare.budgets',
    );
  // Strategies whose compute is matched to another one run after it.
  const order = [...spec.strategies].sort((a, b) =>
    a.matchComputeOf === b.label ? 1 : b.matchComputeOf === a.label ? -1 : 0,
  );
  const cells: CellPlan[] = [];
  for (const [taskIndex, task] of tasks.entries()) {
    for (const [budgetIndex, budget] of budgets.entries()) {
      for (const seed of config.seeds) {
        for (const st of order) {
          cells.push({
            key: cellKey(st.label, task.name, budgetLabel(budget), seed),
            label: st.label,
            task,
            budget,
            budgetLabel: budgetLabel(budget),
            seed,
            taskIndex,
            budgetIndex,
          });
        }
      }
    }
  }
  return cells;
}

function cellKey(label: string, task: string, budget: string, seed: number): string {
  return `${label}|${task}|${budget}|${seed}`;
}

/** The key of the cell whose search compute `cell` must match, if its strategy matches one. */
export function matchedCellKey(cell: CellPlan, st: CompareStrategy): string | undefined {
  return st.matchComputeOf !== undefined
    ? cellKey(st.matchComputeOf, cell.task.name, cell.budgetLabel, cell.seed)
    : undefined;
}

/**
 * The id of a cell's job: the comparison's id and the cell's key, hashed into characters every
 * queue accepts. The same cell of the same comparison always gets the same id, so an executor that
 * is handed it twice (a coordinator resumed after a crash) runs it once.
 */
export function cellJobId(compareId: string, cell: CellPlan): string {
  const h = createHash('sha256').update(`${compareId}\n${cell.key}`).digest('hex').slice(0, 20);
  return `cell-${h}`;
}

/** The run configuration of one cell (`computeSteps`: the search compute matched to another cell). */
export function cellConfig(
  config: RunConfig,
  st: CompareStrategy,
  cell: CellPlan,
  dir: string,
  computeSteps?: number,
): RunConfig {
  const strategy: ComponentRef =
    computeSteps !== undefined
      ? { name: st.strategy.name, options: { ...(st.strategy.options ?? {}), computeSteps } }
      : st.strategy;
  return {
    ...config,
    task: cell.task,
    budget: cell.budget,
    strategy,
    ...(st.space ? { space: st.space } : {}),
    seeds: [cell.seed],
    recipes: {
      search: completeRecipe({ ...config.recipes.search, ...(st.recipes?.search ?? {}) }),
      retrain: completeRecipe({ ...config.recipes.retrain, ...(st.recipes?.retrain ?? {}) }),
    },
    output: { ...config.output, dir: join(dir, 'runs'), name: `${cell.label}-${cell.task.name}` },
    compare: undefined,
  };
}
