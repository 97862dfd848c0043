/**
 * The second-order DARTS architecture gradient (Liu et al., 2019), as S3Delta's `Architect`
 * computes it (thunlp/S3Delta NAS_global/architect.py):
 *
 *   w'   = one virtual weight step from w on a training batch (learning rate ξ)
 *   g_a  = ∇_a L_val(w', a) − ξ · ∇²_{a,w} L_train(w, a) · ∇_{w'} L_val(w', a)
 *
 * with the mixed second derivative times a vector by central finite differences:
 *
 *   v = ∇_{w'} L_val(w', a),  ε = 0.01 / (‖v‖ + 1e-6),  w± = w ± ε·v
 *   ∇²_{a,w} L_train · v ≈ (∇_a L_train(w+, a) − ∇_a L_train(w−, a)) / (2ε)
 *
 * These helpers are the pure arithmetic; the strategy turns each gradient into a job.
 */
import type { ParamSet } from '@peftkit/api';

/** ‖v‖₂ over every tensor of a parameter set. */
export function paramNorm(v: ParamSet): number {
  let s = 0;
  for (const t of Object.values(v)) for (let i = 0; i < t.length; i++) s += t[i]! * t[i]!;
  return Math.sqrt(s);
}

/** ε = scale / (‖v‖ + 1e-6): the step that moves the weights by `scale` along v. */
export function hvpEpsilon(direction: ParamSet, scale = 0.01): number {
  return scale / (paramNorm(direction) + 1e-6);
}

/** w + α·v as a new parameter set (tensors v lacks are copied unchanged). */
export function addScaled(w: ParamSet, v: ParamSet, alpha: number): ParamSet {
  const out: ParamSet = {};
  for (const [name, t] of Object.entries(w)) {
    const d = v[name];
    if (!d) {
      out[name] = t.slice();
      continue;
    }
    if (d.length !== t.length) {
      throw new Error(`addScaled: "${name}" has ${t.length} values but the direction ${d.length}`);
    }
    const r = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) r[i] = t[i]! + alpha * d[i]!;
    out[name] = r;
  }
  return out;
}

/** (g+ − g−) / (2ε): the finite-difference product of the mixed Hessian with the direction. */
export function finiteDifferenceHvp(
  gradPlus: ArrayLike<number>,
  gradMinus: ArrayLike<number>,
  eps: number,
): Float64Array {
  if (gradPlus.length !== gradMinus.length) {
    throw new Error(`finiteDifferenceHvp: ${gradPlus.length} vs ${gradMinus.length} values`);
  }
  const out = new Float64Array(gradPlus.length);
  for (let i = 0; i < out.length; i++) out[i] = (gradPlus[i]! - gradMinus[i]!) / (2 * eps);
  return out;
}

/** g_a = ∇_a L_val(w') − ξ · HVP (the DARTS second-order architecture gradient). */
export function unrolledArchGradient(
  valGrad: ArrayLike<number>,
  hvp: ArrayLike<number>,
  xi: number,
): Float64Array {
  if (valGrad.length !== hvp.length) {
    throw new Error(`unrolledArchGradient: ${valGrad.length} vs ${hvp.length} values`);
  }
  const out = new Float64Array(valGrad.length);
  for (let i = 0; i < out.length; i++) out[i] = valGrad[i]! - xi * hvp[i]!;
  return out;
}
