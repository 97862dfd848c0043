/**
 * The bullmq executor without Redis: the URL check (a password unless insecure), the wire codec's
 * size limits and shape checks, and the conformance suite for the jobs of one run (which stay in
 * the run's process). Cells on real workers over a real Redis: test/integration/test/distributed.spec.ts.
 */
import { describeExecutor } from '@peftkit/testing';
import { expect } from 'chai';
import {
  BullmqExecutorFactory,
  checkRedisUrl,
  decodeOutput,
  encodeOutput,
  encodeSpec,
} from '../src/index.js';
import type { BullmqOptions } from '../src/index.js';

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
    expect(() => new BullmqExecutorFactory(options('redis://127.0.0.1:6379'))).to.throw(/has no password/);
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

describeExecutor('bullmq', () => new BullmqExecutorFactory(options('redis://:pw@127.0.0.1:1')));
