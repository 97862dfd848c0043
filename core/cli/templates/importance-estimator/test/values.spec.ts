/** Scores against values worked out by hand, and the option errors. */
import type { ImportanceSample } from '@peftkit/api';
import assert from 'node:assert/strict';
import { __CLASS__ } from '../src/index.js';

const sample = (id: string, size: number, grads: number[][]): ImportanceSample => ({
  id,
  size,
  params: grads.map((g) => new Float32Array(g.length)),
  weightGrads: grads.map((g) => Float32Array.from(g)),
});

describe('__NAME__ scores (by hand)', () => {
  it('is the EMA of ‖g‖₂/√n, absent modules decaying by β', () => {
    const e = new __CLASS__({ beta: 0.5 });
    // a: g = (3, 4), n = 4 → ‖g‖ = 5, raw 5/2 = 2.5 → 0.5·0 + 0.5·2.5 = 1.25
    // b: g = (1, 1, 1, 1), n = 16 → raw 2/4 = 0.5 → 0.25
    e.observe(1, [
      sample('a', 4, [[3], [4]]),
      sample('b', 16, [
        [1, 1],
        [1, 1],
      ]),
    ]);
    assert.ok(Math.abs(e.scores().get('a')! - 1.25) < 1e-12);
    assert.ok(Math.abs(e.scores().get('b')! - 0.25) < 1e-12);
    // a: g = (0, 8) → raw 4 → 0.5·1.25 + 0.5·4 = 2.625;  b absent → 0.5·0.25 = 0.125
    e.observe(2, [sample('a', 4, [[0], [8]])]);
    assert.ok(Math.abs(e.scores().get('a')! - 2.625) < 1e-12);
    assert.ok(Math.abs(e.scores().get('b')! - 0.125) < 1e-12);
  });

  it('rejects a bad beta and a state of another estimator', () => {
    assert.throws(() => new __CLASS__({ beta: 1 }), /beta: got 1, expected a number in \[0, 1\)/);
    assert.throws(() => new __CLASS__().restore({ estimator: 'other' }), /not a __NAME__ state/);
  });
});
