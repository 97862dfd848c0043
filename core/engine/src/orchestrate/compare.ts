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
 * Cells run where the configured executor puts them (cell-execution.ts): here, one after another,
 * by default; on workers that take them from a queue with `bullmq`. Either way this coordinator
 * plans the cells, creates their run directories, writes cells.json (with each pending cell's
 * state: queued, or running on which worker) and, at the end, the reports.
 *
 * Fairness: every strategy of a (task, budget, seed) cell gets the same data split, backbone,
 * recipes (unless a strategy overrides them) and seed; `matchComputeOf` gives a trial strategy
 * (random search) the search compute another strategy spent on the same cell.
 */
import type { CellStatus, Logger, Reporter } from '@peftkit/api';
import { ConfigError } from '@peftkit/api';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import type { ConfigPath, Origins } from '../config/origins.js';
import type { RunConfig } from '../config/types.js';
import type { Registry } from '../plugins/registry.js';
import { shortError, type CompareEntry, type FailedCompareCell } from '../report/compare-report.js';
import type { RunResult } from '../report/result.js';
import { InterruptedError } from '../run/interrupt.js';
import { DirLock } from '../run/lock.js';
import { RunDir, runStamp } from '../run/rundir.js';
import { makeDirs, toJsonText, writeFileAtomic } from '../util/fs.js';
import {
  LocalCellExecution,
  RemoteCellExecution,
  type CellExecution,
  type CellTask,
} from './cell-execution.js';
import { collectEntries, writeCompareReports } from './compare-collect.js';
import {
  budgetLabel,
  cellConfig,
  cellJobId,
  gridAxes,
  matchedCellKey,
  planCells,
  type CellPlan,
} from './compare-plan.js';
import { comparedSpacePath, comparedTaskPath, preflightCompare } from './compare-preflight.js';
import { componentBaseDirs, pluginsOf, type RunOptions } from './run.js';

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

/** compare-meta.json: what a resumed comparison needs besides its configuration. */
interface CompareMeta {
  /** The comparison's id: with a cell's key, the id of the cell's job (older comparisons: none). */
  id?: string;
  preset: string | null;
  /** Directory that relative paths at each configuration path (JSON of the path) are resolved against. */
  baseDirs: Record<string, string>;
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

/** The configured executor's CellRunner, or this process. */
async function openCellExecution(
  opts: CompareOptions,
  config: RunConfig,
  baseDir: string,
): Promise<CellExecution> {
  const factory = await opts.registry.create(
    'executor',
    config.executor,
    opts.registry.context({ baseDir, log: opts.log }),
  );
  return factory.cellRunner
    ? new RemoteCellExecution(factory.cellRunner(opts.log))
    : new LocalCellExecution();
}

export async function runCompare(opts: CompareOptions): Promise<CompareResult> {
  // The comparison directory is locked while this process works in it (see run/lock.ts).
  const held: { lock?: DirLock } = {};
  try {
    return await compareIn(opts, held);
  } finally {
    held.lock?.release();
  }
}

function lockComparison(dir: string): DirLock {
  return DirLock.acquire(dir, `comparison ${basename(dir)}`, 'peftkit compare', {
    resume: `peftkit compare --resume ${dir}`,
  });
}

async function compareIn(opts: CompareOptions, held: { lock?: DirLock }): Promise<CompareResult> {
  let dir: string;
  let config: RunConfig;
  let cells: CellPlan[];
  let meta: CompareMeta | undefined;
  if (opts.resume) {
    dir = resolve(opts.resume);
    const file = join(dir, 'cells.json');
    if (!existsSync(dir)) throw new ConfigError('comparison directory not found', opts.resume);
    if (!existsSync(file)) throw new ConfigError('not a comparison directory (no cells.json)', dir);
    held.lock = lockComparison(dir);
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
    cells = planCells(config);
    dir = resolve(config.output.dir, `${config.output.name}-compare-${runStamp(new Date())}`);
  }
  const spec = config.compare!;
  const { tasks, budgets } = gridAxes(config);
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
    try {
      makeDirs(dir);
    } catch (e) {
      throw new ConfigError(
        `cannot create the comparison directory ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); expected a writable directory`,
        undefined,
        'output.dir',
      );
    }
    held.lock = lockComparison(dir);
    writeFileAtomic(join(dir, 'compare-config.json'), `${toJsonText(config, 2)}\n`);
    meta = {
      id: randomUUID(),
      preset: opts.preset,
      baseDirs: Object.fromEntries(recordedPaths(config).map((p) => [JSON.stringify(p), baseOf(p)])),
    };
    writeFileAtomic(join(dir, 'compare-meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  }
  const compareId = meta?.id ?? basename(dir);
  const saveCells = () => writeFileAtomic(join(dir, 'cells.json'), `${JSON.stringify(cells, null, 2)}\n`);
  saveCells();
  const runsDir = join(dir, 'runs');
  const strategies = new Map(spec.strategies.map((s) => [s.label, s]));
  const results = new Map<string, RunResult>();
  const byKey = new Map(cells.map((c) => [c.key, c]));
  const note = (i: number, cell: CellPlan, status: string) => {
    for (const r of opts.reporters)
      r.onEvent({
        type: 'compare-cell',
        cell: i + 1,
        of: cells.length,
        label: cell.label,
        task: cell.task.name,
        budget: cell.budgetLabel,
        seed: cell.seed,
        status,
      });
  };

  // A coordinator killed between creating a cell's run directory and recording it in cells.json
  // left a directory no cell names: remove it (the cell gets a new one).
  if (opts.resume && existsSync(runsDir)) {
    const named = new Set(cells.map((c) => c.dir));
    for (const name of readdirSync(runsDir))
      if (!named.has(join(runsDir, name))) discardRunDir(join(runsDir, name), runsDir, opts.log);
  }

  // Cells that finished or failed before (a resumed comparison) are settled first.
  const toRun: number[] = [];
  for (const [i, cell] of cells.entries()) {
    if (finished(cell)) {
      results.set(cell.key, JSON.parse(readFileSync(join(cell.dir!, 'result.json'), 'utf8')) as RunResult);
      if (cell.status !== 'done') {
        cell.status = 'done';
        delete cell.worker;
        delete cell.error;
        delete cell.failedAt;
        saveCells();
      }
      note(i, cell, 'done earlier');
    } else if (cell.status === 'failed' && !opts.retryFailed) {
      note(i, cell, `failed earlier: ${shortError(cell.error ?? '')}`);
    } else toRun.push(i);
  }

  const recordFailure = (i: number, cell: CellPlan, message: string) => {
    cell.status = 'failed';
    cell.error = message;
    cell.failedAt = new Date().toISOString();
    saveCells();
    opts.log.warn(
      `run ${i + 1}/${cells.length} (${cell.label}, ${cell.task.name}, ${cell.budgetLabel}, seed ${cell.seed}) failed; the comparison goes on: ${message}`,
    );
    note(i, cell, `failed: ${shortError(message)}`);
  };

  /** Run one cell through `execution`; records its outcome in cells.json and never throws. */
  const runCell = async (execution: CellExecution, i: number): Promise<void> => {
    const cell = cells[i]!;
    const st = strategies.get(cell.label)!;
    let runDir: RunDir | undefined;
    let task: CellTask | undefined;
    try {
      let computeSteps: number | undefined;
      const refKey = matchedCellKey(cell, st);
      if (refKey !== undefined) {
        const ref = results.get(refKey);
        if (!ref)
          throw new Error(
            `the ${st.matchComputeOf} run whose search compute this cell matches did not finish (it failed)`,
          );
        computeSteps = Math.max(1, ref.searchCompute.gradientJobs + ref.searchCompute.trainSteps);
      }
      const remote = execution instanceof RemoteCellExecution;
      const cellCfg = cellConfig(config, st, cell, dir, computeSteps);
      // A cell that runs elsewhere runs its own jobs there, in that process.
      const cfg: RunConfig = remote ? { ...cellCfg, executor: { name: 'local' } } : cellCfg;
      let resuming = false;
      if (cell.dir && existsSync(cell.dir)) {
        try {
          runDir = RunDir.open(cell.dir);
          resuming = !remote && runDir.loadCheckpoint() !== undefined;
        } catch (e) {
          opts.log.debug(`${cell.dir}: ${(e as Error).message}`);
          runDir = undefined;
        }
        if (!resuming && !remote) {
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
      const baseDirs = componentBaseDirs(cellBaseDirFor);
      // The cell's directory is a run like any other: `search --resume`, `eval` and `export` work on it.
      runDir ??= RunDir.create(cfg.output.dir, cfg.output.name, cell.seed, cfg, new Date(), {
        command: 'search',
        baseDirs,
      });
      cell.dir = runDir.path;
      cell.status = remote ? 'queued' : 'running';
      delete cell.worker;
      delete cell.error;
      delete cell.failedAt;
      saveCells();
      note(i, cell, resuming ? 'resuming' : cell.status);
      // No origins for a cell's components: its config puts compare.tasks[i] etc. at `task`.
      const runOptions: RunOptions = {
        ...opts,
        origins: undefined,
        preset,
        config: cfg,
        command: 'search',
        baseDirFor: cellBaseDirFor,
      };
      task = {
        spec: {
          id: cellJobId(compareId, cell),
          title: `${cell.label}, ${cell.task.name}, ${cell.budgetLabel}, seed ${cell.seed}`,
          config: JSON.parse(JSON.stringify({ ...cfg, plugins: [] })) as Record<string, unknown>,
          baseDirs,
          seed: cell.seed,
          preset,
          plugins: pluginsOf(opts.registry, cfg),
        },
        runDir,
        resuming,
        retryFailed: opts.retryFailed === true,
        runOptions,
      };
      const onStatus = (s: CellStatus) => {
        if (s.state === cell.status && s.worker === cell.worker) return;
        cell.status = s.state;
        if (s.worker) cell.worker = s.worker;
        else delete cell.worker;
        saveCells();
        note(i, cell, s.state === 'running' && s.worker ? `running on ${s.worker}` : s.state);
      };
      const { result, worker } = await execution.run(task, onStatus);
      results.set(cell.key, result);
      cell.status = 'done';
      if (worker) cell.worker = worker;
      saveCells();
      if (remote) note(i, cell, `done on ${cell.worker ?? 'a worker'}`);
    } catch (e) {
      if (e instanceof InterruptedError) throw e; // not a failed cell: the comparison stops
      recordFailure(i, cell, e instanceof Error ? e.message : String(e));
    } finally {
      // runOne closes its directory, except when it fails before its components exist.
      runDir?.close();
    }
    if (task)
      await execution
        .settled(task)
        .catch((e) => opts.log.debug(`forgetting cell ${cell.key}: ${(e as Error).message}`));
  };

  if (toRun.length > 0) {
    const execution = await openCellExecution(opts, config, baseOf(['executor']));
    try {
      // A cell is ready once the cell whose compute it matches has settled; cells start in plan
      // order as long as the execution has free slots.
      const settled = (key: string) => {
        const c = byKey.get(key);
        return !c || results.has(key) || c.status === 'failed';
      };
      const waiting = [...toRun];
      const running = new Set<Promise<void>>();
      while (waiting.length > 0 || running.size > 0) {
        for (let k = 0; k < waiting.length && running.size < execution.slots;) {
          const i = waiting[k]!;
          const refKey = matchedCellKey(cells[i]!, strategies.get(cells[i]!.label)!);
          if (refKey !== undefined && !settled(refKey)) {
            k++;
            continue;
          }
          waiting.splice(k, 1);
          const p: Promise<void> = runCell(execution, i).finally(() => running.delete(p));
          running.add(p);
        }
        if (running.size > 0) await Promise.race(running);
        else if (waiting.length > 0) {
          // Only a cell matching the compute of a cell that never ran is left: it cannot run.
          for (const i of waiting.splice(0)) recordFailure(i, cells[i]!, 'the cell it depends on never ran');
        }
      }
    } finally {
      await execution.dispose();
    }
  }
  const out = collectEntries(cells, results, strategies);
  const failed = writeCompareReports(dir, out, preset);
  return { dir, cells: out, failed };
}
