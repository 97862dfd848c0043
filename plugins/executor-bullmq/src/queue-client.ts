/**
 * The coordinator's side of the queue, shared by cells and trials: a job is added under a stable
 * id (BullMQ ignores an add with an id it holds, so a coordinator that restarts and adds it again
 * re-attaches to the same job, and a job delivered twice gives one result), then looked at every
 * `pollMs` rather than waited on with events, so nothing is missed while Redis restarts: a job that
 * vanished (a Redis restarted without persistence) is added again. Finished jobs stay in Redis
 * until the caller has used the result and removes them.
 */
import type { Logger } from '@peftkit/api';
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { connect } from './connection.js';
import type { BullmqOptions } from './options.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A job that failed on a worker (its message is the worker's). */
export class JobFailedError extends Error {
  override name = 'JobFailedError';
}

/** Where a job is while it has not finished. */
export type JobWhere = { state: 'queued' } | { state: 'running'; worker?: string };

export class QueueClient {
  private readonly redis: Redis;
  private readonly queue: Queue;
  private closed = false;

  constructor(
    private readonly options: BullmqOptions,
    private readonly log: Logger,
    ca?: string,
  ) {
    this.redis = connect(options.url, log, 'coordinator', ca);
    this.queue = new Queue(options.queue, { connection: this.redis });
    this.queue.on('error', () => {}); // reported once per outage by the connection
  }

  private async add(name: string, id: string, data: unknown): Promise<void> {
    await this.queue.add(name, data, {
      jobId: id,
      attempts: 1,
      removeOnComplete: false,
      removeOnFail: false,
    });
  }

  /**
   * Add the job `id` (unless Redis holds it) and resolve with its return value once a worker
   * completed it; reject with its failure. `retryFailed`: a job that had failed before this call
   * (an earlier coordinator's attempt) is removed and added again instead of reporting that failure.
   */
  async result(
    name: string,
    id: string,
    data: unknown,
    onWhere: (where: JobWhere) => void,
    opts: { retryFailed?: boolean } = {},
  ): Promise<unknown> {
    if (opts.retryFailed && (await this.retrying(() => this.queue.getJobState(id))) === 'failed') {
      this.log.debug(`job ${id} failed before; running it again`);
      await this.remove(id);
    }
    await this.retrying(() => this.add(name, id, data));
    onWhere({ state: 'queued' });
    for (;;) {
      if (this.closed) throw new Error('the coordinator stopped before the job finished');
      // The state first, then the job: a job seen completed has its return value (both are set by
      // one script), while a job read first may complete before its state is read.
      const seen = await this.retrying(async () => {
        const state = await this.queue.getJobState(id);
        const job = state === 'unknown' ? undefined : await Job.fromId(this.queue, id);
        return job ? { job, state } : undefined;
      });
      if (!seen) {
        this.log.warn(`job ${id} is gone from Redis (restarted without persistence?); queueing it again`);
        await this.retrying(() => this.add(name, id, data));
      } else if (seen.state === 'completed') {
        return seen.job.returnvalue;
      } else if (seen.state === 'failed') {
        throw new JobFailedError(seen.job.failedReason || 'the job failed on a worker');
      } else if (seen.state === 'active') {
        const progress = seen.job.progress as { worker?: unknown } | undefined;
        const worker = typeof progress?.worker === 'string' ? progress.worker : seen.job.processedBy;
        onWhere({ state: 'running', ...(worker ? { worker } : {}) });
      } else onWhere({ state: 'queued' });
      await sleep(this.options.pollMs);
    }
  }

  /** Run `f` until Redis answers (the connection reconnects by itself; this waits for it). */
  private async retrying<T>(f: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await f();
      } catch (e) {
        if (this.closed) throw e;
        this.log.debug(`Redis command failed (${(e as Error).message}); trying again`);
        await sleep(this.options.pollMs);
      }
    }
  }

  /** Forget a finished job (waiting for Redis if it is away). */
  async remove(id: string): Promise<void> {
    await this.retrying(() => this.queue.remove(id));
  }

  /** Try once to forget a job, which may still be running (a worker's lock keeps it then). */
  async tryRemove(id: string): Promise<void> {
    await this.queue.remove(id).catch((e: Error) => this.log.debug(`job ${id} stays in Redis: ${e.message}`));
  }

  async dispose(): Promise<void> {
    this.closed = true;
    await this.queue.close();
    this.redis.disconnect();
  }
}
