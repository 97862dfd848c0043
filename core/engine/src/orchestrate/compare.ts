/**
 * `peftkit compare --preset NAME`: every strategy of the preset's `compare:` grid on every task,
 * budget and seed, each cell a normal run directory inside one comparison directory, then
 * compare.json, compare.md and report.html.
 *
 * Before the first cell runs, the backbone, every task, budget, strategy and search space is
 * created or resolved (compare-preflight.ts), so that a bad data path fails in seconds. A cell that
 * fails anyway (a strategy that rejects a budget when its search starts) is recorded as failed in
 * cells.json with its error and the comparison goes on; the reports show it as failed and leave it
 * out of the means.
 *
 * Resumable: cells.json lists every cell and its run directory before the cell starts, so
 * `compare --resume DIR` skips finished cells, resumes an interrupted one from its checkpoint and
 * runs the rest; failed cells are run again only with `retryFailed`. A cell's run directory that
 * never reached a checkpoint is removed before the cell starts again (one directory per cell).
 * compare-meta.json keeps the preset name and the directories relative paths were written
 * against, so a resumed comparison reads the same data files.
 *
 * Fairness: every strategy of a (task, budget, seed) cell gets the same data split, backbone,
 * recipes (unless a strategy overrides them) and seed; `matchComputeOf` gives a trial strategy
 * (random search) the search compute another strategy spent on the same cell.
 */
import type { BudgetSpec, ComponentRef, Logger, Reporter } from '@peftkit/api';
import { ConfigError } from '@peftkit/api';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { ConfigPath, Origins } from '../config/origins.js';
import type { CompareStrategy, RunConfig } from '../config/types.js';
import { completeRecipe } from '../config/validate.js';
import type { Registry } from '../plugins/registry.js';
import {
  renderCompareReport,
  shortError,
  summariseCells,
  type CompareEntry,
  type FailedCompareCell,
  compareMarkdown,
} from '../report/compare-report.js';
import type { RunResult } from '../report/result.js';
import { RunDir, runStamp } from '../run/rundir.js';
import { toJsonText, writeFileAtomic } from '../util/fs.js';
import { comparedSpacePath, comparedTaskPath, preflightCompare } from './compare-preflight.js';
import { componentBaseDirs, runOne } from './run.js';

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
  /** With `resume`: run the cells that failed before again (default: keep them as failed). */
  retryFailed?: boolean;
  /** Where the configuration's values were written (the checks before the first cell name them). */
  origins?: Origins;
}

interface CellPlan {
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
  /** `done` once result.json is written; `failed` with the error when the run threw. */
  status?: 'done' | 'failed';
  error?: string;
  failedAt?: string;
}

/** compare-meta.json: what a resumed comparison needs besides its configuration. */
interface CompareMeta {
  preset: string | null;
  /** Directory that relative paths at each configuration path (JSON of the path) are resolved against. */
  baseDirs: Record<string, string>;
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
  for (const [taskIndex, task] of tasks.entries()) {
    for (const [budgetIndex, budget] of budgets.entries()) {
      for (const seed of config.seeds) {
        for (const st of order) {
          cells.push({
            key: `${st.label}|${task.name}|${budgetLabel(budget)}|${seed}`,
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
  /** Every cell: finished (`status: 'done'`) or failed (`status: 'failed'`, with its error). */
  cells: CompareEntry[];
  /** The failed cells (also in `cells`). */
  failed: FailedCompareCell[];
}

/** The configuration paths whose directories a comparison records (what its cells resolve against). */
function recordedPaths(config: RunConfig): ConfigPath[] {
  const spec = config.compare!;
  const paths: ConfigPath[] = [['backbone'], ['task'], ['backend'], ['executor'], ['space'], ['strategy']];
  (spec.tasks ?? []).forEach((_, i) => paths.push(comparedTaskPath(config, i)));
  spec.strategies.forEach((_, j) => {
    paths.push(['compare', 'strategies', j, 'strategy'], comparedSpacePath(config, j));
  });
  return paths;
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new ConfigError(`cannot read the comparison: ${(e as Error).message}`, file);
  }
}

/**
 * Remove the run directory of a cell that never reached a checkpoint, so that the cell starts over
 * in one fresh directory rather than leaving an orphan each attempt. Only directories inside the
 * comparison's runs/ and without result.json are removed.
 */
function discardRunDir(path: string, runsDir: string, log: Logger): void {
  const rel = relative(runsDir, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return;
  if (existsSync(join(path, 'result.json'))) return;
  log.debug(`removing ${path}: the cell's earlier attempt left no checkpoint`);
  rmSync(path, { recursive: true, force: true });
}

export async function runCompare(opts: CompareOptions): Promise<CompareResult> {
  let dir: string;
  let config: RunConfig;
  let cells: CellPlan[];
  let meta: CompareMeta | undefined;
  if (opts.resume) {
    dir = resolve(opts.resume);
    const file = join(dir, 'cells.json');
    if (!existsSync(file)) throw new ConfigError('not a comparison directory (no cells.json)', dir);
    config = readJson<RunConfig>(join(dir, 'compare-config.json'));
    cells = readJson<CellPlan[]>(file);
    if (existsSync(join(dir, 'compare-meta.json')))
      meta = readJson<CompareMeta>(join(dir, 'compare-meta.json'));
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
  }
  const spec = config.compare!;
  const tasks = spec.tasks ?? [config.task];
  const budgets = spec.budgets ?? (config.budget ? [config.budget] : []);
  const preset = meta?.preset ?? opts.preset;
  const baseOf = (path: ConfigPath): string =>
    meta?.baseDirs[JSON.stringify(path)] ?? opts.baseDirFor?.([...path]) ?? process.cwd();
  const strategyIndex = (label: string) => spec.strategies.findIndex((s) => s.label === label);
  // Cells of cells.json written before the indices were recorded find theirs by value.
  const indexIn = <T>(list: readonly T[], match: (x: T) => boolean) => Math.max(0, list.findIndex(match));
  const taskIndexOf = (cell: CellPlan) =>
    cell.taskIndex ?? indexIn(tasks, (t) => JSON.stringify(t) === JSON.stringify(cell.task));
  const budgetIndexOf = (cell: CellPlan) =>
    cell.budgetIndex ?? indexIn(budgets, (b) => budgetLabel(b) === cell.budgetLabel);
  const finished = (cell: CellPlan) => cell.dir !== undefined && existsSync(join(cell.dir, 'result.json'));
  const pending = cells.filter((c) => !finished(c) && (c.status !== 'failed' || opts.retryFailed === true));

  // Everything the cells to run need is created once now: a bad path fails before any cell runs.
  if (pending.length > 0) {
    const unique = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);
    await preflightCompare({
      config,
      registry: opts.registry,
      log: opts.log,
      baseDirFor: baseOf,
      origins: opts.origins,
      scope: {
        tasks: unique(pending.map(taskIndexOf)),
        strategies: unique(pending.map((c) => strategyIndex(c.label))),
        budgets: unique(pending.map(budgetIndexOf)),
      },
    });
  }

  if (!opts.resume) {
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(join(dir, 'compare-config.json'), `${toJsonText(config, 2)}\n`);
    meta = {
      preset: opts.preset,
      baseDirs: Object.fromEntries(recordedPaths(config).map((p) => [JSON.stringify(p), baseOf(p)])),
    };
    writeFileAtomic(join(dir, 'compare-meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  }
  const saveCells = () => writeFileAtomic(join(dir, 'cells.json'), `${JSON.stringify(cells, null, 2)}\n`);
  saveCells();
  const runsDir = join(dir, 'runs');
  const strategies = new Map(spec.strategies.map((s) => [s.label, s]));
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
    if (finished(cell)) {
      results.set(cell.key, JSON.parse(readFileSync(join(cell.dir!, 'result.json'), 'utf8')) as RunResult);
      if (cell.status !== 'done') {
        cell.status = 'done';
        delete cell.error;
        delete cell.failedAt;
        saveCells();
      }
      note('done earlier');
      continue;
    }
    if (cell.status === 'failed' && !opts.retryFailed) {
      note(`failed earlier: ${shortError(cell.error ?? '')}`);
      continue;
    }
    let runDir: RunDir | undefined;
    try {
      let computeSteps: number | undefined;
      if (st.matchComputeOf) {
        const ref = results.get(`${st.matchComputeOf}|${cell.task.name}|${cell.budgetLabel}|${cell.seed}`);
        if (!ref)
          throw new Error(
            `the ${st.matchComputeOf} run whose search compute this cell matches did not finish (it failed)`,
          );
        computeSteps = Math.max(1, ref.searchCompute.gradientJobs + ref.searchCompute.trainSteps);
      }
      const cfg = cellConfig(config, st, cell, dir, computeSteps);
      let resuming = false;
      if (cell.dir && existsSync(cell.dir)) {
        try {
          runDir = RunDir.open(cell.dir);
          resuming = runDir.loadCheckpoint() !== undefined;
        } catch (e) {
          opts.log.debug(`${cell.dir}: ${(e as Error).message}`);
          runDir = undefined;
        }
        if (!resuming) {
          // Started (or failed) but never checkpointed: start over in a fresh directory.
          discardRunDir(cell.dir, runsDir, opts.log);
          runDir = undefined;
        }
      }
      const j = strategyIndex(cell.label);
      const ti = taskIndexOf(cell);
      const cellBaseDirFor = (path: (string | number)[]): string => {
        if (path.length === 1 && path[0] === 'task') return baseOf(comparedTaskPath(config, ti));
        if (path.length === 1 && path[0] === 'strategy')
          return baseOf(['compare', 'strategies', j, 'strategy']);
        if (path.length === 1 && path[0] === 'space') return baseOf(comparedSpacePath(config, j));
        return baseOf(path);
      };
      // The cell's directory is a run like any other: `search --resume`, `eval` and `export` work on it.
      runDir ??= RunDir.create(cfg.output.dir, cfg.output.name, cell.seed, cfg, new Date(), {
        command: 'search',
        baseDirs: componentBaseDirs(cellBaseDirFor),
      });
      cell.dir = runDir.path;
      delete cell.status;
      delete cell.error;
      delete cell.failedAt;
      saveCells();
      note(resuming ? 'resuming' : 'running');
      // No origins for a cell's components: its config puts compare.tasks[i] etc. at `task`.
      const finishedRun = await runOne(
        { ...opts, origins: undefined, preset, config: cfg, command: 'search', baseDirFor: cellBaseDirFor },
        cell.seed,
        runDir,
        resuming,
      );
      results.set(cell.key, finishedRun.result);
      cell.status = 'done';
      saveCells();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      cell.status = 'failed';
      cell.error = message;
      cell.failedAt = new Date().toISOString();
      saveCells();
      opts.log.warn(
        `run ${i + 1}/${cells.length} (${cell.label}, ${cell.task.name}, ${cell.budgetLabel}, seed ${cell.seed}) failed; the comparison goes on: ${message}`,
      );
      note(`failed: ${shortError(message)}`);
    } finally {
      // runOne closes its directory, except when it fails before its components exist.
      runDir?.close();
    }
  }
  const out: CompareEntry[] = cells.map((c): CompareEntry => {
    const r = results.get(c.key);
    const common = {
      label: c.label,
      strategy: strategies.get(c.label)!.strategy.name,
      task: c.task.name,
      budget: c.budgetLabel,
      seed: c.seed,
    };
    if (!r) {
      return {
        status: 'failed',
        ...common,
        budgetParams: null,
        dir: c.dir ?? null,
        error: c.error ?? 'the run did not finish',
      };
    }
    return {
      status: 'done',
      ...common,
      budgetParams: r.budget?.params ?? null,
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
  const failed = out.filter((c): c is FailedCompareCell => c.status === 'failed');
  const summary = summariseCells(out);
  writeFileAtomic(
    join(dir, 'compare.json'),
    `${JSON.stringify({ preset, cells: out, summary, failed }, null, 2)}\n`,
  );
  writeFileAtomic(join(dir, 'compare.md'), compareMarkdown(out, summary, preset));
  writeFileAtomic(join(dir, 'report.html'), renderCompareReport(out, summary, preset));
  return { dir, cells: out, failed };
}
