/** Helpers shared by the module types: gating, rank masking and initialisers. */
import type { AttachmentPoint, ModuleBuildContext, Rng } from '@peftkit/api';
import { type Value, ops } from '@peftkit/graph';

/**
 * Multiply a module's rank-dimension activations [..., r] by its rank mask and gate. Each factor is
 * applied twice, once with and once without gradient (BIPEFT's detached B path): the forward value
 * is g·g·m·m, which equals g·m for the hard 0/1 samples of the reference method.
 */
export function gateAndMask(ctx: ModuleBuildContext, u: Value): Value {
  let s: Value | null = null;
  const times = (a: Value | null, b: Value | null): Value | null => (a && b ? ops.mul(a, b) : (a ?? b));
  s = times(s, ctx.rankMask);
  s = times(s, ctx.rankMaskDetached);
  s = times(s, ctx.gate);
  s = times(s, ctx.gateDetached);
  return s ? ops.mul(u, s) : u;
}

/** Multiply a (vector-module) contribution by its gate, if the program gates it. */
export function gated(ctx: ModuleBuildContext, delta: Value): Value {
  return ctx.gate ? ops.mul(delta, ctx.gate) : delta;
}

/** torch.nn.init.kaiming_uniform_(a=sqrt(5)) on a weight with this fan-in: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function kaimingUniformA5(rng: Rng, n: number, fanIn: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  return Float32Array.from({ length: n }, () => rng.uniform(-bound, bound));
}

/** Glorot (Xavier) uniform: U(-sqrt(6/(fan_in+fan_out)), +sqrt(6/(fan_in+fan_out))). */
export function glorotUniform(rng: Rng, fanIn: number, fanOut: number): Float32Array {
  const bound = Math.sqrt(6 / (fanIn + fanOut));
  return Float32Array.from({ length: fanIn * fanOut }, () => rng.uniform(-bound, bound));
}

export function normal(rng: Rng, n: number, std: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * std);
}

/** Activations the adapter types offer (`gelu_tanh` is HF's "gelu_new", Compacter's adapter activation). */
export type AdapterActivation = 'relu' | 'gelu' | 'gelu_tanh';
export const ADAPTER_ACTIVATIONS: readonly AdapterActivation[] = ['relu', 'gelu', 'gelu_tanh'];

export function activate(x: Value, act: AdapterActivation): Value {
  if (act === 'relu') return ops.relu(x);
  return ops.gelu(x, act === 'gelu_tanh' ? 'tanh' : 'none');
}

/** A required width of an attachment point, with a clear error when the backbone did not declare it. */
export function width(
  type: string,
  point: AttachmentPoint,
  field: 'inFeatures' | 'outFeatures' | 'features' | 'heads' | 'headDim' | 'rows',
): number {
  const v = point[field];
  if (v === undefined || !Number.isInteger(v) || v < 1) {
    throw new Error(`${type} at ${point.name}: the ${point.kind} point declares no ${field}`);
  }
  return v;
}

/** The rank a ranked module is built at, checked to be a positive integer. */
export function rankOf(type: string, point: AttachmentPoint, rank: number | null): number {
  if (rank === null || !Number.isInteger(rank) || rank < 1) {
    throw new Error(`${type} at ${point.name}: needs an integer rank >= 1, got ${rank}`);
  }
  return rank;
}

/** Static size of the last axis of a value (activation widths are static in every backbone). */
export function lastDim(v: Value): number | null {
  const d = v.shape[v.shape.length - 1];
  return typeof d === 'number' ? d : null;
}
