/**
 * The `adalora` module type through the program builder on the tiny fixture transformer: parameter
 * count, initialisation, the composed train program's gradients against finite differences, the
 * rank mask as "triplet removed" (a masked rank-4 module equals the rank-3 module of its kept
 * triplets), and merging into the frozen weight.
 */
import { expect } from 'chai';
import { Rng, type ModuleTypes, type PeftModuleType, type ProgramSpec } from '@peftkit/api';
import type { TensorData } from '@peftkit/graph';
import { PeftToolkit, batchFeeds, buildProgram, encodeExamples, paramFeeds } from '@peftkit/nn';
import { runGraph, tinyBackbone, tinyTask } from '@peftkit/testing';
import { adalora } from '../src/module.js';

const types: ModuleTypes = {
  get: (n: string): PeftModuleType => {
    if (n !== 'adalora') throw new Error(`no module type ${n}`);
    return adalora;
  },
  names: () => ['adalora'],
};

const backbone = tinyBackbone({ hidden: 8, layers: 2, heads: 2 });
const task = tinyTask({ train: 8 });
const ctx = { backbone, task: task.info, types };
const linearPoints = backbone.info.points.filter((p) => p.kind === 'linear').map((p) => p.name);
const toolkit = new PeftToolkit(backbone, task.info, types);
const encoded = encodeExamples(backbone.tokenizer, task.splits.train, 'none', 32);
const f32 = (d: Float32Array): TensorData => ({ dtype: 'float32', shape: [d.length], data: d });

function randomize(params: Record<string, Float32Array>, seed: number) {
  const rng = new Rng(seed);
  for (const k of Object.keys(params)) params[k] = Float32Array.from(params[k]!, () => rng.normal() * 0.5);
}

describe('adalora module', () => {
  it('has r · (in + out + 1) parameters: P [in, r], Λ [r], Q [r, out]', () => {
    for (const name of ['layer.0.attn.q', 'layer.1.ffn.in', 'layer.1.ffn.out']) {
      const p = toolkit.point(name);
      for (const r of [1, 3, 12]) {
        expect(toolkit.count('adalora', name, r)).to.equal(r * (p.inFeatures! + p.outFeatures! + 1));
        expect(toolkit.specs('adalora', name, r).map((s) => s.shape)).to.deep.equal([
          [p.inFeatures, r],
          [r],
          [r, p.outFeatures],
        ]);
      }
    }
    expect(() => toolkit.count('adalora', 'layer.0.attn.q', 2, { rank: 3 })).to.throw(
      /unknown option "rank"/,
    );
  });

  it('initialises Λ to zero and P, Q from N(0, 0.02²) (PEFT)', () => {
    const p = toolkit.init({ modules: [{ type: 'adalora', point: 'layer.0.ffn.in', rank: 64 }] }, new Rng(3));
    expect(Array.from(p['adalora@layer.0.ffn.in/lambda']!).every((x) => x === 0)).to.equal(true);
    for (const n of ['P', 'Q']) {
      const v = p[`adalora@layer.0.ffn.in/${n}`]!;
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
      expect(std).to.be.closeTo(0.02, 0.002);
      expect(mean).to.be.closeTo(0, 0.002);
    }
  });

  it('composed train program: P, Λ, Q, head, gate and rank-mask gradients match finite differences', async function () {
    this.timeout(60_000);
    const spec: ProgramSpec = {
      modules: linearPoints.map((point) => ({
        type: 'adalora',
        point,
        rank: 3,
        options: { alpha: 6, scalingRank: 4 },
        gated: true,
        rankMasked: true,
      })),
    };
    const { graph, layout } = buildProgram(ctx, spec, 'train');
    const params = toolkit.init(spec, new Rng(1));
    randomize(params, 2);
    const G = layout.gated.length;
    const R = layout.rankMasked.reduce((a, m) => a + m.length, 0);
    const gates = Float32Array.from({ length: G }, (_, i) => 0.5 + (i % 3) * 0.25);
    const masks = Float32Array.from({ length: R }, (_, i) => 0.3 + (i % 5) * 0.15);
    const arch = (gv: Float32Array, mv: Float32Array): Record<string, TensorData> => ({
      gates: f32(gv),
      gates_detached: f32(gates),
      rank_masks: f32(mv),
      rank_masks_detached: f32(masks),
    });
    const batch = batchFeeds(encoded, [0, 1, 2, 3], layout, 0, true);
    const lossAt = async (p: Record<string, Float32Array>, gv = gates, mv = masks) =>
      (await runGraph(graph, { ...batch, ...paramFeeds(layout, p), ...arch(gv, mv) }, ['loss'])).loss!
        .data[0] as number;
    const fetch = ['loss', ...layout.params.map((p) => `grad:${p.name}`), 'grad:gates', 'grad:rank_masks'];
    const out = await runGraph(
      graph,
      { ...batch, ...paramFeeds(layout, params), ...arch(gates, masks) },
      fetch,
    );
    const eps = 1e-2;
    let worst = 0;
    let checked = 0;
    const check = (analytic: number, plus: number, minus: number) => {
      const numeric = (plus - minus) / (2 * eps);
      worst = Math.max(
        worst,
        Math.abs(numeric - analytic) / Math.max(Math.abs(numeric), Math.abs(analytic), 1e-2),
      );
      checked++;
    };
    const rng = new Rng(3);
    for (const name of [
      'adalora@layer.0.attn.q/P',
      'adalora@layer.0.attn.q/lambda',
      'adalora@layer.1.ffn.out/Q',
      'adalora@layer.0.ffn.in/lambda',
      'adalora@layer.1.attn.v/P',
      'head/weight',
    ]) {
      const g = out[`grad:${name}`]!.data as Float32Array;
      for (let k = 0; k < 3; k++) {
        const i = rng.int(g.length);
        const p1 = { ...params, [name]: params[name]!.slice() };
        p1[name]![i]! += eps;
        const p2 = { ...params, [name]: params[name]!.slice() };
        p2[name]![i]! -= eps;
        check(g[i]!, await lossAt(p1), await lossAt(p2));
      }
    }
    const dg = out['grad:gates']!.data as Float32Array;
    const dm = out['grad:rank_masks']!.data as Float32Array;
    for (const i of [0, G - 1]) {
      const a = gates.slice();
      a[i]! += eps;
      const b = gates.slice();
      b[i]! -= eps;
      check(dg[i]!, await lossAt(params, a, masks), await lossAt(params, b, masks));
    }
    for (const i of [0, 4, R - 1]) {
      const a = masks.slice();
      a[i]! += eps;
      const b = masks.slice();
      b[i]! -= eps;
      check(dm[i]!, await lossAt(params, gates, a), await lossAt(params, gates, b));
    }
    expect(checked).to.equal(6 * 3 + 2 + 3);
    expect(worst).to.be.lessThan(5e-3);
  });

  it('a masked triplet is removed: the rank-4 module with mask [1,0,1,1] equals the rank-3 module of the kept triplets', async () => {
    const options = { alpha: 8, scalingRank: 4 };
    const spec: ProgramSpec = {
      modules: linearPoints.map((point) => ({ type: 'adalora', point, rank: 4, options, rankMasked: true })),
    };
    const masked = buildProgram(ctx, spec, 'train');
    const params = toolkit.init(spec, new Rng(5));
    randomize(params, 6);
    const R = masked.layout.rankMasked.reduce((a, m) => a + m.length, 0);
    const mask = Float32Array.from({ length: R }, (_, i) => (i % 4 === 1 ? 0 : 1));
    const batch = batchFeeds(encoded, [0, 1, 2], masked.layout, 0, true);
    const fetch = ['loss', 'logits', ...masked.layout.params.map((p) => `grad:${p.name}`)];
    const a = await runGraph(
      masked.graph,
      {
        ...batch,
        ...paramFeeds(masked.layout, params),
        rank_masks: f32(mask),
        rank_masks_detached: f32(mask),
      },
      fetch,
    );
    // The masked triplet's Λ gets no gradient from the loss.
    for (const p of linearPoints)
      expect((a[`grad:adalora@${p}/lambda`]!.data as Float32Array)[1]).to.equal(0);
    // Gather triplets 0, 2, 3 into a rank-3 module with the same scaling rank.
    const small: ProgramSpec = {
      modules: linearPoints.map((point) => ({ type: 'adalora', point, rank: 3, options })),
    };
    const compact = buildProgram(ctx, small, 'eval');
    const keep = [0, 2, 3];
    const cp: Record<string, Float32Array> = {
      'head/weight': params['head/weight']!,
      'head/bias': params['head/bias']!,
    };
    for (const point of linearPoints) {
      const pt = toolkit.point(point);
      const id = `adalora@${point}`;
      const P = params[`${id}/P`]!;
      const Q = params[`${id}/Q`]!;
      cp[`${id}/P`] = Float32Array.from(
        { length: pt.inFeatures! * 3 },
        (_, k) => P[Math.floor(k / 3) * 4 + keep[k % 3]!]!,
      );
      cp[`${id}/lambda`] = Float32Array.from(keep, (i) => params[`${id}/lambda`]![i]!);
      cp[`${id}/Q`] = Float32Array.from(
        keep.flatMap((i) => Array.from(Q.subarray(i * pt.outFeatures!, (i + 1) * pt.outFeatures!))),
      );
    }
    const b = await runGraph(compact.graph, { ...batch, ...paramFeeds(compact.layout, cp) }, ['logits']);
    const la = a.logits!.data as Float32Array;
    const lb = b.logits!.data as Float32Array;
    la.forEach((v, i) => expect(v).to.be.closeTo(lb[i]!, 1e-5));
    // And the mask really changed the computation.
    const all = await runGraph(
      masked.graph,
      {
        ...batch,
        ...paramFeeds(masked.layout, params),
        rank_masks: f32(new Float32Array(R).fill(1)),
        rank_masks_detached: f32(new Float32Array(R).fill(1)),
      },
      ['logits'],
    );
    const lAll = all.logits!.data as Float32Array;
    expect(Math.max(...lAll.map((v, i) => Math.abs(v - la[i]!)))).to.be.greaterThan(1e-3);
  });

  it('merges into the frozen weight: W + (alpha/r_s)·P·diag(Λ)·Q gives the branch outputs', async () => {
    const point = 'layer.1.ffn.in';
    const options = { alpha: 4, scalingRank: 3 };
    const spec: ProgramSpec = { modules: [{ type: 'adalora', point, rank: 2, options }] };
    const params = toolkit.init(spec, new Rng(8));
    randomize(params, 9);
    const merged = adalora.merge!(
      toolkit.point(point),
      2,
      options,
      {
        P: params[`adalora@${point}/P`]!,
        lambda: params[`adalora@${point}/lambda`]!,
        Q: params[`adalora@${point}/Q`]!,
      },
      'weight',
      backbone.pretrained(point).weight!,
    )!;
    const a = buildProgram(ctx, spec, 'eval');
    const batch = batchFeeds(encoded, [0, 1], a.layout, 0, false);
    const branch = (await runGraph(a.graph, { ...batch, ...paramFeeds(a.layout, params) }, ['logits']))
      .logits!.data as Float32Array;
    const b = buildProgram(ctx, { modules: [] }, 'eval');
    const init = [...b.graph.initializers.entries()].find(([v]) => v.name === `${point}.weight`)!;
    (init[1] as { data: TensorData }).data = merged;
    const head = { 'head/weight': params['head/weight']!, 'head/bias': params['head/bias']! };
    const mergedOut = (await runGraph(b.graph, { ...batch, ...paramFeeds(b.layout, head) }, ['logits']))
      .logits!.data as Float32Array;
    mergedOut.forEach((v, i) => expect(v).to.be.closeTo(branch[i]!, 1e-4));
    expect(
      adalora.merge!(toolkit.point(point), 2, options, {}, 'bias', backbone.pretrained(point).bias!),
    ).to.equal(null);
  });
});
