/**
 * Conformance suite for executors (extension point `executor`).
 *
 *   import { describeExecutor } from '@peftkit/testing';
 *   describeExecutor('local', () => localExecutorFactory);
 *
 * The suite opens the executor with a recording `runLocal` (each job takes a different time, later
 * jobs less, so an executor that runs jobs concurrently finishes them out of order) and checks the
 * documented contract of Executor:
 * - `run` resolves to one result per job, in the order of the jobs, whatever order they finished in;
 * - jobs run through `ctx.runLocal`, each exactly once, in order (for executors that run jobs in
 *   this process; set `inProcess: false` for one that runs them elsewhere);
 * - events a job reports reach the `onEvent` of its `run`;
 * - a failing job makes `run` reject with that job's error, and the executor stays usable;
 * - several batches in a row and an empty batch work; `dispose` completes.
 */
import type { ExecutorFactory, Job, JobResult, JobRunner, RunEvent, TrainRecipe } from '@peftkit/api';
import { expect } from 'chai';
import { type Factory, SUITE_TIMEOUT_MS } from './common.js';
import { mocha } from './mocha.js';

export interface ExecutorSuiteOptions {
  /** The executor runs jobs in this process through ctx.runLocal (default true). */
  inProcess?: boolean;
  /** Per-test time limit in ms (default 60 s). */
  timeout?: number;
}

const RECIPE: TrainRecipe = {
  epochs: 1,
  batchSize: 4,
  optimizer: 'adamw',
  lr: 1e-3,
  weightDecay: 0,
  betas: [0.9, 0.999],
  eps: 1e-8,
  momentum: 0,
  schedule: 'linear',
  warmupRatio: 0,
  clipNorm: null,
  evalEvery: 1,
  dropout: 0,
};

/** Jobs of every kind; the tag (batch size, indices or seed) identifies the job in its result. */
function jobs(n: number, offset = 0): Job[] {
  return Array.from({ length: n }, (_, i): Job => {
    const tag = offset + i;
    const program = { modules: [{ type: 'lora', point: 'layer.0.attn.q', rank: 2 }] };
    switch (i % 3) {
      case 0:
        return { kind: 'evaluate', program, params: {}, split: 'validation', batchSize: tag + 1 };
      case 1:
        return {
          kind: 'gradient',
          program,
          params: {},
          split: 'search.weight',
          indices: [tag],
          want: { params: true },
        };
      default:
        return {
          kind: 'train',
          id: `trial-${tag}`,
          phase: 'search',
          architecture: { modules: [] },
          recipe: RECIPE,
          train: 'search.weight',
          select: 'search.arch',
          score: [],
          seed: tag,
        };
    }
  });
}

function tagOf(job: Job): number {
  return job.kind === 'evaluate' ? job.batchSize - 1 : job.kind === 'gradient' ? job.indices[0]! : job.seed;
}

/** A result that names its job (through the tag), so results can be matched to jobs. */
function resultFor(job: Job): JobResult {
  const tag = tagOf(job);
  if (job.kind === 'evaluate') return { kind: 'evaluate', metrics: { accuracy: tag } };
  if (job.kind === 'gradient') return { kind: 'gradient', loss: tag, grads: {} };
  return {
    kind: 'train',
    metrics: {},
    bestEpoch: tag,
    steps: 1,
    seconds: 0,
    trainableParams: 0,
    headParams: 0,
    curve: [tag],
  };
}

function resultTag(r: JobResult): number {
  return r.kind === 'evaluate' ? r.metrics.accuracy! : r.kind === 'gradient' ? r.loss : r.bestEpoch;
}

class RecordingRunner {
  readonly started: number[] = [];
  failOn: number | null = null;
  readonly runLocal: JobRunner = async (job, onEvent) => {
    const tag = tagOf(job);
    this.started.push(tag);
    onEvent({ type: 'progress', done: tag, total: 100, status: `job ${tag}` });
    // Later jobs take less time: results of concurrent runs arrive out of order.
    await new Promise((r) => setTimeout(r, Math.max(0, 12 - 2 * (tag % 6))));
    if (this.failOn === tag) throw new Error(`job ${tag} failed on purpose`);
    return resultFor(job);
  };
}

export function describeExecutor(
  name: string,
  factory: Factory<ExecutorFactory>,
  opts: ExecutorSuiteOptions = {},
): void {
  const { describe, it } = mocha('describeExecutor');
  const inProcess = opts.inProcess ?? true;
  const open = async (runner: RecordingRunner) => {
    const f = await factory();
    expect(typeof f.open, 'the contribution creates an ExecutorFactory with open()').to.equal('function');
    return f.open({ runLocal: runner.runLocal, config: { seed: 1, executor: { name } } });
  };

  describe(`executor ${name} (conformance)`, function () {
    this.timeout(opts.timeout ?? SUITE_TIMEOUT_MS);

    it('returns one result per job, in the order of the jobs', async () => {
      const runner = new RecordingRunner();
      const ex = await open(runner);
      const batch = jobs(7);
      const results = await ex.run(batch, () => {});
      expect(results, 'one result per job').to.have.length(batch.length);
      results.forEach((r, i) => {
        expect(r.kind, `result ${i} kind`).to.equal(batch[i]!.kind);
        expect(resultTag(r), `result ${i} belongs to another job`).to.equal(tagOf(batch[i]!));
      });
      await ex.dispose();
    });

    if (inProcess) {
      it('runs every job exactly once through ctx.runLocal, in order', async () => {
        const runner = new RecordingRunner();
        const ex = await open(runner);
        await ex.run(jobs(6), () => {});
        expect(runner.started).to.deep.equal([0, 1, 2, 3, 4, 5]);
        await ex.dispose();
      });

      it('passes the events of a job to the onEvent of its run', async () => {
        const runner = new RecordingRunner();
        const ex = await open(runner);
        const events: RunEvent[] = [];
        await ex.run(jobs(3), (e) => events.push(e));
        expect(events.map((e) => e.status)).to.deep.equal(['job 0', 'job 1', 'job 2']);
        await ex.dispose();
      });
    }

    it("rejects when a job fails, with the job's error, and stays usable", async () => {
      const runner = new RecordingRunner();
      const ex = await open(runner);
      runner.failOn = 2;
      let error: unknown = null;
      try {
        await ex.run(jobs(4), () => {});
      } catch (e) {
        error = e;
      }
      expect(error, 'run() must reject when a job fails').to.be.instanceOf(Error);
      expect((error as Error).message).to.include('job 2 failed on purpose');
      runner.failOn = null;
      const results = await ex.run(jobs(2, 10), () => {});
      expect(results.map(resultTag)).to.deep.equal([10, 11]);
      await ex.dispose();
    });

    it('runs several batches in a row and an empty batch; dispose completes', async () => {
      const runner = new RecordingRunner();
      const ex = await open(runner);
      for (let b = 0; b < 3; b++) {
        const batch = jobs(b + 1, 100 * b);
        const results = await ex.run(batch, () => {});
        expect(results.map(resultTag), `batch ${b}`).to.deep.equal(batch.map(tagOf));
      }
      expect(await ex.run([], () => {}), 'an empty batch gives no results').to.deep.equal([]);
      await ex.dispose();
    });
  });
}
