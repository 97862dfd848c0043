/**
 * Pareto fronts, 2-D hypervolume and exact EHVI against hand-computed values, the definition
 * HVI = HV(P ∪ {x}) − HV(P), and a Monte Carlo estimate.
 */
import { expect } from 'chai';
import { Rng } from '@peftkit/api';
import {
  type Objectives,
  expectedHypervolumeImprovement,
  expectedPositivePart,
  hypervolume,
  hypervolumeImprovement,
  normalCdf,
  paretoFront,
} from '../src/index.js';

const ref = { size: 1, score: 0.5 };

describe('AutoPEFT Pareto front and hypervolume', () => {
  it('finds the non-dominated points (smaller size, larger score)', () => {
    const pts: Objectives[] = [
      { size: 0.2, score: 0.6 }, // front
      { size: 0.5, score: 0.8 }, // front
      { size: 0.6, score: 0.7 }, // dominated by (0.5, 0.8)
      { size: 0.2, score: 0.55 }, // dominated by (0.2, 0.6): same size, lower score
      { size: 0.9, score: 0.9 }, // front
      { size: 0.5, score: 0.8 }, // equal to a front point: both stay
    ];
    expect(paretoFront(pts)).to.deep.equal([true, true, false, false, true, true]);
  });

  it('computes 2-D hypervolumes by hand', () => {
    // One point: (1 − 0.2)·(0.6 − 0.5) = 0.08.
    expect(hypervolume([{ size: 0.2, score: 0.6 }], ref)).to.be.closeTo(0.08, 1e-12);
    // Staircase (0.2, 0.6), (0.5, 0.8): 0.3·0.1 + 0.5·0.3 = 0.18; dominated, duplicate and
    // outside-the-reference points add nothing.
    const front = [
      { size: 0.2, score: 0.6 },
      { size: 0.5, score: 0.8 },
    ];
    expect(hypervolume(front, ref)).to.be.closeTo(0.18, 1e-12);
    expect(
      hypervolume(
        [
          ...front,
          { size: 0.6, score: 0.7 },
          { size: 0.5, score: 0.8 },
          { size: 1.2, score: 0.99 },
          { size: 0.1, score: 0.4 },
        ],
        ref,
      ),
    ).to.be.closeTo(0.18, 1e-12);
    expect(hypervolume([], ref)).to.equal(0);
  });

  it('hypervolume improvement by strips equals HV(P ∪ {x}) − HV(P)', () => {
    const rng = new Rng(4);
    for (let t = 0; t < 200; t++) {
      const pts = Array.from({ length: 1 + rng.int(6) }, () => ({
        size: rng.next() * 1.2,
        score: 0.4 + rng.next() * 0.6,
      }));
      const x = { size: rng.next() * 1.2, score: 0.4 + rng.next() * 0.6 };
      expect(hypervolumeImprovement(pts, x, ref)).to.be.closeTo(
        hypervolume([...pts, x], ref) - hypervolume(pts, ref),
        1e-12,
      );
    }
  });

  it('EHVI matches a hand computation with tabulated Φ and φ', () => {
    // Front {(0.5, 0.6)}, candidate of size 0.2 with score ~ N(0.7, 0.1²): strips (0.2, 0.5) at level
    // 0.5 (width 0.3) and (0.5, 1) at level 0.6 (width 0.5).
    //   E[(Y − 0.5)+] = 0.2·Φ(2) + 0.1·φ(2) = 0.2·0.9772499 + 0.1·0.0539910 = 0.2008491
    //   E[(Y − 0.6)+] = 0.1·Φ(1) + 0.1·φ(1) = 0.1·0.8413447 + 0.1·0.2419707 = 0.1083315
    //   EHVI = 0.3·0.2008491 + 0.5·0.1083315 = 0.1144205
    const ehvi = expectedHypervolumeImprovement([{ size: 0.5, score: 0.6 }], 0.2, 0.7, 0.1, ref);
    expect(ehvi).to.be.closeTo(0.1144205, 2e-7);
    // A candidate larger than the only front point only gains above its score: 0.5·E[(Y − 0.6)+].
    expect(expectedHypervolumeImprovement([{ size: 0.5, score: 0.6 }], 0.5, 0.7, 0.1, ref)).to.be.closeTo(
      0.5 * 0.1083315,
      2e-7,
    );
    // At or beyond the reference size nothing is gained.
    expect(expectedHypervolumeImprovement([], 1, 0.9, 0.1, ref)).to.equal(0);
    expect(normalCdf(1.959964)).to.be.closeTo(0.975, 1e-7);
  });

  it('EHVI equals the Monte Carlo mean of the improvement, and HVI(mean) when sd = 0', () => {
    const front = [
      { size: 0.1, score: 0.55 },
      { size: 0.3, score: 0.7 },
      { size: 0.7, score: 0.85 },
    ];
    const rng = new Rng(9);
    for (const [size, mean, sd] of [
      [0.2, 0.7, 0.08],
      [0.05, 0.5, 0.2],
      [0.6, 0.9, 0.05],
    ] as const) {
      let sum = 0;
      const n = 200_000;
      for (let i = 0; i < n; i++)
        sum += hypervolumeImprovement(front, { size, score: mean + sd * rng.normal() }, ref);
      const mc = sum / n;
      const exact = expectedHypervolumeImprovement(front, size, mean, sd, ref);
      expect(exact).to.be.closeTo(mc, 4e-3 * Math.max(exact, 0.01));
      expect(expectedHypervolumeImprovement(front, size, mean, 0, ref)).to.be.closeTo(
        hypervolumeImprovement(front, { size, score: mean }, ref),
        1e-12,
      );
    }
    expect(expectedPositivePart(-1, 0)).to.equal(0);
  });
});
