/**
 * The bullmq executor without Redis: the URL check (a password unless insecure), the wire codec's
 * size limits and shape checks, trial ids, and the conformance suite for an executor opened
 * without a RunSpec (its jobs stay in the run's process). Cells on real workers over a real Redis: test/integration/test/distributed.spec.ts.
 */
import { describeExecutor } from '@peftkit/testing';
import { expect } from 'chai';
import {
  BullmqExecutorFactory,
  checkRedisUrl,
  decodeOutput,
  decodeTrialOutput,
  encodeOutput,
  encodeSpec,
  encodeTrialOutput,
  trialSpec,
} from '../src/index.js';
import type { BullmqOptions } from '../src/index.js';

const quiet = { info() {}, warn() {}, debug() {} };

const options = (url: string, insecure = false): BullmqOptions => ({
  url,
  insecure,
  queue: 'q',
  pollMs: 100,
  concurrency: 1,
  lockMs: 1000,
  stalledMs: 1000,
  maxStalledCount: 1,
  maxJobMB: 1,
  maxResultMB: 1,
});

describe('bullmq executor: Redis URL', () => {
  it('refuses a URL without a password, naming --insecure', () => {
    expect(() => checkRedisUrl('redis://127.0.0.1:6379', false)).to.throw(/has no password.*--insecure/);
    expect(() => new BullmqExecutorFactory(options('redis://127.0.0.1:6379'), quiet)).to.throw(
      /has no password/,
    );
  });
  it('accepts a password, TLS, or insecure explicitly', () => {
    checkRedisUrl('redis://:pw@127.0.0.1:6379', false);
    checkRedisUrl('rediss://user:pw@redis.example:6380/2', false);
    checkRedisUrl('redis://127.0.0.1:6379', true);
  });
  it('refuses other schemes and garbage', () => {
    expect(() => checkRedisUrl('http://:pw@host', false)).to.throw(
      /must start with redis:\/\/ or rediss:\/\//,
    );
    expect(() => checkRedisUrl('not a url', false)).to.throw(/not a Redis URL/);
  });
});

describe('bullmq executor: wire codec', () => {
  const spec = {
    id: 'cell-1',
    title: 't',
    config: {},
    baseDirs: {},
    seed: 1,
    preset: null,
    plugins: [],
  };
  it('refuses a job above maxJobMB', () => {
    expect(encodeSpec(spec, 1)).to.equal(spec);
    const big = { ...spec, config: { blob: 'x'.repeat(1024 * 1024) } };
    expect(() => encodeSpec(big, 1)).to.throw(/above maxJobMB \(1 MiB\)/);
  });
  it('round-trips files and refuses results above maxResultMB', () => {
    const files = {
      'result.json': new TextEncoder().encode('{"a":1}'),
      'model.safetensors': new Uint8Array([0, 255, 7]),
    };
    const back = decodeOutput(JSON.parse(JSON.stringify(encodeOutput({ worker: 'w', files }, 1))), 1);
    expect(back.worker).to.equal('w');
    expect([...back.files['model.safetensors']!]).to.deep.equal([0, 255, 7]);
    expect(new TextDecoder().decode(back.files['result.json'])).to.equal('{"a":1}');
    const huge = { 'model.safetensors': new Uint8Array(1024 * 1024) };
    expect(() => encodeOutput({ worker: 'w', files: huge }, 1)).to.throw(/above maxResultMB/);
  });
  it('refuses a return value that is not a cell result', () => {
    expect(() => decodeOutput({ files: {} }, 1)).to.throw(/not a cell result/);
    expect(() => decodeOutput({ worker: 'w', files: { 'a.json': 3 } }, 1)).to.throw(/not base64 text/);
  });
});

describe('bullmq executor: trial jobs', () => {
  const run = { id: 'run-1', config: { a: 1 }, baseDirs: { task: '/data' }, seed: 3, plugins: [] };
  const job = {
    kind: 'train' as const,
    id: 'random-trial-0',
    phase: 'search' as const,
    architecture: { modules: [{ type: 'lora', point: 'layer.0.attn.q', rank: 2 }] },
    recipe: {} as never,
    train: 'search.weight' as const,
    select: 'search.arch' as const,
    score: [],
    seed: 7,
  };
  it('gives a trial one id for the same run and job, another for another job or run', () => {
    const a = trialSpec(run, job);
    expect(a.id).to.match(/^trial-[0-9a-f]{24}$/);
    expect(trialSpec(structuredClone(run), structuredClone(job)).id).to.equal(a.id);
    expect(trialSpec(run, { ...job, seed: 8 }).id).to.not.equal(a.id);
    expect(trialSpec({ ...run, id: 'run-2' }, job).id).to.not.equal(a.id);
    expect(a.run).to.deep.equal({ config: { a: 1 }, baseDirs: { task: '/data' }, seed: 3, plugins: [] });
  });
  it('round-trips a train result exactly (typed arrays, NaN) and refuses what is not one', () => {
    const result = {
      kind: 'train' as const,
      metrics: { 'search.arch': { accuracy: 0.5, mcc: NaN } },
      bestEpoch: 1,
      steps: 3,
      seconds: 0.1,
      trainableParams: 4,
      headParams: 2,
      curve: [0.7],
      params: { w: new Float32Array([1.5, -0, 3]) },
    };
    const wire = JSON.parse(
      JSON.stringify(encodeTrialOutput('w1', { result, events: [{ type: 'epoch' }] }, 1)),
    );
    const back = decodeTrialOutput(wire, 1);
    expect(back.worker).to.equal('w1');
    expect(back.events).to.deep.equal([{ type: 'epoch' }]);
    const r = back.result as typeof result;
    expect(Number.isNaN(r.metrics['search.arch'].mcc)).to.equal(true);
    expect(r.params.w).to.be.instanceOf(Float32Array);
    expect(Object.is(r.params.w[1], -0)).to.equal(true);
    expect([...r.params.w]).to.deep.equal([1.5, -0, 3]);
    expect(() => decodeTrialOutput({ worker: 'w', files: {} }, 1)).to.throw(/not a trial result/);
    const big = { ...result, params: { w: new Float32Array(300_000) } };
    expect(() => encodeTrialOutput('w', { result: big, events: [] }, 1)).to.throw(/above maxResultMB/);
  });
});

describeExecutor('bullmq', () => new BullmqExecutorFactory(options('redis://:pw@127.0.0.1:1'), quiet));
