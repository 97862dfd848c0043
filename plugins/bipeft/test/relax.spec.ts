/**
 * Component tests of the categorical relaxations (method spec §2.3, §2.4) against values computed
 * here independently: plain float64 re-implementations of the formulas and central finite
 * differences, never the code under test.
 */
import { expect } from 'chai';
import { Rng } from '@peftkit/api';
import { categoricalBackward, sampleCategorical, softmaxDistanceRegularizer } from '../src/relax.js';
import { numericGrad } from './helpers.js';

/** softmax(x / τ) in float64, written out. */
function refSoftmax(x: readonly number[], tau = 1): number[] {
  let m = -Infinity;
  for (const v of x) if (v / tau > m) m = v / tau;
  const e: number[] = [];
  let z = 0;
  for (const v of x) {
    const ev = Math.exp(v / tau - m);
    e.push(ev);
    z += ev;
  }
  return e.map((v) => v / z);
}

/** The Gumbel draws a fresh generator with this seed produces: −log(−log U), U ∈ (0, 1). */
function gumbelDraws(seed: number, n: number): number[] {
  const rng = new Rng(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let u = rng.next();
    while (u === 0) u = rng.next();
    out.push(-Math.log(-Math.log(u)));
  }
  return out;
}

function expectClose(actual: readonly number[], expected: readonly number[], tol: number): void {
  expect(actual.length).to.equal(expected.length);
  actual.forEach((a, i) => expect(a, `component ${i}`).to.be.closeTo(expected[i]!, tol));
}

describe('BIPEFT relaxations (relax.ts)', () => {
  describe('hard Gumbel-softmax sample', () => {
    const cases: { logits: number[]; tau: number; seed: number }[] = [
      { logits: [0.3, -0.2], tau: 5, seed: 1 },
      { logits: [0.3, -0.2], tau: 1, seed: 2 },
      { logits: [1.5, 0.2, -0.7], tau: 2.5, seed: 3 },
      { logits: [0.01, 0.02, -0.03, 0.5], tau: 1.3, seed: 4 },
      { logits: [-2, 3, 0.4], tau: 0.7, seed: 5 },
    ];

    it('forward is the one-hot argmax of logits + the generator’s Gumbel draws; soft = softmax((l+g)/τ)', () => {
      for (const { logits, tau, seed } of cases) {
        for (let rep = 0; rep < 20; rep++) {
          const s = seed * 1000 + rep;
          const g = gumbelDraws(s, logits.length);
          const noisy = logits.map((l, i) => l + g[i]!);
          let best = 0;
          for (let i = 1; i < noisy.length; i++) if (noisy[i]! > noisy[best]!) best = i;
          const rng = new Rng(s);
          const smp = sampleCategorical(logits, tau, rng, true);
          expect(smp.index).to.equal(best);
          expect(smp.value).to.deep.equal(logits.map((_, i) => (i === best ? 1 : 0)));
          expect(smp.tau).to.equal(tau);
          expectClose(smp.soft, refSoftmax(noisy, tau), 1e-12);
          // Exactly one Gumbel draw per logit was consumed from the generator.
          const twin = new Rng(s);
          for (let i = 0; i < logits.length; i++) twin.gumbel();
          expect(rng.nextUint32()).to.equal(twin.nextUint32());
        }
      }
    });

    it('argmax frequencies follow softmax(logits) (Gumbel-max), whatever τ', () => {
      const logits = [0.8, -0.4, 0.1];
      const p = refSoftmax(logits);
      const rng = new Rng(99);
      const n = 20_000;
      const counts = [0, 0, 0];
      for (let i = 0; i < n; i++) counts[sampleCategorical(logits, 3, rng, true).index]!++;
      // 4σ bound of a binomial proportion, σ ≤ 0.5/√n ≈ 0.0035.
      counts.forEach((c, k) => expect(c / n, `class ${k}`).to.be.closeTo(p[k]!, 0.015));
    });

    it('straight-through gradient equals the gradient of the soft sample (linear loss)', () => {
      for (const { logits, tau, seed } of cases) {
        const g = gumbelDraws(seed, logits.length);
        const smp = sampleCategorical(logits, tau, new Rng(seed), true);
        const c = logits.map((_, i) => 0.7 - 0.45 * i + 0.1 * i * i);
        const loss = (l: number[]) => {
          const y = refSoftmax(
            l.map((v, i) => v + g[i]!),
            tau,
          );
          return y.reduce((a, yi, i) => a + c[i]! * yi, 0);
        };
        expectClose(categoricalBackward(smp, c), numericGrad(loss, logits), 1e-7);
      }
    });

    it('straight-through gradient is the soft sample’s Jacobian-vector product (non-linear loss)', () => {
      for (const { logits, tau, seed } of cases) {
        const g = gumbelDraws(seed, logits.length);
        const smp = sampleCategorical(logits, tau, new Rng(seed), true);
        // L(y) = Σ_i (i+1) y_i² + y_0·y_last; dL/dy at the soft sample.
        const L = (y: number[]) =>
          y.reduce((a, yi, i) => a + (i + 1) * yi * yi, 0) + y[0]! * y[y.length - 1]!;
        const y = refSoftmax(
          logits.map((v, i) => v + g[i]!),
          tau,
        );
        const dy = y.map(
          (yi, i) => 2 * (i + 1) * yi + (i === 0 ? y[y.length - 1]! : 0) + (i === y.length - 1 ? y[0]! : 0),
        );
        const fd = numericGrad(
          (l) =>
            L(
              refSoftmax(
                l.map((v, i) => v + g[i]!),
                tau,
              ),
            ),
          logits,
        );
        expectClose(categoricalBackward(smp, dy), fd, 1e-7);
      }
    });

    it('a hand-checked two-way case: ∂y_1/∂l = (−y_0·y_1/τ, y_0·y_1/τ)', () => {
      const seed = 11;
      const [g0, g1] = gumbelDraws(seed, 2) as [number, number];
      const smp = sampleCategorical([0, 0], 4, new Rng(seed), true);
      const y1 = 1 / (1 + Math.exp((g0 - g1) / 4));
      const y0 = 1 - y1;
      const grad = categoricalBackward(smp, [0, 1]);
      expect(grad[0]).to.be.closeTo((-y0 * y1) / 4, 1e-15);
      expect(grad[1]).to.be.closeTo((y0 * y1) / 4, 1e-15);
    });
  });

  describe('no-Gumbel ablation', () => {
    it('weights are plain softmax(logits), no temperature, no random draw', () => {
      const logits = [0.9, -0.3, 0.2];
      for (const tau of [5, 2, 1, 0.5]) {
        const rng = new Rng(5);
        const smp = sampleCategorical(logits, tau, rng, false);
        const p = refSoftmax(logits); // τ deliberately ignored
        expectClose(smp.value, p, 1e-15);
        expectClose(smp.soft, p, 1e-15);
        expect(smp.index).to.equal(0);
        expect(smp.tau).to.equal(1);
        expect(rng.nextUint32()).to.equal(new Rng(5).nextUint32());
      }
      // Hand value: softmax([0, ln 3]) = [1/4, 3/4].
      expectClose(sampleCategorical([0, Math.log(3)], 5, new Rng(1), false).value, [0.25, 0.75], 1e-15);
    });

    it('its gradient is the softmax Jacobian at τ = 1 (finite differences)', () => {
      const logits = [0.9, -0.3, 0.2, 1.4];
      const c = [1, -2, 0.5, 0.25];
      const smp = sampleCategorical(logits, 3, new Rng(1), false);
      const loss = (l: number[]) => refSoftmax(l).reduce((a, y, i) => a + c[i]! * y, 0);
      expectClose(categoricalBackward(smp, c), numericGrad(loss, logits), 1e-8);
    });
  });

  describe('softmaxDistanceRegularizer: weight · Σ|softmax(θ) − θ| / numel', () => {
    // Chosen so that no |softmax(θ)_i − θ_i| is near 0 (the |·| kink).
    const rows = [
      [0.3, -0.2, 1.1],
      [0.05, 0.7],
      [2, -1, 0.4, 0.9],
    ];
    const flat = rows.flat();
    const unflat = (x: readonly number[]) => {
      const out: number[][] = [];
      let o = 0;
      for (const r of rows) {
        out.push(x.slice(o, o + r.length));
        o += r.length;
      }
      return out;
    };
    const refValue = (rs: readonly (readonly number[])[], weight: number, numel: number) => {
      let total = 0;
      for (const r of rs) {
        const s = refSoftmax(r);
        for (let i = 0; i < r.length; i++) total += Math.abs(s[i]! - r[i]!);
      }
      return (weight * total) / numel;
    };

    it('value: hand-checked single row', () => {
      // θ = [0, 0]: softmax = [½, ½], |½ − 0|·2 = 1, mean over 2 = ½, × 0.01.
      const g = [[0, 0]];
      expect(softmaxDistanceRegularizer([[0, 0]], 0.01, g)).to.be.closeTo(0.005, 1e-15);
      // θ = [1, −1]: softmax = [σ(2), 1 − σ(2)]; |σ(2) − 1| + |1 − σ(2) + 1|, mean over 2.
      const s1 = 1 / (1 + Math.exp(-2));
      const expected = (Math.abs(s1 - 1) + Math.abs(1 - s1 + 1)) / 2;
      expect(softmaxDistanceRegularizer([[1, -1]], 1, [[0, 0]])).to.be.closeTo(expected, 1e-15);
    });

    it('value and gradient against finite differences (default numel = element count)', () => {
      const weight = 0.01;
      const grads = rows.map((r) => r.map(() => 0));
      const v = softmaxDistanceRegularizer(rows, weight, grads);
      expect(v).to.be.closeTo(refValue(rows, weight, flat.length), 1e-15);
      const fd = numericGrad((x) => refValue(unflat(x), weight, flat.length), flat);
      expectClose(grads.flat(), fd, 1e-9);
    });

    it('adds to the gradients already there (does not overwrite them)', () => {
      const base = rows.map((r) => r.map((_, i) => 0.125 * (i + 1)));
      const grads = base.map((r) => [...r]);
      softmaxDistanceRegularizer(rows, 0.5, grads);
      const fd = numericGrad((x) => refValue(unflat(x), 0.5, flat.length), flat);
      expectClose(
        grads.flat(),
        base.flat().map((b, i) => b + fd[i]!),
        1e-8,
      );
    });

    it('numel: the mean runs over a larger tensor than the rows given', () => {
      const weight = 0.01;
      const numel = 20; // e.g. the tensor also holds rows of pruned / rank-frozen modules
      const grads = rows.map((r) => r.map(() => 0));
      const v = softmaxDistanceRegularizer(rows, weight, grads, numel);
      expect(v).to.be.closeTo(refValue(rows, weight, numel), 1e-15);
      const fd = numericGrad((x) => refValue(unflat(x), weight, numel), flat);
      expectClose(grads.flat(), fd, 1e-9);
      // Same rows, default numel (9): value and gradient are 20/9 times larger.
      const g9 = rows.map((r) => r.map(() => 0));
      const v9 = softmaxDistanceRegularizer(rows, weight, g9);
      expect(v9 / v).to.be.closeTo(20 / 9, 1e-12);
      g9.flat().forEach((g, i) => expect(g).to.be.closeTo((grads.flat()[i]! * 20) / 9, 1e-15));
    });

    it('numel 0 (no rows) gives 0 and leaves the gradients alone', () => {
      const grads: number[][] = [];
      expect(softmaxDistanceRegularizer([], 0.01, grads)).to.equal(0);
      expect(grads).to.deep.equal([]);
    });
  });
});
