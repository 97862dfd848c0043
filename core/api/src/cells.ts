/**
 * Comparison cells as self-contained jobs, so that an executor can run them in other processes or
 * on other machines. The engine plans the cells, writes every directory and report, and runs a cell
 * in this process unless the configured executor offers a `CellRunner`; a worker process (`peftkit
 * worker`) serves cells through the executor's `serveCells`, with the engine's `runCell`.
 */
import type { RunEvent } from './events.js';
import type { JobResult, Logger, TrainJob } from './strategy.js';

/** Everything a process needs to rebuild a run's workbench from scratch. Plain JSON. */
export interface RunSpec {
  /** The resolved run configuration, validated by the coordinator; `plugins` is empty. */
  config: Record<string, unknown>;
  /** Absolute directory each component's relative paths resolve against, by config field. */
  baseDirs: Record<string, string>;
  seed: number;
  /** Package names of the plugins the configuration loaded besides the built-ins: a worker must load each itself. */
  plugins: string[];
}

/** Everything a process needs to run one comparison cell from scratch. Plain JSON. */
export interface CellSpec extends RunSpec {
  /**
   * Stable for the cell across deliveries, retries and coordinator restarts (the comparison's id
   * and the cell's key), so a cell delivered twice gives one result: executors use it as job id.
   */
  id: string;
  /** For people: strategy label, task, budget and seed. */
  title: string;
  /** The preset the comparison came from (recorded in result.json). */
  preset: string | null;
}

/**
 * One search trial (a train job of a random-search or AutoPEFT-style strategy) with the run it
 * belongs to, so that another process can rebuild the run's workbench and train it there. Plain
 * JSON: the job holds no typed arrays.
 */
export interface TrialSpec {
  /** Stable for the trial across deliveries and coordinator restarts (the run's id and the job's content). */
  id: string;
  /** For people: the run and the job's id. */
  title: string;
  run: RunSpec;
  job: TrainJob;
}

/** A trial's outcome: the train job's result and the run events it emitted (progress lines left out). */
export interface TrialOutput {
  result: JobResult;
  events: RunEvent[];
}

/** A finished cell: its run directory's files, written by the coordinator (result.json last). */
export interface CellOutput {
  /** File name in the run directory (`result.json`, `architecture.json`, ...) to its bytes. */
  files: Record<string, Uint8Array>;
  /** Which worker ran it. */
  worker: string;
}

/** Where a cell is, as reported by a `CellRunner`. */
export interface CellStatus {
  state: 'queued' | 'running';
  /** The worker running it (`running`). */
  worker?: string;
}

/**
 * Runs comparison cells elsewhere. `run` is called for every cell that is ready, without waiting
 * for earlier ones; it resolves with the cell's output or rejects with an Error whose message
 * says why the cell failed. Calling `run` again with the same `CellSpec.id` (after a coordinator
 * restart) re-attaches to the cell rather than running it twice.
 */
export interface CellRunner {
  /** `retryFailed`: a job of this cell that failed before (in an earlier coordinator) runs again rather than reporting that failure. */
  run(
    cell: CellSpec,
    onStatus: (status: CellStatus) => void,
    opts?: { retryFailed?: boolean },
  ): Promise<CellOutput>;
  /** The cell's outcome has been written: the runner may forget it (remove the job). */
  settled(cellId: string): Promise<void>;
  dispose(): Promise<void>;
}

/** What a worker serves cells with: the engine's cell runner over the worker's own plugins. */
export interface CellWorkerContext {
  /** Run a cell in this process; rejects when its configuration names components this worker lacks. */
  runCell(cell: CellSpec, log: Logger): Promise<Omit<CellOutput, 'worker'>>;
  /** Run a search trial in this process (rejects like `runCell`); workbenches are kept for the next trial of the same run. */
  runTrial(trial: TrialSpec, log: Logger): Promise<TrialOutput>;
  log: Logger;
}

/** A serving worker. */
export interface CellWorker {
  /** Stop taking cells and trials, finish (or give back) the current ones, disconnect. */
  close(): Promise<void>;
}
