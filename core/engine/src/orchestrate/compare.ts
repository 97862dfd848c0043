/**
 * `peftkit compare --preset NAME`: every strategy of the preset's `compare:` grid on every task,
 * budget and seed, each cell a normal run directory inside one comparison directory, then
 * compare.json, compare.md and report.html.
 *
 * Resumable: cells.json lists every cell and its run directory before the cell starts, so
 * `compare --resume DIR` skips finished cells, resumes an interrupted one from its checkpoint and
 * runs the rest. Fairness: every strategy of a (task, budget, seed) cell gets the same data split,
 * backbone, recipes (unless a strategy overrides them) and seed; `matchComputeOf` gives a trial
 * strategy (random search) the search compute another strategy spent on the same cell.
 */
import type { BudgetSpec, ComponentRef, Logger, Reporter } from '@peftkit/api';
import { ConfigError } from '@peftkit/api';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CompareStrategy, RunConfig } from '../config/types.js';
import { completeRecipe } from '../config/validate.js';
import type { Registry } from '../plugins/registry.js';
import {
  renderCompareReport,
  summariseCells,
  type CompareCell,
  compareMarkdown,
} from '../report/compare-report.js';
import type { RunResult } from '../report/result.js';
import { RunDir, runStamp } from '../run/rundir.js';
import { toJsonText, writeFileAtomic } from '../util/fs.js';
import { runOne } from './run.js';

export interface CompareOptions {
  config: RunConfig;
  registry: Registry;
  preset: string | null;
  reporters: readonly Reporter[];
  log: Logger;
  checkpointSeconds?: number;
  baseDirFor?: (path: (string | number)[]) => string;
  /** A comparison directory to continue. */
  resume?: string;
}

interface CellPlan {
  key: string;
  label: string;
  task: ComponentRef;
  budget: BudgetSpec;
  budgetLabel: string;
  seed: number;
  dir?: string;
}

export function budgetLabel(b: BudgetSpec): string {
  return b.params !== undefined ? `${b.params} params` : `ratio ${b.ratio}`;
}

function plan(config: RunConfig): CellPlan[] {
  const spec = config.compare!;
  const tasks = spec.tasks ?? [config.task];
  const budgets = spec.budgets ?? (config.budget ? [config.budget] : []);
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
  for (const task of tasks) {
    for (const budget of budgets) {
      for (const seed of config.seeds) {
        for (const st of order) {
          cells.push({
            key: `${st.label}|${task.name}|${budgetLabel(budget)}|${seed}`,
            label: st.label,
            task,
            budget,
            budgetLabel: budgetLabel(budget),
            seed,
          });
        }
      }
    }
  }
  return cells;
}

function cellConfig(
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
    output: { dir: join(dir, 'runs'), name: `${cell.label}-${cell.task.name}` },
    compare: undefined,
  };
}

export interface CompareResult {
  dir: string;
  cells: CompareCell[];
}

export async function runCompare(opts: CompareOptions): Promise<CompareResult> {
  let dir: string;
  let config: RunConfig;
  let cells: CellPlan[];
  if (opts.resume) {
    dir = resolve(opts.resume);
    const file = join(dir, 'cells.json');
    if (!existsSync(file)) throw new ConfigError('not a comparison directory (no cells.json)', dir);
    config = JSON.parse(readFileSync(join(dir, 'compare-config.json'), 'utf8')) as RunConfig;
    cells = JSON.parse(readFileSync(file, 'utf8')) as CellPlan[];
  } else {
    config = opts.config;
    if (!config.compare)
      throw new ConfigError(
        'the preset has no compare: section (strategies, tasks, budgets)',
        undefined,
        'compare',
      );
    cells = plan(config);
    dir = resolve(config.output.dir, `${config.output.name}-compare-${runStamp(new Date())}`);
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(join(dir, 'compare-config.json'), `${toJsonText(config, 2)}\n`);
  }
  const saveCells = () => writeFileAtomic(join(dir, 'cells.json'), `${JSON.stringify(cells, null, 2)}\n`);
  saveCells();
  const strategies = new Map(config.compare!.strategies.map((s) => [s.label, s]));
  const results = new Map<string, RunResult>();
  for (const [i, cell] of cells.entries()) {
    const st = strategies.get(cell.label)!;
    const note = (m: string) => {
      for (const r of opts.reporters)
        r.onEvent({
          type: 'compare-cell',
          cell: i + 1,
          of: cells.length,
          label: cell.label,
          task: cell.task.name,
          budget: cell.budgetLabel,
          seed: cell.seed,
          status: m,
        });
    };
    if (cell.dir && existsSync(join(cell.dir, 'result.json'))) {
      results.set(cell.key, JSON.parse(readFileSync(join(cell.dir, 'result.json'), 'utf8')) as RunResult);
      note('done earlier');
      continue;
    }
    let computeSteps: number | undefined;
    if (st.matchComputeOf) {
      const ref = results.get(`${st.matchComputeOf}|${cell.task.name}|${cell.budgetLabel}|${cell.seed}`);
      if (!ref) throw new Error(`cell ${cell.key}: the run of ${st.matchComputeOf} it matches has no result`);
      computeSteps = Math.max(1, ref.searchCompute.gradientJobs + ref.searchCompute.trainSteps);
    }
    const cfg = cellConfig(config, st, cell, dir, computeSteps);
    const command = 'search';
    let runDir: RunDir;
    let resuming = false;
    if (cell.dir) {
      runDir = RunDir.open(cell.dir);
      resuming = runDir.loadCheckpoint() !== undefined;
      if (!resuming) {
        // Started but never checkpointed: start over in a fresh directory.
        runDir = RunDir.create(cfg.output.dir, cfg.output.name, cell.seed, cfg);
      }
    } else {
      runDir = RunDir.create(cfg.output.dir, cfg.output.name, cell.seed, cfg);
    }
    cell.dir = runDir.path;
    saveCells();
    note(resuming ? 'resuming' : 'running');
    const finished = await runOne({ ...opts, config: cfg, command }, cell.seed, runDir, resuming);
    results.set(cell.key, finished.result);
  }
  const out: CompareCell[] = cells.map((c) => {
    const r = results.get(c.key)!;
    return {
      label: c.label,
      strategy: strategies.get(c.label)!.strategy.name,
      task: c.task.name,
      budget: c.budgetLabel,
      budgetParams: r.budget?.params ?? null,
      seed: c.seed,
      dir: c.dir!,
      metrics: r.metrics,
      primaryMetric: r.task.metrics[0] ?? 'accuracy',
      trainableParams: r.trainableParams,
      searchSeconds: r.timings.searchSeconds,
      retrainSeconds: r.timings.retrainSeconds,
      totalSeconds: r.timings.totalSeconds,
      searchCompute: r.searchCompute,
    };
  });
  const summary = summariseCells(out);
  writeFileAtomic(
    join(dir, 'compare.json'),
    `${JSON.stringify({ preset: opts.preset, cells: out, summary }, null, 2)}\n`,
  );
  writeFileSync(join(dir, 'compare.md'), compareMarkdown(out, summary, opts.preset));
  writeFileSync(join(dir, 'report.html'), renderCompareReport(out, summary, opts.preset));
  return { dir, cells: out };
}
