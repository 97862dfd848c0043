/**
 * Where a comparison's cells run. The coordinator (compare.ts) creates each cell's run directory
 * and hands the cell to a CellExecution:
 *
 *   local   runOne in this process, in that directory, one cell at a time; an interrupted cell
 *           resumes from its checkpoint.
 *   remote  the configured executor's CellRunner (`bullmq`: a queue that workers take cells
 *           from); the cell's files come back and are written here, result.json last.
 *
 * Either way only the coordinator writes the comparison's directory.
 */
import type { CellRunner, CellSpec, CellStatus } from '@peftkit/api';
import { join } from 'node:path';
import type { RunResult } from '../report/result.js';
import type { RunDir } from '../run/rundir.js';
import { TensorboardLog } from '../tensorboard/run-log.js';
import { writeFileAtomic } from '../util/fs.js';
import { runOne, type RunOptions } from './run.js';

/** One cell to run: its self-contained spec, and its run directory here. */
export interface CellTask {
  spec: CellSpec;
  runDir: RunDir;
  /** The directory holds a checkpoint to continue from (local execution only). */
  resuming: boolean;
  /** A job of this cell that failed in an earlier attempt runs again (`compare --resume --retry-failed`). */
  retryFailed?: boolean;
  /** How to run it in this process. */
  runOptions: RunOptions;
}

export interface CellExecution {
  /** How many cells the coordinator hands over at once. */
  readonly slots: number;
  /** Run the cell; its run directory holds result.json when this resolves (`worker`: where it ran, if elsewhere). */
  run(
    task: CellTask,
    onStatus: (status: CellStatus) => void,
  ): Promise<{ result: RunResult; worker?: string }>;
  /** The cell's outcome is recorded in cells.json. */
  settled(task: CellTask): Promise<void>;
  dispose(): Promise<void>;
}

/** Runs cells in this process, one after another. */
export class LocalCellExecution implements CellExecution {
  readonly slots = 1;

  async run(task: CellTask): Promise<{ result: RunResult }> {
    return { result: (await runOne(task.runOptions, task.spec.seed, task.runDir, task.resuming)).result };
  }

  async settled(): Promise<void> {}
  async dispose(): Promise<void> {}
}

/** The files a cell's output may hold; result.json is written last (after TensorBoard's log) because it marks the run finished. */
export const CELL_FILES = [
  'journal.jsonl',
  'architecture.json',
  'model.safetensors',
  'predictions.json',
  'report.html',
  'result.json',
] as const;

/** Hands every ready cell to an executor's CellRunner and writes what comes back. */
export class RemoteCellExecution implements CellExecution {
  readonly slots = Number.POSITIVE_INFINITY;

  constructor(private readonly runner: CellRunner) {}

  async run(
    task: CellTask,
    onStatus: (status: CellStatus) => void,
  ): Promise<{ result: RunResult; worker: string }> {
    const { files, worker } = await this.runner.run(task.spec, onStatus, {
      retryFailed: task.retryFailed === true,
    });
    const unknown = Object.keys(files).filter((f) => !(CELL_FILES as readonly string[]).includes(f));
    if (unknown.length > 0)
      throw new Error(`the cell's output holds files a run does not write: ${unknown.join(', ')}`);
    const resultBytes = files['result.json'];
    if (!resultBytes) throw new Error('the cell finished without result.json');
    let result: RunResult;
    try {
      result = JSON.parse(new TextDecoder().decode(resultBytes)) as RunResult;
    } catch (e) {
      throw new Error(`the cell's result.json is not JSON: ${(e as Error).message}`);
    }
    task.runDir.close();
    // result.json marks the cell finished, so it is written last, after every other artefact
    // (TensorBoard's log included): a coordinator killed before it leaves a cell that a resumed
    // comparison runs again (re-attaching to the finished job) and whose files it writes again.
    for (const name of CELL_FILES) {
      const data = files[name];
      if (data && name !== 'result.json') writeFileAtomic(join(task.runDir.path, name), data);
    }
    // The worker's TensorBoard log stays there; the coordinator's copy is made from the journal
    // (replacing the event files an earlier, killed attempt left).
    if (task.runOptions.config.output.tensorboard !== false && files['journal.jsonl'])
      TensorboardLog.open(
        task.runDir.file('tensorboard'),
        task.runDir.info.startedAt,
        task.runDir.readJournal().records,
      ).close();
    writeFileAtomic(task.runDir.file('result.json'), resultBytes);
    return { result, worker };
  }

  async settled(task: CellTask): Promise<void> {
    await this.runner.settled(task.spec.id);
  }

  async dispose(): Promise<void> {
    await this.runner.dispose();
  }
}
