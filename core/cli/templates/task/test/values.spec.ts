/** The split against one worked out by hand. */
import assert from 'node:assert/strict';
import { split } from '../src/index.js';

describe('__NAME__ split (by hand)', () => {
  it('puts i mod 5 = 1 in validation, 3 in test, the rest in train', () => {
    const rows = Array.from({ length: 7 }, (_, i) => [`s${i}`, i % 2] as const);
    const s = split(rows);
    assert.deepEqual(
      s.train.map((e) => e.text),
      ['s0', 's2', 's4', 's5'],
    );
    assert.deepEqual(
      s.validation.map((e) => e.text),
      ['s1', 's6'],
    );
    assert.deepEqual(s.test, [{ text: 's3', label: 1 }]);
  });
});
