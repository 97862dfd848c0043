/**
 * AdaLoRA's pieces against independent values: the cubic budget schedule at hand-computed steps,
 * the orthogonality regulariser's gradient against finite differences (both forms, P and Q
 * layouts), and the importance EMAs and triplet scores against a direct computation.
 */
import { expect } from 'chai';
import { ConfigError, Rng } from '@peftkit/api';
import {
  type BudgetSchedule,
  type OrthForm,
  TripletImportance,
  budgetAt,
  columnsOf,
  gramPenalty,
  resolveSteps,
  rowsOf,
} from '../src/index.js';

describe('AdaLoRA cubic budget schedule', () => {
  const s: BudgetSchedule = { initial: 120, target: 40, tinit: 10, tfinal: 20, total: 100, deltaT: 5 };

  it('keeps b(0) through the warm-up, b(T) in the final phase, and is cubic in between', () => {
    expect(budgetAt(0, s)).to.deep.equal({ budget: 120, mask: false });
    expect(budgetAt(10, s)).to.deep.equal({ budget: 120, mask: false });
    // t = 11: progress 1 − 1/70; 80·(69/70)³ + 40 = 116.59… → 116 (truncated, as PEFT's int()).
    expect(budgetAt(11, s).budget).to.equal(116);
    expect(budgetAt(11, s).mask).to.equal(false);
    // Mid-schedule, t = 45: progress 1/2, 40 + 80/8 = 50; masked since 45 mod 5 = 0.
    expect(budgetAt(45, s)).to.deep.equal({ budget: 50, mask: true });
    // t = 30: progress 5/7, 80·(125/343) + 40 = 69.15… → 69; t = 31: 80·0.7³ + 40 = 67.44 → 67.
    expect(budgetAt(30, s)).to.deep.equal({ budget: 69, mask: true });
    expect(budgetAt(31, s)).to.deep.equal({ budget: 67, mask: false });
    // T − t_final = 80: exactly b(T); after it, b(T) with masking every step.
    expect(budgetAt(80, s)).to.deep.equal({ budget: 40, mask: true });
    expect(budgetAt(81, s)).to.deep.equal({ budget: 40, mask: true });
    expect(budgetAt(100, s)).to.deep.equal({ budget: 40, mask: true });
    let prev = Infinity;
    for (let t = 0; t <= 100; t++) {
      const b = budgetAt(t, s).budget;
      expect(b).to.be.at.most(prev);
      prev = b;
    }
  });

  it('reads tinit / tfinal as steps or percentages', () => {
    expect(resolveSteps(7, 48, 'x')).to.equal(7);
    expect(resolveSteps('10%', 48, 'x')).to.equal(5);
    expect(resolveSteps('50%', 48, 'x')).to.equal(24);
    expect(() => resolveSteps('10', 48, 'strategy.options.tinit')).to.throw(
      ConfigError,
      /strategy\.options\.tinit/,
    );
    expect(() => resolveSteps(-1, 48, 'x')).to.throw(ConfigError);
    expect(() => resolveSteps('120%', 48, 'x')).to.throw(ConfigError);
  });
});

describe('AdaLoRA orthogonality regulariser', () => {
  for (const form of ['paper', 'peft'] as OrthForm[]) {
    it(`${form} form: gradient matches finite differences for P [in, r] and Q [r, out]`, () => {
      const rng = new Rng(4);
      for (const [layout, n] of [
        [columnsOf(7, 3), 21],
        [rowsOf(3, 5), 15],
      ] as const) {
        const data = Float32Array.from({ length: n }, () => rng.normal() * 0.6);
        const grad = new Float32Array(n);
        gramPenalty(data, layout, form, grad, 0.7);
        const eps = 1e-3;
        for (let k = 0; k < n; k++) {
          const plus = Float64Array.from(data);
          plus[k]! += eps;
          const minus = Float64Array.from(data);
          minus[k]! -= eps;
          // Evaluate in float64 through the same formula (Float32 storage would add rounding noise).
          const numeric =
            (0.7 * (penalty64(plus, layout, form) - penalty64(minus, layout, form))) / (2 * eps);
          expect(grad[k]).to.be.closeTo(numeric, 1e-3 * Math.max(1, Math.abs(numeric)));
        }
      }
    });
  }

  it('is zero for orthonormal vectors and ‖G − I‖² otherwise (hand-computed)', () => {
    // Columns of [[1, 0], [0, 1], [0, 0]] are orthonormal.
    expect(gramPenalty(Float32Array.from([1, 0, 0, 1, 0, 0]), columnsOf(3, 2), 'paper')).to.equal(0);
    // Rows (1, 1) and (0, 2): G = [[2, 2], [2, 4]], M = [[1, 2], [2, 3]], ‖M‖² = 1 + 4 + 4 + 9 = 18.
    expect(gramPenalty(Float32Array.from([1, 1, 0, 2]), rowsOf(2, 2), 'paper')).to.equal(18);
    expect(gramPenalty(Float32Array.from([1, 1, 0, 2]), rowsOf(2, 2), 'peft')).to.be.closeTo(
      Math.sqrt(18),
      1e-12,
    );
  });
});

/** The penalty recomputed independently from its definition, in float64. */
function penalty64(d: Float64Array, l: ReturnType<typeof columnsOf>, form: OrthForm): number {
  let sq = 0;
  for (let i = 0; i < l.r; i++) {
    for (let j = 0; j < l.r; j++) {
      let g = 0;
      for (let a = 0; a < l.n; a++)
        g += d[a * l.aStride + i * l.iStride]! * d[a * l.aStride + j * l.iStride]!;
      const m = g - (i === j ? 1 : 0);
      sq += m * m;
    }
  }
  return form === 'paper' ? sq : Math.sqrt(sq);
}

describe('AdaLoRA importance', () => {
  it('smooths |w·g| and its deviation with β₁, β₂ and scores triplets as s(λ) + mean s(P col) + mean s(Q row)', () => {
    const imp = new TripletImportance(0.85, 0.6);
    const names = { P: 'm/P', lambda: 'm/lambda', Q: 'm/Q' };
    // P [2, 2], λ [2], Q [2, 3].
    const params = {
      'm/P': Float32Array.from([1, 2, -3, 4]),
      'm/lambda': Float32Array.from([0.5, -1]),
      'm/Q': Float32Array.from([1, 0, 2, -1, 1, 3]),
    };
    const g1 = {
      'm/P': Float32Array.from([0.1, -0.2, 0.3, 0.4]),
      'm/lambda': Float32Array.from([2, 1]),
      'm/Q': Float32Array.from([1, 1, -1, 0.5, 0.5, 0.5]),
    };
    const g2 = {
      'm/P': Float32Array.from([0.5, 0, -0.1, 0.2]),
      'm/lambda': Float32Array.from([-1, 3]),
      'm/Q': Float32Array.from([0, 2, 1, 1, -2, 0.5]),
    };
    const all = Object.keys(params);
    imp.update(params, g1, all);
    imp.update(params, g2, all);
    // Direct recomputation of the two EMA steps per element.
    const score = (n: keyof typeof params, k: number) => {
      let avg = 0;
      let unc = 0;
      for (const g of [g1, g2]) {
        const i = Math.abs(params[n][k]! * g[n][k]!);
        avg = 0.85 * avg + 0.15 * i;
        unc = 0.6 * unc + 0.4 * Math.abs(i - avg);
      }
      return avg * unc;
    };
    const got = imp.tripletScores(names, 2, 2, 3);
    for (let i = 0; i < 2; i++) {
      const want =
        score('m/lambda', i) +
        (score('m/P', 0 * 2 + i) + score('m/P', 1 * 2 + i)) / 2 +
        (score('m/Q', i * 3) + score('m/Q', i * 3 + 1) + score('m/Q', i * 3 + 2)) / 3;
      expect(got[i]).to.be.closeTo(want, 1e-6 * Math.max(1, want));
    }
    expect(got[1]).to.be.greaterThan(0);
  });
});
