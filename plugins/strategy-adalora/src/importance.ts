/**
 * AdaLoRA's sensitivity-based importance (paper eqs. 8–11; PEFT RankAllocator): per parameter
 * element, I = |w · ∂L/∂w|, its exponential moving average Ī ← β₁Ī + (1 − β₁)I, the uncertainty
 * Ū ← β₂Ū + (1 − β₂)|I − Ī| (with the updated Ī, as PEFT), and the score s = Ī·Ū. The score of
 * singular triplet i of a module is
 *   S_i = s(λ_i) + mean_j s(P_ji) + mean_j s(Q_ij).
 * The EMAs are plain Float32Arrays by parameter name, so they are part of the checkpoint.
 */
import type { ParamSet } from '@peftkit/api';

export interface ImportanceState {
  avg: ParamSet;
  unc: ParamSet;
}

export class TripletImportance {
  constructor(
    private readonly beta1: number,
    private readonly beta2: number,
    public s: ImportanceState = { avg: {}, unc: {} },
  ) {}

  /** Update the EMAs of the named parameters from their values and gradients. */
  update(params: ParamSet, grads: ParamSet, names: readonly string[]): void {
    const { beta1: b1, beta2: b2 } = this;
    for (const n of names) {
      const p = params[n]!;
      const g = grads[n];
      if (!g) throw new Error(`importance: no gradient for ${n}`);
      const avg = (this.s.avg[n] ??= new Float32Array(p.length));
      const unc = (this.s.unc[n] ??= new Float32Array(p.length));
      for (let k = 0; k < p.length; k++) {
        const ipt = Math.abs(p[k]! * g[k]!);
        const a = b1 * avg[k]! + (1 - b1) * ipt;
        avg[k] = a;
        unc[k] = b2 * unc[k]! + (1 - b2) * Math.abs(ipt - a);
      }
    }
  }

  private score(n: string, k: number): number {
    const a = this.s.avg[n];
    return a ? a[k]! * this.s.unc[n]![k]! : 0;
  }

  /** S_i of the r triplets of a module with P [in, r], λ [r], Q [r, out] under these names. */
  tripletScores(
    names: { P: string; lambda: string; Q: string },
    inF: number,
    r: number,
    outF: number,
  ): Float64Array {
    const out = new Float64Array(r);
    for (let i = 0; i < r; i++) {
      let sp = 0;
      for (let a = 0; a < inF; a++) sp += this.score(names.P, a * r + i);
      let sq = 0;
      for (let b = 0; b < outF; b++) sq += this.score(names.Q, i * outF + b);
      out[i] = this.score(names.lambda, i) + sp / inF + sq / outF;
    }
    return out;
  }

  reset(): void {
    this.s = { avg: {}, unc: {} };
  }
}
