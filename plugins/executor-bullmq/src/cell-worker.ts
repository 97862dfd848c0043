/**
 * The worker's side (`peftkit worker`): a BullMQ worker that takes cell jobs and trial jobs, checks
 * their size, runs each with the engine over this worker's own plugins (`runCell`: a whole run;
 * `runTrial`: one search trial on a workbench rebuilt from the trial's run), and returns the
 * outcome. A job that fails (a bad configuration, a plugin this worker lacks, a training error)
 * fails for good, with its message for the coordinator: running it again would fail the same way.
 * A worker that dies mid-job stops renewing its lock; another worker's stalled check then queues
 * the job again (`maxStalledCount` times at most).
 */
import type { CellSpec, CellWorker, CellWorkerContext, TrialSpec } from '@peftkit/api';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { hostname } from 'node:os';
import { connect } from './connection.js';
import type { BullmqOptions } from './options.js';
import {
  checkJobSize,
  encodeOutput,
  encodeTrialOutput,
  type WireOutput,
  type WireTrialOutput,
} from './wire.js';

export async function serveCells(
  options: BullmqOptions,
  ctx: CellWorkerContext,
  ca?: string,
): Promise<CellWorker> {
  const name = options.name ?? `${hostname()}-${process.pid}`;
  const redis = connect(options.url, ctx.log, `worker ${name}`, ca);
  const run = async (job: Job): Promise<WireOutput | WireTrialOutput> => {
    if (job.name === 'cell') {
      const spec = job.data as CellSpec;
      const { files } = await ctx.runCell(spec, ctx.log);
      return encodeOutput({ worker: name, files }, options.maxResultMB);
    }
    if (job.name === 'trial') {
      const out = await ctx.runTrial(job.data as TrialSpec, ctx.log);
      return encodeTrialOutput(name, out, options.maxResultMB);
    }
    throw new Error(`unknown job kind "${job.name}" (expected cell or trial)`);
  };
  const worker = new Worker(
    options.queue,
    async (job) => {
      const what = `${job.name} ${(job.data as { title?: unknown } | null)?.title ?? job.id}`;
      let out: WireOutput | WireTrialOutput;
      try {
        checkJobSize(job.data, options.maxJobMB);
        await job.updateProgress({ worker: name });
        ctx.log.info(`${name}: ${what} started`);
        out = await run(job);
      } catch (e) {
        const message = `on worker ${name}: ${e instanceof Error ? e.message : String(e)}`;
        ctx.log.warn(`${name}: ${job.name} ${job.id} failed ${message}`);
        throw new UnrecoverableError(message);
      }
      ctx.log.info(`${name}: ${what} done`);
      return out;
    },
    {
      connection: redis,
      name,
      concurrency: options.concurrency,
      lockDuration: options.lockMs,
      stalledInterval: options.stalledMs,
      maxStalledCount: options.maxStalledCount,
    },
  );
  worker.on('error', () => {}); // reported once per outage by the connection
  await worker.waitUntilReady();
  ctx.log.info(
    `worker ${name} takes cells and trials from queue ${options.queue} (concurrency ${options.concurrency})`,
  );
  return {
    close: async () => {
      await worker.close();
      redis.disconnect();
    },
  };
}
