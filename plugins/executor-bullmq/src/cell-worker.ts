/**
 * The worker's side (`peftkit worker`): a BullMQ worker that takes cell jobs, checks their size,
 * runs each with the engine's runCell over this worker's own plugins, and returns the run
 * directory's files. A cell that fails (a bad configuration, a plugin this worker lacks, a
 * training error) fails for good, with its message for the coordinator: running it again would
 * fail the same way. A worker that dies mid-cell stops renewing its lock; another worker's stalled
 * check then queues the cell again (`maxStalledCount` times at most).
 */
import type { CellSpec, CellWorker, CellWorkerContext } from '@peftkit/api';
import { UnrecoverableError, Worker } from 'bullmq';
import { hostname } from 'node:os';
import { connect } from './connection.js';
import type { BullmqOptions } from './options.js';
import { checkJobSize, encodeOutput, type WireOutput } from './wire.js';

export async function serveCells(options: BullmqOptions, ctx: CellWorkerContext): Promise<CellWorker> {
  const name = options.name ?? `${hostname()}-${process.pid}`;
  const redis = connect(options.url, ctx.log, `worker ${name}`);
  const worker = new Worker<CellSpec, WireOutput>(
    options.queue,
    async (job) => {
      let out: WireOutput;
      try {
        checkJobSize(job.data, options.maxJobMB);
        await job.updateProgress({ worker: name });
        ctx.log.info(`${name}: cell ${job.data.title ?? job.id} started`);
        const { files } = await ctx.runCell(job.data, ctx.log);
        out = encodeOutput({ worker: name, files }, options.maxResultMB);
      } catch (e) {
        const message = `on worker ${name}: ${e instanceof Error ? e.message : String(e)}`;
        ctx.log.warn(`${name}: cell ${job.id} failed ${message}`);
        throw new UnrecoverableError(message);
      }
      ctx.log.info(`${name}: cell ${job.data.title ?? job.id} done`);
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
  ctx.log.info(`worker ${name} takes cells from queue ${options.queue} (concurrency ${options.concurrency})`);
  return {
    close: async () => {
      await worker.close();
      redis.disconnect();
    },
  };
}
