/**
 * Transformer building blocks that call the encoder hooks at every attachment point. Backbones are
 * written with these, which is what guarantees that every point a backbone lists is really hooked
 * (and hooked the same way in every backbone).
 *
 * Conventions: activations are [B, T, H] (symbolic B and T); linear weights are stored [in, out]
 * and applied as x·W (no transposed copies); attention works on [B, heads, T, headDim].
 */
import type { EncoderHooks } from '@peftkit/api';
import { type Graph, type TensorData, type Value, ops } from '@peftkit/graph';

export interface LayerContext {
  readonly g: Graph;
  readonly hooks: EncoderHooks;
  readonly train: boolean;
}

/** y = x·W (+ b), then the point's `linear` hook. `weight` is [in, out]. */
export function linear(
  ctx: LayerContext,
  point: string,
  x: Value,
  weight: TensorData,
  bias?: TensorData,
): Value {
  const w = ctx.hooks.weight(point, 'weight', weight);
  let y = ops.matmul(x, w);
  if (bias) y = ops.add(y, ctx.hooks.weight(point, 'bias', bias));
  return ctx.hooks.linear(point, x, y);
}

/** LayerNormalization over the last axis, then the point's `layerNorm` hook. */
export function layerNorm(
  ctx: LayerContext,
  point: string,
  x: Value,
  scale: TensorData,
  shift: TensorData | undefined,
  epsilon: number,
): Value {
  const s = ctx.hooks.weight(point, 'scale', scale);
  const b = shift ? ctx.hooks.weight(point, 'shift', shift) : null;
  const y = ops.layerNorm(x, s, b, epsilon, -1);
  return ctx.hooks.layerNorm(point, x, y, epsilon);
}

/** Embedding lookup: table [rows, width] gathered by int64 ids. */
export function embedding(ctx: LayerContext, point: string, ids: Value, table: TensorData): Value {
  return ops.gather(ctx.hooks.weight(point, 'table', table), ids, 0);
}

/** Additive attention mask from a [B, T] 0/1 mask: [B, 1, 1, T], 0 for tokens, -1e9 for padding. */
export function attentionMaskBias(mask: Value): Value {
  return ops.mul(ops.sub(1, ops.unsqueeze(mask, [1, 2])), -1e9);
}

export interface AttentionWeights {
  q: { weight: TensorData; bias?: TensorData };
  k: { weight: TensorData; bias?: TensorData };
  v: { weight: TensorData; bias?: TensorData };
  o: { weight: TensorData; bias?: TensorData };
}

export interface AttentionShape {
  heads: number;
  headDim: number;
  /** Multiplier of q·kᵀ (1/sqrt(headDim) unless the model says otherwise). */
  scale: number;
}

function splitHeads(x: Value, heads: number, headDim: number): Value {
  // [B, T, heads*headDim] -> [B, heads, T, headDim]
  return ops.transpose(ops.reshape(x, [0, 0, heads, headDim]), [0, 2, 1, 3]);
}

function mergeHeads(x: Value, heads: number, headDim: number): Value {
  // [B, heads, T, headDim] -> [B, T, heads*headDim]
  return ops.reshape(ops.transpose(x, [0, 2, 1, 3]), [0, 0, heads * headDim]);
}

/**
 * Multi-head self-attention with separate q/k/v/o projections at `${prefix}.q|k|v|o` and the
 * prefix hooks at `${prefix}.scores`. `x` is the (normalised) input [B, T, H]; returns the output
 * projection [B, T, H_out] (before any residual).
 */
export function selfAttention(
  ctx: LayerContext,
  prefix: string,
  x: Value,
  w: AttentionWeights,
  shape: AttentionShape,
  maskBias: Value,
): Value {
  const { heads, headDim, scale } = shape;
  const q = splitHeads(linear(ctx, `${prefix}.q`, x, w.q.weight, w.q.bias), heads, headDim);
  const k0 = splitHeads(linear(ctx, `${prefix}.k`, x, w.k.weight, w.k.bias), heads, headDim);
  const v0 = splitHeads(linear(ctx, `${prefix}.v`, x, w.v.weight, w.v.bias), heads, headDim);
  const scoresPoint = `${prefix}.scores`;
  const { k, v, maskBias: bias } = ctx.hooks.attentionKeys(scoresPoint, { k: k0, v: v0, maskBias });
  const scores = ops.add(ops.mul(ops.matmul(q, ops.transposeLast2(k)), scale), bias);
  const probs = ops.softmax(scores, -1);
  const context = ctx.hooks.attentionContext(scoresPoint, q, ops.matmul(probs, v), scale);
  return linear(ctx, `${prefix}.o`, mergeHeads(context, heads, headDim), w.o.weight, w.o.bias);
}

/** Mean over the tokens where mask is 1: [B, T, H] x [B, T] -> [B, H]. */
export function maskedMeanPool(h: Value, mask: Value): Value {
  const m = ops.unsqueeze(mask, [2]);
  const total = ops.reduceSum(ops.mul(h, m), [1], false);
  const count = ops.max2(ops.reduceSum(m, [1], false), 1e-9);
  return ops.div(total, count);
}

export type Activation = 'relu' | 'gelu' | 'gelu_tanh';

export function activate(x: Value, act: Activation): Value {
  if (act === 'relu') return ops.relu(x);
  return ops.gelu(x, act === 'gelu_tanh' ? 'tanh' : 'none');
}

export interface FeedForwardWeights {
  in: { weight: TensorData; bias?: TensorData };
  out: { weight: TensorData; bias?: TensorData };
}

/** Position-wise FFN with linears at `${prefix}.in` and `${prefix}.out`. */
export function feedForward(
  ctx: LayerContext,
  prefix: string,
  x: Value,
  w: FeedForwardWeights,
  act: Activation,
): Value {
  const h = activate(linear(ctx, `${prefix}.in`, x, w.in.weight, w.in.bias), act);
  return linear(ctx, `${prefix}.out`, h, w.out.weight, w.out.bias);
}
