/**
 * Categorical relaxations of architecture logits, in TypeScript (the graph only sees the sampled
 * gates and rank masks, and returns their gradients).
 *
 * Hard Gumbel-softmax with straight-through (torch.nn.functional.gumbel_softmax(hard=True)): the
 * forward value is the one-hot argmax of (logits + Gumbel noise) / τ, the gradient is that of the
 * soft sample y = softmax((logits + g) / τ):  dlogits_i = y_i (dy_i − Σ_j y_j dy_j) / τ.
 * Without Gumbel noise (ablation), the weights are plain softmax(logits) (no temperature).
 */
import type { Rng } from '@peftkit/api';

export interface CategoricalSample {
  /** Forward weights (one-hot for hard samples). */
  value: number[];
  /** The soft sample whose Jacobian carries the gradient. */
  soft: number[];
  index: number;
  tau: number;
}

export function softmax(x: readonly number[], tau = 1): number[] {
  let m = -Infinity;
  for (const v of x) m = Math.max(m, v / tau);
  const e = x.map((v) => Math.exp(v / tau - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

export function sampleCategorical(
  logits: readonly number[],
  tau: number,
  rng: Rng,
  gumbel: boolean,
): CategoricalSample {
  if (!gumbel) {
    // The no-Gumbel ablation (§2.3): plain softmax weights, no temperature.
    const soft = softmax(logits);
    return { value: soft, soft, index: argmax(soft), tau: 1 };
  }
  const noisy = logits.map((l) => l + rng.gumbel());
  const soft = softmax(noisy, tau);
  const index = argmax(soft);
  return { value: soft.map((_, i) => (i === index ? 1 : 0)), soft, index, tau };
}

/** Gradient w.r.t. the logits given the gradient w.r.t. the sample's forward value. */
export function categoricalBackward(s: CategoricalSample, dValue: readonly number[]): number[] {
  let dot = 0;
  for (let i = 0; i < s.soft.length; i++) dot += s.soft[i]! * dValue[i]!;
  return s.soft.map((y, i) => (y * (dValue[i]! - dot)) / s.tau);
}

/**
 * The released code's regulariser on an architecture tensor: mean over its elements of
 * |softmax(θ) − θ| (softmax over the last axis, i.e. per module). Returns the value and adds
 * `weight` × its gradient to `grads` (same layout: rows of length K). `numel` is the element count
 * of the whole tensor when `rows` are only the rows being optimised (the tensor keeps the rows of
 * pruned and rank-frozen modules, which count in the mean but no longer move anything).
 */
export function softmaxDistanceRegularizer(
  rows: readonly (readonly number[])[],
  weight: number,
  grads: number[][],
  numel = rows.reduce((a, r) => a + r.length, 0),
): number {
  if (numel === 0) return 0;
  let total = 0;
  rows.forEach((theta, r) => {
    const s = softmax(theta);
    const u = theta.map((t, i) => Math.sign(s[i]! - t));
    let us = 0;
    for (let i = 0; i < theta.length; i++) {
      total += Math.abs(s[i]! - theta[i]!);
      us += u[i]! * s[i]!;
    }
    // d/dθ_j Σ_i |s_i − θ_i| = s_j (u_j − Σ_i u_i s_i) − u_j
    for (let j = 0; j < theta.length; j++) grads[r]![j]! += (weight * (s[j]! * (u[j]! - us) - u[j]!)) / numel;
  });
  return (weight * total) / numel;
}
