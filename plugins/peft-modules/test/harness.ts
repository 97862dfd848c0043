/**
 * Shared test harness: the tiny fixture backbone and task with every built-in module type, and
 * helpers to run composed programs, check their gradients against finite differences and swap
 * merged weights into a module-free program.
 */
import { Rng, type ModuleTypes, type ParamSet, type PeftModuleType, type ProgramSpec } from '@peftkit/api';
import type { TensorData } from '@peftkit/graph';
import {
  type BuiltProgram,
  PeftToolkit,
  batchFeeds,
  buildProgram,
  encodeExamples,
  paramFeeds,
} from '@peftkit/nn';
import { runGraph, tinyBackbone, tinyTask } from '@peftkit/testing';
import { builtinModuleTypes } from '../src/index.js';

export const types: ModuleTypes = {
  get(name: string): PeftModuleType {
    const t = builtinModuleTypes[name];
    if (!t) throw new Error(`no module type ${name}`);
    return t;
  },
  names: () => Object.keys(builtinModuleTypes),
};

export const backbone = tinyBackbone({ hidden: 8, layers: 2, heads: 2 });
export const task = tinyTask({ train: 48 });
export const ctx = { backbone, task: task.info, types };
export const toolkit = new PeftToolkit(backbone, task.info, types);
export const encoded = encodeExamples(backbone.tokenizer, task.splits.train, 'none', 32);

/** Names of the tiny backbone's points of one kind. */
export function pointsOf(kind: string): string[] {
  return backbone.info.points.filter((p) => p.kind === kind).map((p) => p.name);
}

/** Every point a type accepts on the tiny backbone. */
export function acceptedPoints(type: string): string[] {
  const t = types.get(type);
  return backbone.info.points.filter((p) => t.attachesTo.includes(p.kind) && t.accepts(p)).map((p) => p.name);
}

/** Add N(0, scale²) noise to every parameter (zero-initialised factors would hide gradients). */
export function perturb(params: ParamSet, seed: number, scale = 0.3): ParamSet {
  const rng = new Rng(seed);
  const out: ParamSet = {};
  for (const [k, v] of Object.entries(params)) out[k] = Float32Array.from(v, (x) => x + rng.normal() * scale);
  return out;
}

export function headOf(params: ParamSet): ParamSet {
  return { 'head/weight': params['head/weight']!, 'head/bias': params['head/bias']! };
}

const f32 = (data: Float32Array): TensorData => ({ dtype: 'float32', shape: [data.length], data });

/** Gate and rank-mask feeds; the detached copies default to the gradient-carrying values. */
export function archFeeds(
  built: BuiltProgram,
  arch: {
    gates?: Float32Array;
    masks?: Float32Array;
    gatesDetached?: Float32Array;
    masksDetached?: Float32Array;
  },
): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  if (built.layout.gated.length) {
    feeds.gates = f32(arch.gates!);
    feeds.gates_detached = f32(arch.gatesDetached ?? arch.gates!);
  }
  if (built.layout.rankMasked.length) {
    feeds.rank_masks = f32(arch.masks!);
    feeds.rank_masks_detached = f32(arch.masksDetached ?? arch.masks!);
  }
  return feeds;
}

/** Gates all `gate` and rank masks keeping the leading `rank` components of every masked module. */
export function hardArch(built: BuiltProgram, gate: number, rank: (id: string) => number) {
  const gates = new Float32Array(built.layout.gated.length).fill(gate);
  const total = built.layout.rankMasked.reduce((a, m) => a + m.length, 0);
  const masks = new Float32Array(total);
  for (const m of built.layout.rankMasked) masks.fill(1, m.offset, m.offset + Math.min(rank(m.id), m.length));
  return { gates, masks };
}

export const BATCH = [0, 1, 2, 3, 4];

export async function logits(
  built: BuiltProgram,
  params: ParamSet,
  arch: Parameters<typeof archFeeds>[1] = {},
  indices: readonly number[] = BATCH,
): Promise<Float32Array> {
  const train = built.graph.inputs.some((v) => v.name === 'labels');
  const batch = batchFeeds(encoded, indices, built.layout, backbone.tokenizer.padId, train);
  const out = await runGraph(
    built.graph,
    { ...batch, ...paramFeeds(built.layout, params), ...archFeeds(built, arch) },
    ['logits'],
  );
  return out.logits!.data as Float32Array;
}

export function maxDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

/**
 * Compare the train program's analytic gradients with central differences of its loss: `coords`
 * coordinates of each named parameter (or the given coordinates), and every listed gate / mask
 * entry. Returns the worst relative error.
 */
export async function gradientCheck(
  spec: ProgramSpec,
  opts: {
    seed: number;
    params: Record<string, number | number[]>;
    gateEntries?: number[];
    maskEntries?: number[];
    noise?: number;
  },
): Promise<{ worst: number; checked: number }> {
  const built = buildProgram(ctx, spec, 'train');
  const { layout } = built;
  const params = perturb(toolkit.init(spec, new Rng(opts.seed)), opts.seed + 1, opts.noise ?? 0.3);
  const G = layout.gated.length;
  const R = layout.rankMasked.reduce((a, m) => a + m.length, 0);
  const gates = Float32Array.from({ length: G }, (_, i) => 0.5 + (i % 3) * 0.25);
  const masks = Float32Array.from({ length: R }, (_, i) => 0.3 + (i % 5) * 0.15);
  const batch = batchFeeds(encoded, [0, 1, 2, 3], layout, backbone.tokenizer.padId, true);
  const arch = (gv: Float32Array, mv: Float32Array) =>
    archFeeds(built, { gates: gv, masks: mv, gatesDetached: gates, masksDetached: masks });
  const lossAt = async (p: ParamSet, gv = gates, mv = masks) =>
    (await runGraph(built.graph, { ...batch, ...paramFeeds(layout, p), ...arch(gv, mv) }, ['loss'])).loss!
      .data[0] as number;
  const fetch = ['loss', ...layout.params.map((p) => `grad:${p.name}`)];
  if (G) fetch.push('grad:gates');
  if (R) fetch.push('grad:rank_masks');
  const out = await runGraph(
    built.graph,
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
  const rng = new Rng(opts.seed + 2);
  for (const [name, which] of Object.entries(opts.params)) {
    const g = out[`grad:${name}`]?.data as Float32Array | undefined;
    if (!g) throw new Error(`program has no gradient for ${name}`);
    const coords = typeof which === 'number' ? Array.from({ length: which }, () => rng.int(g.length)) : which;
    for (const i of coords) {
      const p1 = { ...params, [name]: params[name]!.slice() };
      p1[name]![i]! += eps;
      const p2 = { ...params, [name]: params[name]!.slice() };
      p2[name]![i]! -= eps;
      check(g[i]!, await lossAt(p1), await lossAt(p2));
    }
  }
  const shifted = (v: Float32Array, i: number, d: number) => {
    const c = v.slice();
    c[i]! += d;
    return c;
  };
  for (const i of opts.gateEntries ?? []) {
    const dg = out['grad:gates']!.data as Float32Array;
    check(
      dg[i]!,
      await lossAt(params, shifted(gates, i, eps)),
      await lossAt(params, shifted(gates, i, -eps)),
    );
  }
  for (const i of opts.maskEntries ?? []) {
    const dm = out['grad:rank_masks']!.data as Float32Array;
    check(
      dm[i]!,
      await lossAt(params, gates, shifted(masks, i, eps)),
      await lossAt(params, gates, shifted(masks, i, -eps)),
    );
  }
  return { worst, checked };
}

/**
 * Logits of the module-free program with some frozen weights replaced (`<point>.<role>` → tensor):
 * what a merged export computes.
 */
export async function logitsWithWeights(
  replaced: Record<string, TensorData>,
  head: ParamSet,
  indices: readonly number[] = BATCH,
): Promise<Float32Array> {
  const b = buildProgram(ctx, { modules: [] }, 'eval');
  for (const [name, data] of Object.entries(replaced)) {
    const entry = [...b.graph.initializers.entries()].find(([v]) => v.name === name);
    if (!entry) throw new Error(`no initializer ${name}`);
    (entry[1] as { data: TensorData }).data = data;
  }
  return logits(b, head, {}, indices);
}
