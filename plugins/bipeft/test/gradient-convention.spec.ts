/**
 * One gradient convention for every gated and rank-masked module type (the detached path of method
 * spec §2.3, peft-modules' common.ts): on the whole S1, S2 and mixed supernets of the tiny fixture,
 * run one architecture step's gradient program under hard samples drawn by the supernet itself and
 * check, per module type, that
 * - a module sampled off gets exactly zero gate gradient, hence zero β gradient, and
 * - a rank component above the sampled rank gets exactly zero rank-mask gradient,
 * while modules sampled on (and components below the rank) do get gradients (not vacuous).
 */
import { expect } from 'chai';
import { Rng, type ParamSet } from '@peftkit/api';
import { PeftToolkit, batchFeeds, buildProgram, encodeExamples, paramFeeds } from '@peftkit/nn';
import type { TensorData } from '@peftkit/graph';
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import { runGraph, tinyBackbone, tinyTask, toModuleTypes } from '@peftkit/testing';
import { MIXED_ENTRIES, PatternSpace, S1_ENTRIES, S2_ENTRIES, Supernet } from '../src/index.js';

const types = toModuleTypes(builtinModuleTypes);
const backbone = tinyBackbone({ hidden: 8, layers: 2, heads: 2 });
const task = tinyTask({ train: 16 });
const ctx = { backbone, task: task.info, types };
const toolkit = new PeftToolkit(backbone, task.info, types);
const encoded = encodeExamples(backbone.tokenizer, task.splits.train, 'none', 32);
const f32 = (data: Float32Array): TensorData => ({ dtype: 'float32', shape: [data.length], data });

/** Parameters with noise everywhere (zero-initialised factors would hide every gradient). */
function noisy(params: ParamSet, seed: number): ParamSet {
  const rng = new Rng(seed);
  return Object.fromEntries(
    Object.entries(params).map(([k, v]) => [k, Float32Array.from(v, (x) => x + 0.3 * rng.normal())]),
  );
}

interface PerType {
  offZero: number;
  offTotal: number;
  onNonzero: number;
  aboveZero: number;
  aboveTotal: number;
  belowNonzero: number;
}

describe('one gradient convention: the detached path for every gated and rank-masked type', function () {
  this.timeout(120_000);
  const spaces = { s1: S1_ENTRIES, s2: S2_ENTRIES, mixed: MIXED_ENTRIES };
  for (const [name, entries] of Object.entries(spaces)) {
    it(`${name}: sampled off → no gate/β gradient; above the sampled rank → no mask gradient`, async () => {
      const candidates = new PatternSpace(name, entries).build(backbone.info, types).candidates;
      const net = Supernet.init(candidates, toolkit, 'disentangled', new Rng(5));
      const built = buildProgram(ctx, net.program(), 'train');
      const params = noisy(net.s.params, 6);
      const batch = batchFeeds(encoded, [0, 1, 2, 3], built.layout, backbone.tokenizer.padId, true);
      const stats = new Map<string, PerType>();
      const of = (type: string) => {
        let s = stats.get(type);
        if (!s) {
          s = { offZero: 0, offTotal: 0, onNonzero: 0, aboveZero: 0, aboveTotal: 0, belowNonzero: 0 };
          stats.set(type, s);
        }
        return s;
      };
      const rng = new Rng(7);
      // Binary steps (on/off sampled, ranks at argmax) and dimension steps (ranks sampled, all on).
      for (let k = 0; k < 6; k++) {
        const sample =
          k % 2 === 0
            ? net.sample('binary', 1, rng, true, false, false)
            : net.sample('dimension', 1, rng, true, true, false);
        const out = await runGraph(
          built.graph,
          {
            ...batch,
            ...paramFeeds(built.layout, params),
            gates: f32(sample.gates),
            gates_detached: f32(sample.gates),
            rank_masks: f32(sample.masks),
            rank_masks_detached: f32(sample.masks),
          },
          ['grad:gates', 'grad:rank_masks'],
        );
        const dGates = out['grad:gates']!.data as Float32Array;
        const dMasks = out['grad:rank_masks']!.data as Float32Array;
        const { beta } = net.backward(sample, dGates, dMasks);
        built.layout.gated.forEach((id, gi) => {
          const c = net.byId.get(id)!;
          const s = of(c.type);
          if (sample.gates[gi] === 0) {
            s.offTotal++;
            const b = beta.get(id) ?? [0, 0];
            if (dGates[gi] === 0 && b.every((v) => v === 0)) s.offZero++;
          } else if (dGates[gi] !== 0) s.onNonzero++;
        });
        for (const m of built.layout.rankMasked) {
          const c = net.byId.get(m.id)!;
          const s = of(c.type);
          const gate = sample.gates[built.layout.gated.indexOf(m.id)]!;
          for (let i = 0; i < m.length; i++) {
            if (sample.masks[m.offset + i] === 0) {
              s.aboveTotal++;
              if (dMasks[m.offset + i] === 0) s.aboveZero++;
            } else if (gate !== 0 && dMasks[m.offset + i] !== 0) s.belowNonzero++;
          }
        }
      }
      const expectedTypes = [...new Set(candidates.map((c) => c.type))].sort();
      expect([...stats.keys()].sort()).to.deep.equal(expectedTypes);
      for (const [type, s] of stats) {
        expect(s.offTotal, `${type}: some module sampled off`).to.be.greaterThan(0);
        expect(s.offZero, `${type}: modules sampled off with zero gate and β gradient`).to.equal(s.offTotal);
        expect(s.onNonzero, `${type}: modules sampled on with a gate gradient`).to.be.greaterThan(0);
        const ranked = candidates.some((c) => c.type === type && c.ranks);
        if (!ranked) continue;
        expect(s.aboveTotal, `${type}: some component above the sampled rank`).to.be.greaterThan(0);
        expect(s.aboveZero, `${type}: components above the sampled rank with zero mask gradient`).to.equal(
          s.aboveTotal,
        );
        expect(s.belowNonzero, `${type}: components within the rank with a mask gradient`).to.be.greaterThan(
          0,
        );
      }
    });
  }
});
