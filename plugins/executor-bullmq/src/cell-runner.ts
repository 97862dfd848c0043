/**
 * The coordinator's side: each cell becomes a BullMQ job whose id is the cell's stable id, so a
 * coordinator that restarts and adds it again re-attaches to the same job (BullMQ ignores an add
 * with an existing id) and a cell delivered twice is recorded once. The coordinator then looks at
 * the job every `pollMs` rather than waiting on events, so nothing is missed while Redis restarts:
 * a job that vanished (a Redis restarted without persistence) is added again.
 *
 * Jobs are kept in Redis after they finish until the coordinator has written the cell (`settled`),
 * so a coordinator killed in between finds the result when it resumes.
 */
import type { CellOutput, CellRunner, CellSpec, CellStatus, Logger } from '@peftkit/api';
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { connect } from './connection.js';
import type { BullmqOptions } from './options.js';
import { decodeOutput, encodeSpec } from './wire.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BullmqCellRunner implements CellRunner {
  private readonly redis: Redis;
  private readonly queue: Queue;
  private closed = false;

  constructor(
    private readonly options: BullmqOptions,
    private readonly log: Logger,
  ) {
    this.redis = connect(options.url, log, 'coordinator');
    this.queue = new Queue(options.queue, { connection: this.redis });
    this.queue.on('error', () => {}); // reported once per outage by the connection
  }

  private async add(spec: CellSpec): Promise<void> {
    await this.queue.add('cell', encodeSpec(spec, this.options.maxJobMB), {
      jobId: spec.id,
      attempts: 1,
      removeOnComplete: false,
      removeOnFail: false,
    });
  }

  async run(spec: CellSpec, onStatus: (status: CellStatus) => void): Promise<CellOutput> {
    await this.retrying(() => this.add(spec));
    onStatus({ state: 'queued' });
    for (;;) {
      if (this.closed) throw new Error('the comparison stopped before the cell finished');
      // The state first, then the job: a job seen completed has its return value (both are set by
      // one script), while a job read first may complete before its state is read.
      const seen = await this.retrying(async () => {
        const state = await this.queue.getJobState(spec.id);
        const job = state === 'unknown' ? undefined : await Job.fromId(this.queue, spec.id);
        return job ? { job, state } : undefined;
      });
      if (!seen) {
        this.log.warn(
          `cell ${spec.title}: its job is gone from Redis (restarted without persistence?); queueing it again`,
        );
        await this.retrying(() => this.add(spec));
      } else if (seen.state === 'completed') {
        return decodeOutput(seen.job.returnvalue, this.options.maxResultMB);
      } else if (seen.state === 'failed') {
        throw new Error(seen.job.failedReason || 'the cell failed on a worker');
      } else if (seen.state === 'active') {
        const progress = seen.job.progress as { worker?: unknown } | undefined;
        const worker = typeof progress?.worker === 'string' ? progress.worker : seen.job.processedBy;
        onStatus({ state: 'running', ...(worker ? { worker } : {}) });
      } else onStatus({ state: 'queued' });
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

  async settled(cellId: string): Promise<void> {
    await this.retrying(() => this.queue.remove(cellId));
  }

  async dispose(): Promise<void> {
    this.closed = true;
    await this.queue.close();
    this.redis.disconnect();
  }
}
