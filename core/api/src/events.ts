/**
 * Run events: what the engine journals and reporters display. Extension points `reporter` and
 * `executor` live here too, since both are driven by the engine.
 */
import type { CellRunner, CellWorker, CellWorkerContext, RunSpec } from './cells.js';
import type { Job, JobResult, Logger } from './strategy.js';

export interface RunEvent {
  /** `run-start`, `phase`, `progress`, `step`, `epoch`, `round`, `prune`, `freeze`, `trial`, `run-end`, ... */
  type: string;
  /** Milliseconds since the run started. */
  t?: number;
  phase?: 'search' | 'retrain' | 'evaluate';
  [key: string]: unknown;
}

/** Progress in a phase, for progress bars. */
export interface ProgressEvent extends RunEvent {
  type: 'progress';
  done: number;
  total: number;
  /** Short status: current loss/metric, parameters in use against the budget. */
  status?: string;
}

/** Extension point `reporter`: shows or records run events. Must not throw. */
export interface Reporter {
  onEvent(event: RunEvent): void;
  /** Called once when the run ends (flush, close files, clear the progress line). */
  close?(): void | Promise<void>;
}

/** Runs one job in this process (the engine's implementation, over the run's workbench). */
export type JobRunner = (job: Job, onEvent: (event: RunEvent) => void) => Promise<JobResult>;

/** What an executor is opened with. */
export interface ExecutorContext {
  /** Run a job in this process. */
  readonly runLocal: JobRunner;
  /**
   * The run's resolved configuration (plain JSON): an executor that runs jobs elsewhere rebuilds
   * the same workbench from it (same plugins, backbone, task and seed).
   */
  readonly config: unknown;
  /**
   * The run as a self-contained spec (engine runs give it): what an executor that trains search
   * trials in other processes sends with them. `id` is stable for the run across resumes.
   */
  readonly run?: RunSpec & { id: string };
}

/** Runs batches of jobs; results come back in the order of the jobs. */
export interface Executor {
  run(jobs: readonly Job[], onEvent: (event: RunEvent) => void): Promise<JobResult[]>;
  dispose(): Promise<void>;
}

/**
 * Extension point `executor`: opens an executor for a run. The built-in `local` one runs jobs in
 * order in this process. An executor that also runs whole comparison cells elsewhere offers
 * `cellRunner` (used by `peftkit compare`, which otherwise runs its cells here, one at a time) and
 * `serveCells` (used by `peftkit worker`).
 */
export interface ExecutorFactory {
  open(ctx: ExecutorContext): Executor;
  cellRunner?(log: Logger): CellRunner;
  serveCells?(ctx: CellWorkerContext): Promise<CellWorker>;
}
