/**
 * Run events: what the engine journals and reporters display. Extension points `reporter` and
 * `executor` live here too, since both are driven by the engine.
 */
import type { Job, JobResult } from './strategy.js';

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

/** Extension point `executor`: runs jobs; the local one runs them in this process. */
export interface Executor {
  run(jobs: readonly Job[], onEvent: (event: RunEvent) => void): Promise<JobResult[]>;
  dispose(): Promise<void>;
}
