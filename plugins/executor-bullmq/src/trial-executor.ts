/**
 * The jobs of one run with the bullmq executor: search trials (the train jobs a random-search or
 * AutoPEFT-style strategy asks for, a batch at a time) go to workers over the queue, one BullMQ
 * job per trial, so that the trials of a batch run on as many workers as there are; every other
 * job (BIPEFT's gradient and evaluate jobs, whose parameters live in this process) runs here.
 *
 * A trial's job carries the run as a RunSpec (the configuration, base directories, seed, plugins)
 * and the train job; its id is derived from the run's id and both, so a trial delivered twice, or
 * asked again by a resumed run, gives one result. Results come back with the events the trial
 * emitted, which are passed on in the order of the batch's jobs: the run's journal reads as it
 * does with the local executor. Once the batch's results are used the jobs are removed; a failed
 * trial fails the run with the worker's message (and its job is removed, so a resumed run tries it
 * again).
 */
import type {
  Executor,
  ExecutorContext,
  Job,
  JobResult,
  Logger,
  RunEvent,
  RunSpec,
  TrainJob,
  TrialOutput,
  TrialSpec,
} from '@peftkit/api';
import { createHash } from 'node:crypto';
import type { BullmqOptions } from './options.js';
import { JobFailedError, QueueClient, type JobWhere } from './queue-client.js';
import { decodeTrialOutput, encodeSpec } from './wire.js';

const isTrial = (job: Job): job is TrainJob => job.kind === 'train' && job.phase === 'search';

/** A trial's job: the run and the train job, under an id stable for both. */
export function trialSpec(run: RunSpec & { id: string }, job: TrainJob): TrialSpec {
  const { id: runId, ...spec } = run;
  const hash = createHash('sha256')
    .update(`${runId}\n${JSON.stringify(spec)}\n${JSON.stringify(job)}`)
    .digest('hex')
    .slice(0, 24);
  return { id: `trial-${hash}`, title: `${runId} ${job.id}`, run: spec, job };
}

export class BullmqTrialExecutor implements Executor {
  private readonly client: QueueClient;

  constructor(
    private readonly options: BullmqOptions,
    log: Logger,
    private readonly ctx: ExecutorContext & { run: RunSpec & { id: string } },
    ca?: string,
  ) {
    this.client = new QueueClient(options, log, ca);
  }

  async run(jobs: readonly Job[], onEvent: (e: RunEvent) => void): Promise<JobResult[]> {
    const trials = jobs.flatMap((job, i) =>
      isTrial(job) ? [{ i, spec: trialSpec(this.ctx.run, job) }] : [],
    );
    // Each trial's state (queued, running on a worker, done), shown as the run's progress line.
    const states = new Map<string, string>();
    const setState = (id: string, state: string) => {
      if (states.get(id) === state) return;
      states.set(id, state);
      const all = [...states.values()];
      const count = (s: string) => all.filter((x) => x === s).length;
      const running = all.filter((x) => x.startsWith('running'));
      onEvent({
        type: 'progress',
        phase: 'search',
        done: count('done'),
        total: trials.length,
        status: `trials on workers: ${count('queued')} queued, ${running.length ? running.join(', ') : 'none running'}`,
      });
    };
    const remote = trials.map(async ({ spec }): Promise<TrialOutput> => {
      const value = await this.client.result(
        'trial',
        spec.id,
        encodeSpec(spec, this.options.maxJobMB),
        (w: JobWhere) =>
          setState(spec.id, w.state === 'queued' ? 'queued' : `running${w.worker ? ` on ${w.worker}` : ''}`),
      );
      setState(spec.id, 'done');
      return decodeTrialOutput(value, this.options.maxResultMB);
    });
    // The other jobs run here meanwhile, in order.
    const results: Array<JobResult | undefined> = jobs.map(() => undefined);
    let localError: unknown;
    try {
      for (const [i, job] of jobs.entries())
        if (!isTrial(job)) results[i] = await this.ctx.runLocal(job, onEvent);
    } catch (e) {
      localError = e;
    }
    const settled = await Promise.allSettled(remote);
    const failed = settled.findIndex((s) => s.status === 'rejected');
    if (localError !== undefined || failed >= 0) {
      await Promise.all(trials.map(({ spec }) => this.client.tryRemove(spec.id)));
      if (localError !== undefined) throw localError;
      const reason = (settled[failed] as PromiseRejectedResult).reason as unknown;
      // Anything but a worker's failure (an interrupt from the run's progress) goes on as it is.
      if (!(reason instanceof JobFailedError)) throw reason;
      throw new Error(`search trial ${trials[failed]!.spec.job.id} failed ${reason.message}`);
    }
    settled.forEach((s, k) => {
      const out = (s as PromiseFulfilledResult<TrialOutput>).value;
      for (const e of out.events) onEvent(e);
      results[trials[k]!.i] = out.result;
    });
    await Promise.all(trials.map(({ spec }) => this.client.remove(spec.id)));
    return results as JobResult[];
  }

  async dispose(): Promise<void> {
    await this.client.dispose();
  }
}
