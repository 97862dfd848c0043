/**
 * The `bullmq` executor factory. Comparison cells (whole runs) and search trials (a random-search
 * or AutoPEFT-style strategy's train jobs) go to workers through the queue (`cellRunner`, `open`,
 * `serveCells`); BIPEFT's gradient and evaluate jobs stay in the process that runs the run. A run
 * opened without its RunSpec (a test harness) runs every job here, as `local` does.
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
import { checkTls, readCa } from './tls.js';
import { BullmqTrialExecutor } from './trial-executor.js';

export class BullmqExecutorFactory implements ExecutorFactory {
  /** `ca`: the PEM text of options.tls.ca (read by `create`). */
  constructor(
    private readonly options: BullmqOptions,
    private readonly log: Logger,
    private readonly ca?: string,
  ) {
    checkRedisUrl(options.url, options.insecure);
  }

  /** The factory of the `bullmq` contribution: the URL, the CA file and (rediss://) one TLS handshake checked. */
  static async create(options: BullmqOptions, log: Logger, baseDir: string): Promise<BullmqExecutorFactory> {
    const ca = readCa(options.tls, baseDir);
    const factory = new BullmqExecutorFactory(options, log, ca);
    await checkTls(options.url, ca);
    return factory;
  }

  open(ctx: ExecutorContext): Executor {
    const run = ctx.run;
    if (run) return new BullmqTrialExecutor(this.options, this.log, { ...ctx, run }, this.ca);
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
    return new BullmqCellRunner(this.options, log, this.ca);
  }

  serveCells(ctx: CellWorkerContext): Promise<CellWorker> {
    return serveCells(this.options, ctx, this.ca);
  }
}
