/** Helpers shared by the module types: gating, rank masking and initialisers. */
import type { AttachmentPoint, ModuleBuildContext, Rng } from '@peftkit/api';
import { type Value, ops } from '@peftkit/graph';

/**
 * The gradient convention shared by every gated and rank-masked module type: BIPEFT's detached path
 * (method spec §2.3: Δy = B_eff·A_eff·x with the sample multiplying A with gradient and B detached).
 * Wherever a gate g or a rank-mask entry m enters a module, it enters as the product of its
 * gradient-carrying copy and its detached copy, g·ḡ (m·m̄), so that
 *   ∂L/∂g = ḡ · ∂L/∂(g·ḡ):  a module sampled off (ḡ = 0) gets no gate gradient, and
 *   ∂L/∂m_i = m̄_i · …:       a component above the sampled rank (m̄_i = 0) gets no mask gradient.
 * For the hard 0/1 samples of the reference method the forward value is g (m); strategies with soft
 * gates that want the plain gradient (S3Delta) feed ḡ = 1. Factors the method treats as constants
 * (LoRA's B path, a prefix's values) use the detached copy alone.
 */
export function gatePair(ctx: ModuleBuildContext): Value | null {
  return ctx.gate && ctx.gateDetached ? ops.mul(ctx.gate, ctx.gateDetached) : ctx.gate;
}

/** m·m̄ over the rank components (see gatePair), or null when the module is not rank-masked. */
export function maskPair(ctx: ModuleBuildContext): Value | null {
  return ctx.rankMask && ctx.rankMaskDetached ? ops.mul(ctx.rankMask, ctx.rankMaskDetached) : ctx.rankMask;
}

/**
 * Multiply a module's rank-dimension activations [..., r] (LoRA's x·A, an adapter's bottleneck) by
 * its rank mask and gate, both as gradient·detached pairs. Every later factor (B, W_up) sees the
 * detached values only through this product, which is the spec's A-with-gradient / B-detached split.
 */
export function gateAndMask(ctx: ModuleBuildContext, u: Value): Value {
  const m = maskPair(ctx);
  const g = gatePair(ctx);
  const s = m && g ? ops.mul(m, g) : (m ?? g);
  return s ? ops.mul(u, s) : u;
}

/** Multiply a contribution (a vector module's delta, a whole adapter output) by its gate pair g·ḡ. */
export function gated(ctx: ModuleBuildContext, delta: Value): Value {
  const g = gatePair(ctx);
  return g ? ops.mul(delta, g) : delta;
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
