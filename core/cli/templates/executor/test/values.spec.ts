/** Results and the timing summary against ones worked out by hand, with a scripted clock. */
import type { EvaluateJob } from '@peftkit/api';
import assert from 'node:assert/strict';
import { __CLASS__ } from '../src/index.js';

const job = (split: 'validation' | 'test'): EvaluateJob => ({
  kind: 'evaluate',
  program: { modules: [] },
  params: {},
  split,
  batchSize: 8,
});

describe('__NAME__ (by hand)', () => {
  it('returns results in job order and sums the time of each kind', async () => {
    const ticks = [10, 10.5, 11, 13]; // job 1: 0.5 s, job 2: 2 s
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(m), warn() {}, debug() {} };
    const executor = new __CLASS__(log, () => ticks.shift()!).open({
      config: {},
      runLocal: async (j) => ({
        kind: 'evaluate',
        metrics: { accuracy: (j as EvaluateJob).split === 'test' ? 1 : 0 },
      }),
    });
    const results = await executor.run([job('validation'), job('test')], () => {});
    assert.deepEqual(results, [
      { kind: 'evaluate', metrics: { accuracy: 0 } },
      { kind: 'evaluate', metrics: { accuracy: 1 } },
    ]);
    await executor.dispose();
    assert.deepEqual(lines, ['__NAME__: 2 jobs in 2.5 s (evaluate 2: 2.5 s)']);
  });
});
