/**
 * The shift solver and the binary-concrete chain rule, against independent quantities: the budget
 * equation itself, and central finite differences of the gates (shift and S̄ held constant, as the
 * method treats them).
 */
import { expect } from 'chai';
import { Rng } from '@peftkit/api';
import {
  concreteBackward,
  concreteGates,
  expectedSize,
  selectUnderBudget,
  probabilities,
  sigmoid,
  solveShift,
} from '../src/index.js';

describe('S3Delta shifted global sigmoid', () => {
  it('solves Σ p_i n_i = B to 1e-6 relative over random logits, sizes and budgets (near 0 and near the total)', () => {
    const rng = new Rng(3);
    const fractions = [1e-9, 1e-6, 1e-3, 0.05, 0.3, 0.5, 0.9, 0.999, 1 - 1e-6, 1 - 1e-9];
    let cases = 0;
    for (let trial = 0; trial < 40; trial++) {
      const n = 1 + rng.int(300);
      const spread = [0.01, 1, 5, 30][trial % 4]!;
      const logits = Float32Array.from({ length: n }, () => rng.normal() * spread);
      const sizes = Float64Array.from({ length: n }, () => 1 + rng.int(100_000));
      const total = sizes.reduce((a, b) => a + b, 0);
      for (const beta of [1, 0.25]) {
        for (const f of fractions) {
          const budget = total * f;
          const b = solveShift(logits, sizes, budget, beta);
          const got = expectedSize(logits, sizes, b, beta);
          expect(Math.abs(got - budget) / budget, `n=${n} spread=${spread} β=${beta} B=${f}·N`).to.be.below(
            1e-6,
          );
          // p as the strategy computes it sums to the same.
          const p = probabilities(logits, b, beta);
          let s = 0;
          for (let i = 0; i < n; i++) s += p[i]! * sizes[i]!;
          expect(Math.abs(s - budget) / budget).to.be.below(1e-6);
          cases++;
        }
      }
    }
    expect(cases).to.equal(800);
  });

  it('gives p_i = B / Σn for equal logits (the first step of a search)', () => {
    const sizes = [10, 200, 3000, 45];
    const total = sizes.reduce((a, b) => a + b, 0);
    const b = solveShift([0, 0, 0, 0], sizes, 700);
    for (const p of probabilities([0, 0, 0, 0], b)) expect(p).to.be.closeTo(700 / total, 1e-12);
  });

  it('rejects budgets outside (0, Σn) and bad sizes with clear errors', () => {
    expect(() => solveShift([0, 1], [10, 20], 30)).to.throw(/strictly between 0 and the total size 30/);
    expect(() => solveShift([0, 1], [10, 20], 0)).to.throw(/strictly between/);
    expect(() => solveShift([0, 1], [10, 0], 5)).to.throw(/module 1 has size 0/);
    expect(() => solveShift([0, 1], [10], 5)).to.throw(/2 logits but 1 module sizes/);
  });

  it('sigmoid is accurate in both tails', () => {
    expect(sigmoid(-700)).to.be.closeTo(Math.exp(-700), 1e-310);
    expect(sigmoid(-30)).to.be.closeTo(Math.exp(-30), 1e-25);
    expect(sigmoid(40)).to.equal(1);
    expect(sigmoid(0)).to.equal(0.5);
  });
});

describe('S3Delta binary-concrete gates', () => {
  /** A nonlinear loss of the gates: F = Σ c_i z_i + ½ Σ d_i z_i², dF/dz = c + d ⊙ z. */
  function lossOf(z: ArrayLike<number>, c: number[], d: number[]): number {
    let f = 0;
    for (let i = 0; i < z.length; i++) f += c[i]! * z[i]! + 0.5 * d[i]! * z[i]! * z[i]!;
    return f;
  }

  for (const rescale of [true, false]) {
    for (const beta of [1, 0.5]) {
      it(`chain rule dL/da matches central finite differences (rescale ${rescale}, β ${beta})`, () => {
        const rng = new Rng(rescale ? 17 : 19);
        const n = 12;
        const a = Array.from({ length: n }, () => rng.normal() * 1.5);
        const sizes = Array.from({ length: n }, () => 1 + rng.int(500));
        const budget = 0.3 * sizes.reduce((x, y) => x + y, 0);
        const u = Array.from({ length: n }, () => rng.nextOpen());
        const c = Array.from({ length: n }, () => rng.normal());
        const d = Array.from({ length: n }, () => rng.normal());
        const opts = { beta, rescale };
        const shift = solveShift(a, sizes, budget, beta);
        const sample = concreteGates(a, shift, u, opts);
        // Forward: z = s = σ(logit u + logit p) in (0, 1); the rescaling is forward-neutral.
        for (let i = 0; i < n; i++) {
          expect(sample.z[i]).to.be.within(0, 1);
          expect(sample.q[i]).to.be.closeTo(sample.p[i]!, 1e-15);
        }
        const dz = Array.from(sample.z, (z, i) => c[i]! + d[i]! * z);
        const da = concreteBackward(sample, dz, opts);
        const h = 1e-5;
        for (let j = 0; j < n; j++) {
          const at = (delta: number) => {
            const x = a.slice();
            x[j] = x[j]! + delta;
            return lossOf(concreteGates(x, shift, u, opts, sample.detachedSum).z, c, d);
          };
          const fd = (at(h) - at(-h)) / (2 * h);
          expect(da[j], `module ${j}`).to.be.closeTo(fd, 1e-7 + 1e-6 * Math.abs(fd));
        }
      });
    }
  }

  it('without rescaling the gradient is s(1 − s)/β · dL/dz (p cancels)', () => {
    const a = [0.3, -1.2, 2.0];
    const u = [0.2, 0.7, 0.5];
    const sample = concreteGates(a, 0.4, u, { beta: 2, rescale: false });
    const da = concreteBackward(sample, [1, -2, 0.5], { beta: 2, rescale: false });
    [1, -2, 0.5].forEach((g, i) => {
      const s = sample.s[i]!;
      expect(da[i]).to.be.closeTo((g * s * (1 - s)) / 2, 1e-12);
    });
  });

  it('u = 1/2 gives s = p (the sample is centred on the probability)', () => {
    const sample = concreteGates([0.5, -0.5], 0.1, [0.5, 0.5], { beta: 1, rescale: true });
    expect(sample.s[0]).to.be.closeTo(sample.p[0]!, 1e-12);
    expect(sample.s[1]).to.be.closeTo(sample.p[1]!, 1e-12);
  });
});

describe('S3Delta derivation', () => {
  it('adds modules by decreasing score while the exact total fits, skipping ones that do not', () => {
    // Scores order: 2 (size 60), 0 (size 50: 110 > 100, skipped), 3 (size 30: 90), 1 (size 20: 110, skipped).
    expect(selectUnderBudget([0.8, 0.1, 0.9, 0.5], [50, 20, 60, 30], 100)).to.deep.equal([
      false,
      false,
      true,
      true,
    ]);
    // Ties: lower index first.
    expect(selectUnderBudget([1, 1, 1], [10, 10, 10], 20)).to.deep.equal([true, true, false]);
  });
});
