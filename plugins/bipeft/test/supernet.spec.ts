/**
 * Component tests of the BIPEFT supernet (method spec §1.3, §1.4, §2.3, §2.6) against values
 * computed here by hand or with plain float64 re-implementations (softmax, nested rank masks,
 * finite differences):
 *
 * - nested rank masks: rank R_k keeps the leading R_k of the r_max components, so a mixture of
 *   ranks with weights w gives mask_i = Σ_{k: i < R_k} w_k;
 * - on-probability P_j = softmax(β_j)[1]; in the entangled (S3Delta-like) mode 1 − softmax(α_j)[0],
 *   and the rank weights are softmax(α_j) over the non-zero ranks, renormalised;
 * - expected ranked size Σ_k w_k · count(R_k) with exact per-rank counts.
 */
import { expect } from 'chai';
import type { Candidate } from '@peftkit/api';
import { Rng } from '@peftkit/api';
import { PeftToolkit } from '@peftkit/nn';
import { bitfit, lora, lowrankAdapter } from '@peftkit/plugin-peft-modules';
import { tinyBackbone, tinyTask, toModuleTypes } from '@peftkit/testing';
import { PatternSpace } from '../src/spaces.js';
import { type Entanglement, Supernet } from '../src/supernet.js';
import { numericGrad } from './helpers.js';

const types = toModuleTypes([lora, bitfit]);
// hidden 8: attn.q is 8→8 (LoRA count 16r), ffn.in is 8→16 (24r); BitFit on ln_attn is 8.
const backbone = tinyBackbone({ hidden: 8, layers: 1 });
const toolkit = new PeftToolkit(backbone, tinyTask().info, types);
const candidates = new PatternSpace('t', [
  { type: 'lora', targets: ['layer.0.attn.q', 'layer.0.ffn.in'] },
  { type: 'bitfit', targets: ['layer.0.ln_attn'] },
]).build(backbone.info, types).candidates;
const Q = 'lora@layer.0.attn.q';
const FIN = 'lora@layer.0.ffn.in';
const BF = 'bitfit@layer.0.ln_attn';
const cand = (id: string) => candidates.find((c) => c.id === id)! as Candidate;

function refSoftmax(x: readonly number[]): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/** mask_i = Σ_{k: i < R_k} w_k over r_max components. */
function refMask(weights: readonly number[], ranks: readonly number[], rMax: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < rMax; i++) {
    let m = 0;
    for (let k = 0; k < ranks.length; k++) if (i < ranks[k]!) m += weights[k]!;
    out.push(m);
  }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tol: number): void {
  expect(actual.length).to.equal(expected.length);
  for (let i = 0; i < expected.length; i++)
    expect(actual[i]!, `component ${i}`).to.be.closeTo(expected[i]!, tol);
}

function net(mode: Entanglement = 'disentangled'): Supernet {
  return Supernet.init(candidates, toolkit, mode, new Rng(1));
}

describe('BIPEFT supernet (supernet.ts)', () => {
  it('candidates are q, ffn.in (ranks {1,4,8}) and the BitFit on ln_attn', () => {
    expect(candidates.map((c) => [c.id, c.ranks])).to.deep.equal([
      [Q, [1, 4, 8]],
      [FIN, [1, 4, 8]],
      [BF, null],
    ]);
  });

  describe('initialisation', () => {
    it('β ∈ R² for every module, α ∈ R^K for ranked ones (K+1 entangled), all ~1e-3·N(0,1); all kept', () => {
      for (const mode of ['disentangled', 'entangled'] as const) {
        const n = net(mode);
        for (const c of candidates) {
          expect(n.s.kept[c.id]).to.equal(true);
          expect(n.s.beta[c.id]).to.have.length(2);
          const logits = [...n.s.beta[c.id]!, ...(n.s.alpha[c.id] ?? [])];
          for (const v of logits) {
            expect(Math.abs(v)).to.be.lessThan(6e-3);
            expect(v).to.not.equal(0);
          }
          if (c.ranks) expect(n.s.alpha[c.id]).to.have.length(mode === 'entangled' ? 4 : 3);
          else expect(n.s.alpha[c.id]).to.equal(undefined);
        }
      }
    });

    it('weights are stored at r_max = 8: LoRA A [in, 8], B [8, out]', () => {
      const p = net().s.params;
      expect(p[`${Q}/A`]).to.have.length(8 * 8);
      expect(p[`${Q}/B`]).to.have.length(8 * 8);
      expect(p[`${FIN}/A`]).to.have.length(8 * 8);
      expect(p[`${FIN}/B`]).to.have.length(8 * 16);
      expect(p[`${BF}/bias`]).to.have.length(8);
    });
  });

  describe('probabilities, rank weights, sizes (§2.6)', () => {
    it('on-probability = softmax(β)[1] (hand value)', () => {
      const n = net();
      n.s.beta[Q] = [0.3, -0.4];
      expect(n.onProbability(cand(Q))).to.be.closeTo(1 / (1 + Math.exp(0.7)), 1e-15);
      n.s.beta[BF] = [0, Math.log(3)];
      expect(n.onProbability(cand(BF))).to.be.closeTo(0.75, 1e-15);
    });

    it('rank weights = softmax(α); expected ranked size Σ_k w_k·count(R_k) (hand values)', () => {
      const n = net();
      n.s.alpha[Q] = [0, Math.log(2), Math.log(5)]; // w = [1/8, 2/8, 5/8]
      n.s.alpha[FIN] = [0, Math.log(2), Math.log(5)];
      expectClose(n.rankWeights(cand(Q)), [1 / 8, 2 / 8, 5 / 8], 1e-15);
      // q: 16r → (16 + 2·64 + 5·128)/8 = 98; ffn.in: 24r → (24 + 2·96 + 5·192)/8 = 147.
      expect(n.rankedSize(cand(Q))).to.be.closeTo(98, 1e-12);
      expect(n.rankedSize(cand(FIN))).to.be.closeTo(147, 1e-12);
      expect(n.fullSize(cand(Q))).to.equal(128);
      expect(n.fullSize(cand(FIN))).to.equal(192);
      expect(n.rankedSize(cand(BF))).to.equal(8);
      expect(n.rankIndex(cand(Q))).to.equal(2);
    });

    it('ranked size uses exact per-rank counts (a bias term is not scaled with rank)', () => {
      // Low-rank adapter at a width-8 sublayer: m = max(1, ⌊8/32⌋) = 1, count 2(8+1)r + 1 + 8 = 18r + 9.
      // w = [1/8, 2/8, 5/8]: exact (27 + 2·81 + 5·153)/8 = 119.25. (The released code's linear proxy
      // n·Σ w_k R_k / r_max would give 153·49/64 ≈ 117.14; peftkit deliberately counts exactly.)
      const lraTypes = toModuleTypes([lowrankAdapter]);
      const lraToolkit = new PeftToolkit(backbone, tinyTask().info, lraTypes);
      const cs = new PatternSpace('t', [
        { type: 'lowrank-adapter', targets: ['layer.0.ffn.sublayer'] },
      ]).build(backbone.info, lraTypes).candidates;
      const n = Supernet.init(cs, lraToolkit, 'disentangled', new Rng(1));
      n.s.alpha[cs[0]!.id] = [0, Math.log(2), Math.log(5)];
      expect(n.fullSize(cs[0]!)).to.equal(153);
      expect(n.rankedSize(cs[0]!)).to.be.closeTo(119.25, 1e-12);
    });

    it('a rank-frozen module has one-hot rank weights at its frozen rank', () => {
      const n = net();
      n.s.alpha[Q] = [0, Math.log(2), Math.log(5)];
      n.s.frozen[Q] = 1;
      expect(n.rankWeights(cand(Q))).to.deep.equal([0, 1, 0]);
      expect(n.rankedSize(cand(Q))).to.equal(64);
      expect(n.rankIndex(cand(Q))).to.equal(1);
      const st = n.statuses(new Map([[Q, 0.5]])).find((s) => s.id === Q)!;
      expect(st).to.include({
        fullSize: 128,
        rankedSize: 64,
        importance: 0.5,
        rankFrozen: true,
        pruned: false,
      });
      expect(st.rankLogits).to.equal(undefined);
    });

    it('entangled: P(on) = 1 − softmax(α)[0]; rank weights renormalised over the non-zero ranks', () => {
      const n = net('entangled');
      n.s.alpha[Q] = [Math.log(2), 0, Math.log(3), Math.log(4)]; // softmax = [2, 1, 3, 4]/10
      expect(n.onProbability(cand(Q))).to.be.closeTo(0.8, 1e-15);
      expectClose(n.rankWeights(cand(Q)), [1 / 8, 3 / 8, 4 / 8], 1e-15);
      // (16·1 + 64·3 + 128·4)/8 = 90
      expect(n.rankedSize(cand(Q))).to.be.closeTo(90, 1e-12);
      expect(n.rankIndex(cand(Q))).to.equal(2);
      // Vector modules keep their own β.
      n.s.beta[BF] = [0, Math.log(3)];
      expect(n.onProbability(cand(BF))).to.be.closeTo(0.75, 1e-15);
    });
  });

  describe('gates and nested rank masks (§1.4, §2.3)', () => {
    it('binary stage: ranks at argmax α as leading-component masks; gates = softmax(β)[1] without Gumbel', () => {
      const n = net();
      n.s.alpha[Q] = [0.1, 0.9, 0.2]; // rank 4
      n.s.alpha[FIN] = [0.9, 0.1, 0.2]; // rank 1
      n.s.beta[Q] = [0.2, 0.5];
      n.s.beta[FIN] = [0.4, -0.1];
      n.s.beta[BF] = [-0.3, 0.3];
      const smp = n.sample('binary', 5, new Rng(3), false, false, false);
      expect(Array.from(smp.masks)).to.deep.equal([1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
      expectClose(
        smp.gates,
        [Q, FIN, BF].map((id) => refSoftmax(n.s.beta[id]!)[1]!),
        1e-7,
      );
      expect(smp.ranks.size).to.equal(0);
    });

    it('dimension stage, no Gumbel: mask_i = Σ_{k: i<R_k} softmax(α)_k; matrix modules all on (early selection)', () => {
      const n = net();
      n.s.alpha[Q] = [0, Math.log(2), Math.log(5)]; // w = [1/8, 2/8, 5/8]
      n.s.alpha[FIN] = [0.3, -0.2, 0.05];
      n.s.beta[Q] = [5, -5]; // would be "off" if sampled
      n.s.beta[BF] = [0, Math.log(3)];
      const smp = n.sample('dimension', 2, new Rng(3), false, true, false);
      // Hand: [1, 7/8, 7/8, 7/8, 5/8, 5/8, 5/8, 5/8].
      expectClose(smp.masks.subarray(0, 8), [1, 7 / 8, 7 / 8, 7 / 8, 5 / 8, 5 / 8, 5 / 8, 5 / 8], 1e-7);
      expectClose(smp.masks.subarray(8, 16), refMask(refSoftmax(n.s.alpha[FIN]!), [1, 4, 8], 8), 1e-7);
      expect(smp.gates[0]).to.equal(1);
      expect(smp.gates[1]).to.equal(1);
      expect(smp.gates[2]).to.be.closeTo(0.75, 1e-7); // vector module: still sampled
    });

    it('dimension stage, hard Gumbel: every mask is a nested one-hot rank (leading R_k ones)', () => {
      const n = net();
      const nested = [1, 4, 8].map((r) => Array.from({ length: 8 }, (_, i) => (i < r ? 1 : 0)));
      const seen = new Set<number>();
      const rng = new Rng(8);
      for (let t = 0; t < 60; t++) {
        const smp = n.sample('dimension', 1, rng, true, true, false);
        for (const [o, id] of [
          [0, Q],
          [8, FIN],
        ] as const) {
          const k = smp.ranks.get(id)!.index;
          seen.add(k);
          expect(Array.from(smp.masks.subarray(o, o + 8))).to.deep.equal(nested[k]);
        }
      }
      expect(seen.size).to.equal(3);
    });

    it('dimension stage without early selection: matrix on/off is a hard Gumbel sample of β at τ = 1', () => {
      const n = net();
      n.s.beta[Q] = [0.2, -0.1];
      n.s.beta[FIN] = [-0.3, 0.3];
      const outcomes = new Set<string>();
      for (let seed = 0; seed < 40; seed++) {
        // No-Gumbel ablation for the ranks (no draws), so the stream holds q's two on/off draws,
        // then ffn.in's two; the BitFit is a plain softmax (no draws).
        const rng = new Rng(seed);
        const g = [rng.gumbel(), rng.gumbel(), rng.gumbel(), rng.gumbel()];
        const smp = n.sample('dimension', 4, new Rng(seed), false, false, false);
        const onQ = n.s.beta[Q]![1]! + g[1]! > n.s.beta[Q]![0]! + g[0]! ? 1 : 0;
        const onF = n.s.beta[FIN]![1]! + g[3]! > n.s.beta[FIN]![0]! + g[2]! ? 1 : 0;
        expect([smp.gates[0], smp.gates[1]], `seed ${seed}`).to.deep.equal([onQ, onF]);
        expect(smp.binary.has(Q) || smp.binary.has(FIN)).to.equal(false); // no β gradient in this stage
        outcomes.add(`${onQ}${onF}`);
      }
      expect(outcomes.size).to.be.greaterThan(2);
    });

    it('a pruned module gets gate 0 in every stage and no logit gradient', () => {
      const n = net();
      n.s.kept[Q] = false;
      for (const stage of ['binary', 'dimension', 'derive'] as const) {
        const smp = n.sample(stage, 1, new Rng(2), true, true, true);
        expect(smp.gates[0], stage).to.equal(0);
        expect(smp.binary.has(Q) || smp.ranks.has(Q)).to.equal(false);
        const g = n.backward(smp, new Float32Array(3).fill(1), new Float32Array(16).fill(1));
        expect(g.beta.has(Q) || g.alpha.has(Q)).to.equal(false);
      }
    });

    it('a rank-frozen module uses its frozen rank in the dimension stage and gets no α gradient', () => {
      const n = net();
      n.s.frozen[Q] = 1; // rank 4
      const smp = n.sample('dimension', 1, new Rng(4), true, true, false);
      expect(Array.from(smp.masks.subarray(0, 8))).to.deep.equal([1, 1, 1, 1, 0, 0, 0, 0]);
      expect(smp.ranks.has(Q)).to.equal(false);
      expect(n.backward(smp, undefined, new Float32Array(16).fill(1)).alpha.has(Q)).to.equal(false);
    });

    it('entangled, no Gumbel: mask over {off} ∪ ranks (off mass shrinks the mask), gate 1', () => {
      const n = net('entangled');
      n.s.alpha[Q] = [Math.log(2), 0, Math.log(3), Math.log(4)]; // [2, 1, 3, 4]/10
      const smp = n.sample('dimension', 3, new Rng(1), false, true, false);
      expectClose(smp.masks.subarray(0, 8), [0.8, 0.7, 0.7, 0.7, 0.4, 0.4, 0.4, 0.4], 1e-7);
      expect(smp.gates[0]).to.equal(1);
      expect(smp.joint.has(Q)).to.equal(true);
    });
  });

  describe('logit gradients (backward) against finite differences', () => {
    const cMask = Array.from({ length: 16 }, (_, i) => Math.sin(1 + i) * (i % 3 === 0 ? 2 : 1));

    it('dimension stage: ∂(c·mask)/∂α through the nested mask and the softmax', () => {
      const n = net();
      n.s.alpha[Q] = [0.3, -0.6, 0.15];
      n.s.alpha[FIN] = [-0.2, 0.4, 0.1];
      const smp = n.sample('dimension', 1, new Rng(3), false, true, false);
      const g = n.backward(smp, undefined, Float32Array.from(cMask));
      for (const [o, id] of [
        [0, Q],
        [8, FIN],
      ] as const) {
        const loss = (a: number[]) =>
          refMask(refSoftmax(a), [1, 4, 8], 8).reduce((s, m, i) => s + cMask[o + i]! * m, 0);
        expectClose(g.alpha.get(id)!, numericGrad(loss, n.s.alpha[id]!), 1e-6);
      }
    });

    it('binary stage: ∂(c·gate)/∂β = c·∂softmax(β)[1]/∂β', () => {
      const n = net();
      n.s.beta[Q] = [0.25, -0.5];
      n.s.beta[FIN] = [-0.1, 0.7];
      n.s.beta[BF] = [0.9, 0.0];
      const smp = n.sample('binary', 4, new Rng(3), false, false, false);
      const cGate = [1.5, -0.75, 2];
      const g = n.backward(smp, Float32Array.from(cGate), undefined);
      [Q, FIN, BF].forEach((id, k) => {
        const loss = (b: number[]) => cGate[k]! * refSoftmax(b)[1]!;
        expectClose(g.beta.get(id)!, numericGrad(loss, n.s.beta[id]!), 1e-6);
      });
    });

    it('binary stage, hard Gumbel at τ: straight-through gradient of the soft sample', () => {
      const n = net();
      n.s.beta[Q] = [0.25, -0.5];
      const seed = 21;
      // The first two Gumbel draws of the stream belong to module q (candidate order).
      const rng = new Rng(seed);
      const gq = [rng.gumbel(), rng.gumbel()];
      const tau = 3;
      const smp = n.sample('binary', tau, new Rng(seed), true, false, false);
      const noisy = n.s.beta[Q]!.map((b, i) => b + gq[i]!);
      expect(smp.gates[0]).to.equal(noisy[1]! > noisy[0]! ? 1 : 0);
      const g = n.backward(smp, Float32Array.from([2, 0, 0]), undefined);
      const loss = (b: number[]) => 2 * refSoftmax(b.map((v, i) => (v + gq[i]!) / tau))[1]!;
      expectClose(g.beta.get(Q)!, numericGrad(loss, n.s.beta[Q]!), 1e-6);
    });

    it('entangled: ∂(c·mask)/∂α through the joint {off} ∪ ranks softmax', () => {
      const n = net('entangled');
      n.s.alpha[Q] = [0.2, -0.3, 0.5, 0.1];
      const smp = n.sample('dimension', 1, new Rng(3), false, true, false);
      const g = n.backward(smp, undefined, Float32Array.from(cMask));
      const loss = (a: number[]) =>
        refMask(refSoftmax(a).slice(1), [1, 4, 8], 8).reduce((s, m, i) => s + cMask[i]! * m, 0);
      expectClose(g.alpha.get(Q)!, numericGrad(loss, n.s.alpha[Q]!), 1e-6);
    });
  });

  describe('derive', () => {
    it('argmax β decides on/off, argmax α (or the frozen index) the rank; pruned modules drop out', () => {
      const n = net();
      n.s.beta[Q] = [0, 1];
      n.s.alpha[Q] = [0, 1, 0]; // rank 4
      n.s.beta[FIN] = [1, 0]; // off
      n.s.beta[BF] = [0, 1];
      expect(n.derive(false).modules.map((m) => [m.type, m.point, m.rank])).to.deep.equal([
        ['lora', 'layer.0.attn.q', 4],
        ['bitfit', 'layer.0.ln_attn', null],
      ]);
      // With the keep mask every kept module is in; a frozen rank wins over argmax α.
      n.s.frozen[FIN] = 2;
      n.s.kept[BF] = false;
      expect(n.derive(true).modules.map((m) => [m.point, m.rank])).to.deep.equal([
        ['layer.0.attn.q', 4],
        ['layer.0.ffn.in', 8],
      ]);
    });
  });
});
