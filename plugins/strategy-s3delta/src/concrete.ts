/**
 * S3Delta's binary-concrete gates and their backward (method spec §5.5; thunlp/S3Delta
 * `S3Delta.do_sampling` with the `shift` strategy, soft forward):
 *
 *   p_i = σ((a_i − b)/β)                         shifted global sigmoid (b constant)
 *   q_i = p_i · S̄ / S,  S = Σ_j p_j, S̄ = S detached   optional rescaling (`shift_detach`)
 *   s_i = σ(log(u_i q_i / ((1 − u_i)(1 − q_i))))   binary concrete at temperature 1, u_i ~ U(0, 1)
 *   z_i = clip(s_i, 0, 1)                         the gate fed to module i
 *
 * The rescaling leaves the forward value unchanged (q = p) and only reshapes the gradient, as in
 * the released code. The graph returns dL/dz; the chain rule back to the logits runs here:
 *
 *   dL/dq_i = dL/dz_i · 1[0 ≤ s_i ≤ 1] · s_i(1 − s_i) / (q_i(1 − q_i))
 *   dL/dp_j = (S̄/S)·dL/dq_j − (S̄/S²)·Σ_i dL/dq_i p_i        (rescaling; else dL/dp = dL/dq)
 *   dL/da_j = dL/dp_j · p_j(1 − p_j) / β
 *
 * A probability that is exactly 0 or 1 in float64 is nudged by 1e-7 inside the logit (the released
 * code's EPS) so that the log stays finite; the nudge is a constant, so the gradient passes as is.
 */
import { probabilities } from './shift.js';

const EPS = 1e-7;

export interface RelaxOptions {
  /** Temperature β of the shifted sigmoid (1 in S3Delta). */
  beta: number;
  /** Rescale p by its sum with the sum detached (S3Delta's `shift_detach`, on in its scripts). */
  rescale: boolean;
}

export interface ConcreteSample {
  readonly shift: number;
  readonly u: Float64Array;
  readonly p: Float64Array;
  /** p after the (forward-neutral) rescaling. */
  readonly q: Float64Array;
  readonly s: Float64Array;
  readonly z: Float64Array;
  /** S = Σ p and its detached copy S̄ (equal in a real forward pass). */
  readonly sum: number;
  readonly detachedSum: number;
}

function logit(x: number): number {
  return Math.log(x) - Math.log1p(-x);
}

/**
 * Gates for logits `a` at shift `b` with uniforms `u`. `detachedSum` overrides S̄ (only for
 * finite-difference checks, which must hold the detached quantities fixed).
 */
export function concreteGates(
  logits: ArrayLike<number>,
  shift: number,
  u: ArrayLike<number>,
  opts: RelaxOptions,
  detachedSum?: number,
): ConcreteSample {
  const n = logits.length;
  if (u.length !== n) throw new Error(`concreteGates: ${n} logits but ${u.length} uniforms`);
  const p = probabilities(logits, shift, opts.beta);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += p[i]!;
  const bar = detachedSum ?? sum;
  const q = new Float64Array(n);
  const s = new Float64Array(n);
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    q[i] = opts.rescale ? (p[i]! * bar) / sum : p[i]!;
    const qi = Math.min(1 - EPS, Math.max(EPS, q[i]!));
    const ui = u[i]!;
    if (!(ui > 0 && ui < 1))
      throw new Error(`concreteGates: uniform ${i} is ${ui}, expected a value in (0, 1)`);
    s[i] = 1 / (1 + Math.exp(-(logit(ui) + logit(qi))));
    z[i] = Math.min(1, Math.max(0, s[i]!));
  }
  return { shift, u: Float64Array.from(u), p, q, s, z, sum, detachedSum: bar };
}

/** dL/da from dL/dz for a sample (the shift and S̄ held constant). */
export function concreteBackward(
  sample: ConcreteSample,
  dz: ArrayLike<number>,
  opts: RelaxOptions,
): Float64Array {
  const { p, q, s, sum, detachedSum } = sample;
  const n = p.length;
  if (dz.length !== n) throw new Error(`concreteBackward: ${n} gates but ${dz.length} gate gradients`);
  const dq = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const si = s[i]!;
    if (si < 0 || si > 1) continue;
    const qi = Math.min(1 - EPS, Math.max(EPS, q[i]!));
    dq[i] = (dz[i]! * si * (1 - si)) / (qi * (1 - qi));
  }
  const dp = new Float64Array(n);
  if (opts.rescale) {
    let dot = 0;
    for (let i = 0; i < n; i++) dot += dq[i]! * p[i]!;
    for (let j = 0; j < n; j++) dp[j] = (detachedSum / sum) * dq[j]! - (detachedSum / (sum * sum)) * dot;
  } else dp.set(dq);
  const da = new Float64Array(n);
  for (let j = 0; j < n; j++) da[j] = (dp[j]! * p[j]! * (1 - p[j]!)) / opts.beta;
  return da;
}
