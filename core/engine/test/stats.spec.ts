/**
 * Comparison statistics (report/stats.ts) against values checked by hand: the sign test and the
 * exact paired permutation test by enumerating outcomes, the bootstrap intervals against degenerate
 * cases and the normal approximation of a binomial proportion.
 */
import { expect } from 'chai';
import {
  bootstrapMeanInterval,
  pairedComparison,
  pairedPermutationTest,
  signTest,
  type ScoredRun,
} from '../src/report/stats.js';

const accuracy = (p: ArrayLike<number>, l: ArrayLike<number>): number => {
  let c = 0;
  for (let i = 0; i < l.length; i++) if (p[i] === l[i]) c++;
  return c / l.length;
};

/** A run that gets the first `correct` of `n` examples right (labels 1, predictions 1 or 0). */
function run(seed: number, n: number, correct: number): ScoredRun {
  return {
    seed,
    labels: new Float64Array(n).fill(1),
    predictions: Float64Array.from({ length: n }, (_, i) => (i < correct ? 1 : 0)),
  };
}

describe('comparison statistics (report/stats.ts)', () => {
  it('sign test: two-sided binomial tail, ties dropped', () => {
    // 5 of 5 positive: 2 · (1/2)^5.
    expect(signTest([1, 2, 3, 4, 5])).to.equal(2 / 32);
    // 5 positive, 1 negative: 2 · (C(6,0) + C(6,1)) / 2^6 = 14/64.
    expect(signTest([1, 1, 1, -1, 1, 1])).to.equal(14 / 64);
    // 2 positive, 1 negative, one tie: 2 · (1 + 3)/8 ≥ 1 → 1.
    expect(signTest([1, -1, 2, 0])).to.equal(1);
    expect(signTest([0, 0])).to.equal(1);
  });

  it('paired permutation test: share of the 2^n sign flips with |sum| at least the observed', () => {
    // d = [1, 2, 3]: flip sums 6, 4, 2, 0, 0, −2, −4, −6 → |s| ≥ 6 twice: 2/8.
    expect(pairedPermutationTest([1, 2, 3])).to.equal(0.25);
    // d = [3, −1]: sums 2, 4, −4, −2 → all four have |s| ≥ 2.
    expect(pairedPermutationTest([3, -1])).to.equal(1);
    // 5 equal positive differences: only all + and all − reach 5: 2/32.
    expect(pairedPermutationTest([0.01, 0.01, 0.01, 0.01, 0.01])).to.equal(2 / 32);
  });

  it('bootstrap interval of a cell: a point where nothing varies, ~p ± 1.96·√(p(1−p)/n) for one seed', () => {
    const perfect = [run(1, 50, 50), run(2, 50, 50)];
    expect(bootstrapMeanInterval(perfect, accuracy, { replicates: 200 })).to.deep.equal({ low: 1, high: 1 });
    // One seed, 2,000 examples, accuracy 0.8: half-width 1.96·√(0.16/2000) = 0.01753.
    const ci = bootstrapMeanInterval([run(1, 2000, 1600)], accuracy, { replicates: 2000, seed: 3 });
    expect(ci.low).to.be.closeTo(0.8 - 0.01753, 0.004);
    expect(ci.high).to.be.closeTo(0.8 + 0.01753, 0.004);
  });

  it('bootstrap over seeds too: seeds of 0.7 and 0.9 on a large test set give an interval from about 0.7 to 0.9', () => {
    // With the examples nearly fixed (n large), the resampled mean over two seeds is 0.7, 0.8 or 0.9
    // with probabilities 1/4, 1/2, 1/4: the 2.5 and 97.5 percentiles sit near 0.7 and 0.9.
    const ci = bootstrapMeanInterval([run(1, 5000, 3500), run(2, 5000, 4500)], accuracy, {
      replicates: 600,
      seed: 5,
    });
    expect(ci.low).to.be.closeTo(0.7, 0.02);
    expect(ci.high).to.be.closeTo(0.9, 0.02);
  });

  it('paired comparison: per-seed differences, their interval and tests; unpaired seeds left out', () => {
    const ref = [run(1, 400, 300), run(2, 400, 310), run(3, 400, 305)];
    const same = pairedComparison(ref, ref, accuracy, { replicates: 300 })!;
    expect(same.differences).to.deep.equal([0, 0, 0]);
    expect(same.interval).to.deep.equal({ low: 0, high: 0 });
    expect(same.signP).to.equal(1);
    expect(same.permutationP).to.equal(1);

    // Better by 20, 30 and 25 examples of 400 on seeds 1–3; seed 4 has no reference run.
    const better = [run(1, 400, 320), run(2, 400, 340), run(3, 400, 330), run(4, 400, 390)];
    const c = pairedComparison(better, ref, accuracy, { replicates: 500 })!;
    expect(c.seeds).to.deep.equal([1, 2, 3]);
    expect(c.differences.map((d) => Math.round(d * 400))).to.deep.equal([20, 30, 25]);
    expect(c.mean).to.be.closeTo(25 / 400, 1e-12);
    // Both sides get the same first examples right, so every resample keeps the gap positive.
    expect(c.interval.low).to.be.greaterThan(0);
    expect(c.interval.high).to.be.greaterThan(c.mean);
    expect(c.signP).to.equal(2 / 8);
    expect(c.permutationP).to.equal(2 / 8);
    expect(pairedComparison(better, [run(9, 400, 1)], accuracy)).to.equal(null);
  });

  it('rejects runs that scored different test sets', () => {
    expect(() => bootstrapMeanInterval([run(1, 10, 5), run(2, 11, 5)], accuracy)).to.throw(
      /same 10 test examples/,
    );
  });
});
