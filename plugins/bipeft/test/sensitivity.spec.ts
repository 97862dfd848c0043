/**
 * Component tests of BIPEFT's module sensitivity (method spec §2.5) against hand-computed values
 * and a plain float64 re-implementation of the formulas written here:
 *
 *   S^w_j = Σ_θ Σ|θ ⊙ ∇_θ L_w|,  S^a_j = Σ_θ Σ|θ ⊙ ∇_θ L_a|,  c_j = mean_θ cos(θ⊙∇L_w, θ⊙∇L_a)
 *   s_j = S^w_j/n_j + c_j·S^a_j/n_j   (tra_val_cos1; tra, val, tra_val, tra_val_cos2 variants)
 *   Ī_j ← β1 Ī_j + (1−β1) s_j;  Ū_j ← β2 Ū_j + (1−β2)|s_j − Ī_j|   (Ī first, Ū with the new Ī)
 */
import { expect } from 'chai';
import type { ImportanceSample } from '@peftkit/api';
import { Rng } from '@peftkit/api';
import { BipeftSensitivity, type Criterion } from '../src/sensitivity.js';

const f32 = (x: number[]) => Float32Array.from(x);

/**
 * A hand-made module of four tensors (all values exact in float32):
 *   T1 θ=[1,−2]   gw=[.5,.25] ga=[1,.5]  → θ⊙gw=[.5,−.5] θ⊙ga=[1,−1]  Σ|·| 1 / 2    cos 1
 *   T2 θ=[2,1,0]  gw=[1,0,4]  ga=[0,3,5] → θ⊙gw=[2,0,0]  θ⊙ga=[0,3,0]  Σ|·| 2 / 3    cos 0
 *   T3 θ=[−1]     gw=[3]      ga=[.5]    → θ⊙gw=[−3]     θ⊙ga=[−.5]    Σ|·| 3 / .5   cos 1
 *   T4 θ=[0,0]    gw=[1,1]    ga=[1,−1]  → both zero (a zero-initialised LoRA B)         cos 0
 * S^w = 6, S^a = 5.5, c = (1+0+1+0)/4 = 0.5; full size n = 10 (more than the 8 elements given:
 * the size is the module's count at r_max).
 * Signed (absGrad false): −Σθ⊙gw = −(0 + 2 − 3 + 0) = 1, −Σθ⊙ga = −(0 + 3 − .5 + 0) = −2.5.
 */
const hand: ImportanceSample = {
  id: 'm',
  size: 10,
  params: [f32([1, -2]), f32([2, 1, 0]), f32([-1]), f32([0, 0])],
  weightGrads: [f32([0.5, 0.25]), f32([1, 0, 4]), f32([3]), f32([1, 1])],
  archGrads: [f32([1, 0.5]), f32([0, 3, 5]), f32([0.5]), f32([1, -1])],
};

const HAND_ABS: Record<Criterion, number> = {
  tra: 0.6, // 6/10
  val: 0.55, // 5.5/10
  tra_val: 1.15, // (6 + 5.5)/10
  tra_val_cos1: 0.875, // 0.6 + 0.5·0.55
  tra_val_cos2: 0.575, // 0.5·1.15
};
const HAND_SIGNED: Record<Criterion, number> = {
  tra: 0.1,
  val: -0.25,
  tra_val: -0.15,
  tra_val_cos1: -0.025, // 0.1 + 0.5·(−0.25)
  tra_val_cos2: -0.075, // 0.5·(−0.15)
};

/** The spec's raw score, re-implemented with float64 loops. */
function refRaw(s: ImportanceSample, criterion: Criterion, abs = true): number {
  const sum = (grads: readonly Float32Array[] | undefined) => {
    if (!grads) return 0;
    let t = 0;
    s.params.forEach((theta, k) => {
      for (let i = 0; i < theta.length; i++) {
        const p = theta[i]! * grads[k]![i]!;
        t += abs ? Math.abs(p) : -p;
      }
    });
    return t;
  };
  const sw = sum(s.weightGrads);
  const sa = sum(s.archGrads);
  let c = 0;
  if (s.weightGrads && s.archGrads && s.params.length) {
    for (let k = 0; k < s.params.length; k++) {
      const th = s.params[k]!;
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let i = 0; i < th.length; i++) {
        const a = th[i]! * s.weightGrads[k]![i]!;
        const b = th[i]! * s.archGrads[k]![i]!;
        dot += a * b;
        na += a * a;
        nb += b * b;
      }
      c += na > 0 && nb > 0 ? dot / (Math.sqrt(na) * Math.sqrt(nb)) : 0;
    }
    c /= s.params.length;
  }
  const n = s.size;
  switch (criterion) {
    case 'tra':
      return sw / n;
    case 'val':
      return sa / n;
    case 'tra_val':
      return sw / n + sa / n;
    case 'tra_val_cos1':
      return sw / n + (c * sa) / n;
    case 'tra_val_cos2':
      return (c * (sw + sa)) / n;
  }
}

/** A random module sample (2–4 tensors of 1–40 elements, some exact zeros). */
function randomSample(rng: Rng, id: string): ImportanceSample {
  const k = 2 + rng.int(3);
  const params: Float32Array[] = [];
  const wg: Float32Array[] = [];
  const ag: Float32Array[] = [];
  let count = 0;
  for (let t = 0; t < k; t++) {
    const len = 1 + rng.int(40);
    count += len;
    const draw = () => Float32Array.from({ length: len }, () => (rng.next() < 0.1 ? 0 : rng.normal()));
    params.push(draw());
    wg.push(draw());
    ag.push(draw());
  }
  return { id, size: count + rng.int(50), params, weightGrads: wg, archGrads: ag };
}

const CRITERIA: Criterion[] = ['tra_val_cos1', 'tra', 'val', 'tra_val', 'tra_val_cos2'];

describe('BIPEFT sensitivity (sensitivity.ts)', () => {
  describe('raw score s_j', () => {
    for (const criterion of CRITERIA) {
      it(`${criterion}: hand-computed value, |θ⊙∇| and signed −θ⊙∇`, () => {
        expect(new BipeftSensitivity({ criterion }).raw(hand)).to.be.closeTo(HAND_ABS[criterion], 1e-15);
        expect(new BipeftSensitivity({ criterion, absGrad: false }).raw(hand)).to.be.closeTo(
          HAND_SIGNED[criterion],
          1e-15,
        );
      });
    }

    it('the default criterion is tra_val_cos1 with |θ⊙∇|', () => {
      expect(new BipeftSensitivity().raw(hand)).to.be.closeTo(0.875, 1e-15);
    });

    it('every criterion matches a float64 re-implementation on random modules', () => {
      const rng = new Rng(2024);
      for (let trial = 0; trial < 40; trial++) {
        const s = randomSample(rng, `m${trial}`);
        for (const criterion of CRITERIA) {
          for (const absGrad of [true, false]) {
            const got = new BipeftSensitivity({ criterion, absGrad }).raw(s);
            const want = refRaw(s, criterion, absGrad);
            expect(got, `${criterion} abs=${absGrad} trial ${trial}`).to.be.closeTo(
              want,
              1e-12 * Math.max(1, Math.abs(want)),
            );
          }
        }
      }
    });

    it('is normalised by the module size n_j (the count at r_max), not by the elements given', () => {
      const est = new BipeftSensitivity();
      const r10 = est.raw(hand);
      const r40 = est.raw({ ...hand, size: 40 });
      expect(r40).to.be.closeTo(r10 / 4, 1e-15);
    });

    it('without architecture gradients: S^a = 0 and c = 0', () => {
      const s = { ...hand, archGrads: undefined };
      expect(new BipeftSensitivity().raw(s)).to.be.closeTo(0.6, 1e-15);
      expect(new BipeftSensitivity({ criterion: 'tra_val_cos2' }).raw(s)).to.equal(0);
      expect(new BipeftSensitivity({ criterion: 'val' }).raw(s)).to.equal(0);
    });

    it('without weight gradients: S^w = 0 and c = 0', () => {
      const s = { ...hand, weightGrads: undefined };
      expect(new BipeftSensitivity({ criterion: 'val' }).raw(s)).to.be.closeTo(0.55, 1e-15);
      expect(new BipeftSensitivity({ criterion: 'tra_val' }).raw(s)).to.be.closeTo(0.55, 1e-15);
      expect(new BipeftSensitivity().raw(s)).to.equal(0);
    });

    it('c_j is the plain mean of per-tensor cosines (anti-aligned tensors cancel aligned ones)', () => {
      // One tensor aligned (cos 1), one anti-aligned (cos −1): c = 0, so cos1 = S^w/n.
      const s: ImportanceSample = {
        id: 'x',
        size: 4,
        params: [f32([1, 1]), f32([2])],
        weightGrads: [f32([1, 2]), f32([1])],
        archGrads: [f32([2, 4]), f32([-3])],
      };
      // S^w = 1 + 2 + 2 = 5; S^a = 2 + 4 + 6 = 12.
      expect(new BipeftSensitivity().raw(s)).to.be.closeTo(5 / 4, 1e-15);
      expect(new BipeftSensitivity({ criterion: 'tra_val' }).raw(s)).to.be.closeTo(17 / 4, 1e-15);
      expect(new BipeftSensitivity({ criterion: 'tra_val_cos2' }).raw(s)).to.be.closeTo(0, 1e-15);
    });
  });

  describe('EMA smoothing (β1 = β2 = 0.85)', () => {
    /** A one-element module whose raw `tra` score is exactly |g|. */
    const unit = (g: number, id = 'u'): ImportanceSample => ({
      id,
      size: 1,
      params: [f32([1])],
      weightGrads: [f32([g])],
    });

    it('Ī and Ū follow the spec’s update order (hand-computed, raw scores 1, 2, 0)', () => {
      const byMean = new BipeftSensitivity({ criterion: 'tra' });
      const byProduct = new BipeftSensitivity({ criterion: 'tra', useUncertainty: true });
      // t1: Ī = .15;      Ū = .15·|1 − .15| = .1275
      // t2: Ī = .4275;    Ū = .85·.1275 + .15·|2 − .4275| = .34425
      // t3: Ī = .363375;  Ū = .85·.34425 + .15·|0 − .363375| = .34711875
      const want = [
        [0.15, 0.1275],
        [0.4275, 0.34425],
        [0.363375, 0.34711875],
      ];
      [1, 2, 0].forEach((g, t) => {
        byMean.observe(t + 1, [unit(g)]);
        byProduct.observe(t + 1, [unit(g)]);
        const [I, U] = want[t]!;
        expect(byMean.scores().get('u'), `Ī at t${t + 1}`).to.be.closeTo(I!, 1e-14);
        expect(byProduct.scores().get('u'), `Ī·Ū at t${t + 1}`).to.be.closeTo(I! * U!, 1e-14);
        expect(byMean.lastRaw.get('u')).to.equal(g);
      });
    });

    it('custom β1, β2 match a re-implementation over a random sequence', () => {
      const b1 = 0.5;
      const b2 = 0.9;
      const est = new BipeftSensitivity({ beta1: b1, beta2: b2, useUncertainty: true });
      const rng = new Rng(3);
      const I = new Map<string, number>();
      const U = new Map<string, number>();
      for (let t = 1; t <= 12; t++) {
        const samples = ['a', 'b', 'c'].map((id) => randomSample(rng, id));
        est.observe(t, samples);
        for (const s of samples) {
          const r = refRaw(s, 'tra_val_cos1');
          const i = b1 * (I.get(s.id) ?? 0) + (1 - b1) * r;
          const u = b2 * (U.get(s.id) ?? 0) + (1 - b2) * Math.abs(r - i);
          I.set(s.id, i);
          U.set(s.id, u);
        }
      }
      for (const id of ['a', 'b', 'c']) {
        const want = I.get(id)! * U.get(id)!;
        expect(est.scores().get(id)).to.be.closeTo(want, 1e-12 * Math.max(1, Math.abs(want)));
      }
    });

    it('ranking by Ī (default) and by Ī·Ū can differ', () => {
      const byMean = new BipeftSensitivity({ criterion: 'tra' });
      const byProduct = new BipeftSensitivity({ criterion: 'tra', useUncertainty: true });
      // "steady" sees raw 1 thirty times; "jumpy" alternates 0, 1.2. Re-computed here in float64:
      // steady Ī ≈ .99237, Ū ≈ .03434; jumpy Ī ≈ .64370, Ū ≈ .54714.
      const ema = (seq: number[]) => {
        let I = 0;
        let U = 0;
        for (const r of seq) {
          I = 0.85 * I + 0.15 * r;
          U = 0.85 * U + 0.15 * Math.abs(r - I);
        }
        return [I, U] as const;
      };
      const steadySeq = Array.from({ length: 30 }, () => 1);
      const jumpySeq = Array.from({ length: 30 }, (_, t) => (t % 2 ? 1.2 : 0));
      for (let t = 0; t < 30; t++) {
        for (const est of [byMean, byProduct])
          est.observe(t + 1, [unit(steadySeq[t]!, 'steady'), unit(jumpySeq[t]!, 'jumpy')]);
      }
      const [Is, Us] = ema(steadySeq);
      const [Ij, Uj] = ema(jumpySeq);
      expect(Is).to.be.closeTo(0.99237, 1e-5);
      expect(Uj).to.be.closeTo(0.54714, 1e-5);
      const m = byMean.scores();
      const p = byProduct.scores();
      expect(m.get('steady')).to.be.closeTo(Is, 1e-6); // float32 of 1.2 in the jumpy raw: tolerance
      expect(m.get('jumpy')).to.be.closeTo(Ij, 1e-6);
      expect(p.get('steady')).to.be.closeTo(Is * Us, 1e-6);
      expect(p.get('jumpy')).to.be.closeTo(Ij * Uj, 1e-6);
      expect(m.get('steady')!).to.be.greaterThan(m.get('jumpy')!);
      expect(p.get('steady')!).to.be.lessThan(p.get('jumpy')!);
    });

    it('a module missing from an observation (pruned) gets raw score 0 and its averages decay', () => {
      const est = new BipeftSensitivity({ criterion: 'tra', useUncertainty: true });
      est.observe(1, [unit(2, 'kept'), unit(1, 'pruned')]);
      // pruned: Ī = .15, Ū = .15·.85 = .1275
      est.observe(2, [unit(2, 'kept')]);
      // pruned: Ī = .85·.15 = .1275, Ū = .85·.1275 + .15·|0 − .1275| = .127500…
      expect(est.lastRaw.get('pruned')).to.equal(0);
      expect(est.scores().get('pruned')).to.be.closeTo(0.1275 * (0.85 * 0.1275 + 0.15 * 0.1275), 1e-15);
      const byMean = new BipeftSensitivity({ criterion: 'tra' });
      byMean.observe(1, [unit(2, 'kept'), unit(1, 'pruned')]);
      for (let t = 2; t <= 10; t++) byMean.observe(t, [unit(2, 'kept')]);
      expect(byMean.scores().get('pruned')).to.be.closeTo(0.15 * 0.85 ** 9, 1e-15);
      // kept: Ī = 2(1 − .85^10)
      expect(byMean.scores().get('kept')).to.be.closeTo(2 * (1 - 0.85 ** 10), 1e-14);
      // A module never observed has no score.
      expect(byMean.scores().has('never')).to.equal(false);
    });
  });

  describe('state() / restore()', () => {
    it('a restored estimator (through JSON) scores every later observation identically', () => {
      const opts = { useUncertainty: true } as const;
      const rng = new Rng(17);
      const seq = Array.from({ length: 8 }, (_, t) =>
        ['a', 'b', 'c', 'd'].filter((_, k) => t < 5 || k !== 2).map((id) => randomSample(rng, id)),
      );
      const original = new BipeftSensitivity(opts);
      for (let t = 0; t < 4; t++) original.observe(t + 1, seq[t]!);
      const saved = JSON.parse(JSON.stringify(original.state())) as unknown;

      const restored = new BipeftSensitivity(opts);
      restored.observe(1, [randomSample(new Rng(1), 'stale')]); // replaced by restore()
      restored.restore(saved);
      expect([...restored.scores()]).to.deep.equal([...original.scores()]);
      for (let t = 4; t < 8; t++) {
        original.observe(t + 1, seq[t]!);
        restored.observe(t + 1, seq[t]!);
        expect([...restored.scores()], `after step ${t + 1}`).to.deep.equal([...original.scores()]);
      }
      expect(restored.scores().has('stale')).to.equal(false);
      // Module c (absent from steps 6..8) kept decaying in both.
      expect(restored.lastRaw.get('c')).to.equal(0);
    });
  });
});
