/** Decisions against values worked out by hand. */
import type { ModuleStatus } from '@peftkit/api';
import assert from 'node:assert/strict';
import { __CLASS__ } from '../src/index.js';

const status = (id: string, size: number, importance: number, pruned = false): ModuleStatus => ({
  id,
  fullSize: size,
  rankedSize: size,
  onProbability: 1,
  importance,
  pruned,
  rankFrozen: false,
});

describe('__NAME__ decisions (by hand)', () => {
  it('reaches the budget in equal steps of the excess, least important first', () => {
    const s = new __CLASS__({ rounds: 2 });
    let modules = [status('a', 40, 3), status('b', 50, 1), status('c', 30, 2), status('d', 20, 4)];
    // 140 in all, budget 70: round 1 target 140 − 70/2 = 105 → prune b (50) → 90.
    const d1 = s.decide({ step: 1, epoch: 0, budget: 70, modules });
    assert.deepEqual(
      [d1.prune, d1.finished, d1.expectedParams, d1.event],
      [['b'], false, 140, { round: 1, target: 105 }],
    );
    modules = modules.map((m) => (m.id === 'b' ? { ...m, pruned: true } : m));
    // Round 2 (the last): target 90 − 20/1 = 70 → prune c (30) → 60; finished.
    const d2 = s.decide({ step: 2, epoch: 0, budget: 70, modules });
    assert.deepEqual([d2.prune, d2.finished, d2.expectedParams], [['c'], true, 90]);
  });

  it('holds rounds for `every` decisions and rejects bad options', () => {
    const s = new __CLASS__({ rounds: 1, every: 2 });
    const modules = [status('a', 10, 1), status('b', 10, 2)];
    assert.deepEqual(s.decide({ step: 1, epoch: 0, budget: 10, modules }).prune, []);
    assert.deepEqual(s.decide({ step: 2, epoch: 0, budget: 10, modules }).prune, ['a']);
    assert.throws(() => new __CLASS__({ rounds: 0 }), /rounds: got 0, expected an integer >= 1/);
  });
});
