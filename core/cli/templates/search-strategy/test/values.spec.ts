/** The budget fit and the choice of the best trial, worked out by hand. */
import type { Candidate, SearchContext, TrainResult } from '@peftkit/api';
import assert from 'node:assert/strict';
import { __CLASS__, fitToBudget } from '../src/index.js';

const cand = (type: string, point: string, ranks: number[] | null): Candidate => ({
  id: `${type}@${point}`,
  type,
  point,
  ranks,
  options: {},
});

describe('__NAME__ (by hand)', () => {
  it('keeps candidates at their smallest rank while they fit: 10 + 20 = 30, then 30 more would be 60 > 35, then 5', () => {
    const sizes: Record<string, number> = { p: 10, q: 20, r: 30, s: 5 };
    const arch = fitToBudget(
      [
        cand('lora', 'p', [2, 4]),
        cand('lora', 'q', [2, 4]),
        cand('lora', 'r', [2, 4]),
        cand('lora', 's', [2, 4]),
      ],
      (c, rank) => sizes[c.point]! * (rank === 2 ? 1 : 100),
      35,
    );
    assert.deepEqual(
      arch.modules.map((m) => [m.point, m.rank]),
      [
        ['p', 2],
        ['q', 2],
        ['s', 2],
      ],
    );
  });

  it('asks one trial per type and returns the best on validation', () => {
    const s = new __CLASS__();
    const ctx = {
      space: {
        name: 't',
        candidates: [cand('lora', 'a', [1]), cand('bitfit', 'a', null), cand('lora', 'b', [1])],
      },
      modules: { count: () => 1 },
      budget: { params: 10 },
      recipes: { search: { epochs: 5 } },
      seed: 3,
      task: { metrics: ['accuracy'] },
      emit: () => {},
    } as unknown as SearchContext;
    s.start(ctx);
    const jobs = s.ask()!;
    assert.deepEqual(
      jobs.map((j) => j.kind === 'train' && [j.id, j.architecture.modules.length, j.recipe.epochs]),
      [
        ['trial-lora', 2, 1],
        ['trial-bitfit', 1, 1],
      ],
    );
    const result = (accuracy: number) =>
      ({ kind: 'train', metrics: { validation: { accuracy } } }) as unknown as TrainResult;
    s.tell([result(0.6), result(0.75)]);
    assert.equal(s.ask(), null);
    assert.deepEqual(s.outcome().architecture.modules, [{ type: 'bitfit', point: 'a', rank: null }]);
  });
});
