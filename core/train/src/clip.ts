/**
 * Global gradient-norm clipping, as torch.nn.utils.clip_grad_norm_ with norm_type 2:
 *   total = sqrt(Σ over all tensors and elements of g²)     (accumulated in float64)
 *   coef  = min(1, maxNorm / (total + 1e-6))
 *   every g ← g · coef  when coef < 1
 * Note the 1e-6: gradients are scaled (by a factor just below 1) as soon as total > maxNorm − 1e-6,
 * not only when total > maxNorm, and a clipped norm ends slightly below maxNorm. As in PyTorch, a
 * non-finite norm turns the gradients into NaN unless `errorIfNonfinite` is set.
 */
import type { ParamSet } from '@peftkit/api';

/** The L2 norm of all gradients taken together. */
export function globalNorm(grads: ParamSet): number {
  let sum = 0;
  for (const g of Object.values(grads)) {
    for (let i = 0; i < g.length; i++) sum += g[i]! * g[i]!;
  }
  return Math.sqrt(sum);
}

export interface ClipOptions {
  /** Throw (leaving the gradients unchanged) when the total norm is NaN or infinite. */
  errorIfNonfinite?: boolean;
}

/** Clip `grads` in place to a global L2 norm of at most `maxNorm`; returns the norm before clipping. */
export function clipGradNorm(grads: ParamSet, maxNorm: number, options: ClipOptions = {}): number {
  if (!(maxNorm >= 0)) {
    throw new RangeError(`clipGradNorm: maxNorm must be >= 0, got ${maxNorm}`);
  }
  const total = globalNorm(grads);
  if (!Number.isFinite(total) && options.errorIfNonfinite) {
    const bad = Object.entries(grads).find(([, g]) => g.some((x) => !Number.isFinite(x)))?.[0];
    throw new RangeError(
      `clipGradNorm: the total gradient norm is ${total} (first non-finite gradient: "${bad}")`,
    );
  }
  // Math.min(1, NaN) is NaN, so a NaN norm propagates into the gradients as it does in PyTorch.
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  if (!(coef >= 1)) {
    for (const g of Object.values(grads)) {
      for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
    }
  }
  return total;
}
