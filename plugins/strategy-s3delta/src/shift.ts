/**
 * S3Delta's shifted global sigmoid (method spec §5.5): module i is on with probability
 *
 *   p_i = σ((a_i − b) / β),
 *
 * where the shift b is chosen at every step so that the expected size Σ_i p_i n_i equals the
 * budget B exactly. The released code solves this with scipy's `fsolve`; here it is a bracketed
 * bisection, which always converges because the expected size is strictly decreasing in b. The
 * shift is a constant for the gradient (fsolve sits outside autograd in the original as well).
 */

/** σ(x), without overflow for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** Σ_i n_i σ((a_i − b) / β): the expected number of trainable parameters at shift b. */
export function expectedSize(
  logits: ArrayLike<number>,
  sizes: ArrayLike<number>,
  shift: number,
  beta = 1,
): number {
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += sizes[i]! * sigmoid((logits[i]! - shift) / beta);
  return total;
}

/** p_i = σ((a_i − b) / β) for every module. */
export function probabilities(logits: ArrayLike<number>, shift: number, beta = 1): Float64Array {
  const p = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) p[i] = sigmoid((logits[i]! - shift) / beta);
  return p;
}

/**
 * The shift b with Σ_i n_i σ((a_i − b)/β) = budget. Requires 0 < budget < Σ_i n_i (sizes > 0).
 *
 * Bracket (no search needed): at b_hi = max(a) + β(ln(N/B) + 1) every p_i < B/(e·N), so the
 * expected size is below B; at b_lo = min(a) − β(ln(N/(N − B)) + 1) every 1 − p_i < (N − B)/(e·N),
 * so it is above B (N = Σ n_i). Bisection then runs until the bracket cannot shrink in float64,
 * which pins the expected size to B within a relative 1e-12 or better.
 */
export function solveShift(
  logits: ArrayLike<number>,
  sizes: ArrayLike<number>,
  budget: number,
  beta = 1,
): number {
  if (logits.length !== sizes.length) {
    throw new Error(`solveShift: ${logits.length} logits but ${sizes.length} module sizes`);
  }
  if (!(beta > 0) || !Number.isFinite(beta)) throw new Error(`solveShift: beta must be > 0, got ${beta}`);
  let total = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < sizes.length; i++) {
    const n = sizes[i]!;
    if (!(n > 0)) throw new Error(`solveShift: module ${i} has size ${n}; sizes must be > 0`);
    const a = logits[i]!;
    if (!Number.isFinite(a)) throw new Error(`solveShift: logit ${i} is ${a}`);
    total += n;
    lo = Math.min(lo, a);
    hi = Math.max(hi, a);
  }
  if (!(budget > 0 && budget < total)) {
    throw new Error(
      `solveShift: the budget must lie strictly between 0 and the total size ${total}, got ${budget}`,
    );
  }
  lo -= beta * (Math.log(total / (total - budget)) + 1);
  hi += beta * (Math.log(total / budget) + 1);
  const f = (b: number) => expectedSize(logits, sizes, b, beta) - budget;
  let fLo = f(lo);
  let fHi = f(hi);
  for (let it = 0; it < 2000; it++) {
    const mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    const fm = f(mid);
    if (fm === 0) return mid;
    if (fm > 0) {
      lo = mid;
      fLo = fm;
    } else {
      hi = mid;
      fHi = fm;
    }
  }
  return Math.abs(fLo) <= Math.abs(fHi) ? lo : hi;
}
