/**
 * LoRA through the program builder on the tiny fixture transformer: the whole composed train
 * program (2 layers, LoRA on every linear, gates and rank masks) against finite differences, and
 * the supernet behaviour (gates and rank masks switch modules without recompiling).
 */
import { expect } from 'chai';
import { Rng, type ModuleTypes, type PeftModuleType, type ProgramSpec } from '@peftkit/api';
import type { TensorData } from '@peftkit/graph';
import { PeftToolkit, batchFeeds, buildProgram, encodeExamples, paramFeeds } from '@peftkit/nn';
import { runGraph, tinyBackbone, tinyTask } from '@peftkit/testing';
import { lora } from '../src/lora.js';

const types: ModuleTypes = {
  get: (n: string): PeftModuleType => {
    if (n !== 'lora') throw new Error(`no module type ${n}`);
    return lora;
  },
  names: () => ['lora'],
};

const backbone = tinyBackbone({ hidden: 8, layers: 2, heads: 2 });
const task = tinyTask({ train: 8 });
const ctx = { backbone, task: task.info, types };
const linearPoints = backbone.info.points.filter((p) => p.kind === 'linear').map((p) => p.name);
const toolkit = new PeftToolkit(backbone, task.info, types);
const encoded = encodeExamples(backbone.tokenizer, task.splits.train, 'none', 32);

function randomize(params: Record<string, Float32Array>, seed: number) {
  const rng = new Rng(seed);
  for (const k of Object.keys(params)) params[k] = Float32Array.from(params[k]!, () => rng.normal() * 0.5);
}

describe('LoRA module', () => {
  it('has r * (in + out) parameters', () => {
    const p = backbone.info.points.find((x) => x.name === 'layer.0.ffn.in')!;
    for (const r of [1, 4, 8])
      expect(toolkit.count('lora', p.name, r)).to.equal(r * (p.inFeatures! + p.outFeatures!));
  });

  it('composed train program: parameter, gate and rank-mask gradients match finite differences', async function () {
    this.timeout(60_000);
    const spec: ProgramSpec = {
      modules: linearPoints.map((point) => ({ type: 'lora', point, rank: 3, gated: true, rankMasked: true })),
    };
    const { graph, layout } = buildProgram(ctx, spec, 'train');
    const params = toolkit.init(spec, new Rng(1));
    randomize(params, 2);
    const G = layout.gated.length;
    const R = layout.rankMasked.reduce((a, m) => a + m.length, 0);
    const gates = Float32Array.from({ length: G }, (_, i) => 0.5 + (i % 3) * 0.25);
    const masks = Float32Array.from({ length: R }, (_, i) => 0.3 + (i % 5) * 0.15);
    const arch = (gv: Float32Array, mv: Float32Array): Record<string, TensorData> => ({
      gates: { dtype: 'float32', shape: [G], data: gv },
      gates_detached: { dtype: 'float32', shape: [G], data: gates },
      rank_masks: { dtype: 'float32', shape: [R], data: mv },
      rank_masks_detached: { dtype: 'float32', shape: [R], data: masks },
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
    const check = (analytic: number, plus: number, minus: number) => {
      const numeric = (plus - minus) / (2 * eps);
      worst = Math.max(
        worst,
        Math.abs(numeric - analytic) / Math.max(Math.abs(numeric), Math.abs(analytic), 1e-2),
      );
    };
    const rng = new Rng(3);
    for (const name of [
      `lora@layer.0.attn.q/A`,
      `lora@layer.1.ffn.out/B`,
      `lora@layer.0.ffn.in/B`,
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
    for (const i of [0, 5, R - 1]) {
      const a = masks.slice();
      a[i]! += eps;
      const b = masks.slice();
      b[i]! -= eps;
      check(dm[i]!, await lossAt(params, gates, a), await lossAt(params, gates, b));
    }
    expect(worst).to.be.lessThan(5e-3);
  });

  it('supernet: gates and rank masks switch modules between runs without recompiling', async () => {
    const spec: ProgramSpec = {
      modules: linearPoints.map((point) => ({ type: 'lora', point, rank: 4, gated: true, rankMasked: true })),
    };
    const supernet = buildProgram(ctx, spec, 'eval');
    const frozen = buildProgram(ctx, { modules: [] }, 'eval');
    const params = toolkit.init(spec, new Rng(5));
    randomize(params, 6);
    const batch = batchFeeds(encoded, [0, 1, 2], supernet.layout, 0, false);
    const G = supernet.layout.gated.length;
    const R = supernet.layout.rankMasked.reduce((a, m) => a + m.length, 0);
    const run = async (gate: number, rank: number) => {
      const gv = new Float32Array(G).fill(gate);
      const mv = new Float32Array(R);
      supernet.layout.rankMasked.forEach((m) => mv.fill(1, m.offset, m.offset + rank));
      const f = (d: Float32Array, n: number): TensorData => ({ dtype: 'float32', shape: [n], data: d });
      const r = await runGraph(
        supernet.graph,
        {
          ...batch,
          ...paramFeeds(supernet.layout, params),
          gates: f(gv, G),
          gates_detached: f(gv, G),
          rank_masks: f(mv, R),
          rank_masks_detached: f(mv, R),
        },
        ['logits'],
      );
      return r.logits!.data as Float32Array;
    };
    // Gate 0: exactly the frozen model plus the head.
    const head = { 'head/weight': params['head/weight']!, 'head/bias': params['head/bias']! };
    const base = (await runGraph(frozen.graph, { ...batch, ...paramFeeds(frozen.layout, head) }, ['logits']))
      .logits!.data as Float32Array;
    const off = await run(0, 4);
    off.forEach((v, i) => expect(v).to.be.closeTo(base[i]!, 1e-5));
    // Rank mask 2 of 4: exactly a rank-2 program built from the leading slices.
    const r2spec: ProgramSpec = { modules: linearPoints.map((point) => ({ type: 'lora', point, rank: 2 })) };
    const r2 = buildProgram(ctx, r2spec, 'eval');
    let sliced: Record<string, Float32Array> = { ...head };
    for (const p of linearPoints) sliced = { ...sliced, ...toolkit.slice(params, 'lora', p, 4, 2) };
    const want = (await runGraph(r2.graph, { ...batch, ...paramFeeds(r2.layout, sliced) }, ['logits']))
      .logits!.data as Float32Array;
    const got = await run(1, 2);
    got.forEach((v, i) => expect(v).to.be.closeTo(want[i]!, 1e-5));
    // And the full rank differs from rank 2 (the mask really changed the computation).
    const full = await run(1, 4);
    expect(Math.max(...full.map((v, i) => Math.abs(v - got[i]!)))).to.be.greaterThan(1e-3);
  });

  it('merges into the frozen weight: W + (alpha/r) A·B gives the same outputs as the branch', async () => {
    const point = 'layer.1.attn.v';
    const spec: ProgramSpec = { modules: [{ type: 'lora', point, rank: 2, options: { alpha: 4 } }] };
    const params = toolkit.init(spec, new Rng(8));
    randomize(params, 9);
    const p = toolkit.point(point);
    const merged = lora.merge!(
      p,
      2,
      { alpha: 4 },
      { A: params[`lora@${point}/A`]!, B: params[`lora@${point}/B`]! },
      'weight',
      backbone.pretrained(point).weight!,
    )!;
    const a = buildProgram(ctx, spec, 'eval');
    const batch = batchFeeds(encoded, [0, 1], a.layout, 0, false);
    const branch = (await runGraph(a.graph, { ...batch, ...paramFeeds(a.layout, params) }, ['logits']))
      .logits!.data as Float32Array;
    // Same backbone with the merged weight swapped in, no modules.
    const swapped = { ...backbone, pretrained: backbone.pretrained, encode: backbone.encode };
    const b = buildProgram({ ...ctx, backbone: swapped }, { modules: [] }, 'eval');
    const init = [...b.graph.initializers.entries()].find(([v]) => v.name === `${point}.weight`)!;
    (init[1] as { data: TensorData }).data = merged;
    const head = { 'head/weight': params['head/weight']!, 'head/bias': params['head/bias']! };
    const mergedOut = (await runGraph(b.graph, { ...batch, ...paramFeeds(b.layout, head) }, ['logits']))
      .logits!.data as Float32Array;
    mergedOut.forEach((v, i) => expect(v).to.be.closeTo(branch[i]!, 1e-4));
  });
});
