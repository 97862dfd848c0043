/**
 * The `bullmq` executor factory. Comparison cells (whole runs) go to workers through the queue
 * (`cellRunner`, `serveCells`); the jobs inside one run (BIPEFT's gradient steps, a trial's
 * training) stay in the process that runs it, one after another, as with `local`.
 */
import type {
  CellRunner,
  CellWorker,
  CellWorkerContext,
  Executor,
  ExecutorContext,
  ExecutorFactory,
  Job,
  JobResult,
  Logger,
  RunEvent,
} from '@peftkit/api';
import { BullmqCellRunner } from './cell-runner.js';
import { serveCells } from './cell-worker.js';
import { checkRedisUrl, type BullmqOptions } from './options.js';

export class BullmqExecutorFactory implements ExecutorFactory {
  constructor(private readonly options: BullmqOptions) {
    checkRedisUrl(options.url, options.insecure);
  }

  open(ctx: ExecutorContext): Executor {
    return {
      run: async (jobs: readonly Job[], onEvent: (e: RunEvent) => void): Promise<JobResult[]> => {
        const results: JobResult[] = [];
        for (const job of jobs) results.push(await ctx.runLocal(job, onEvent));
        return results;
      },
      dispose: async () => {},
    };
  }

  cellRunner(log: Logger): CellRunner {
    return new BullmqCellRunner(this.options, log);
  }

  serveCells(ctx: CellWorkerContext): Promise<CellWorker> {
    return serveCells(this.options, ctx);
  }
}
