/**
 * BIPEFT's module sensitivity (method spec §2.5), an AdaLoRA-style importance at module level:
 *
 *   S^w_j = Σ_θ Σ |θ ⊙ ∇_θ L_w|     (weight-batch loss)
 *   S^a_j = Σ_θ Σ |θ ⊙ ∇_θ L_a|     (architecture-batch loss, same iteration)
 *   c_j   = mean over θ of cos(θ ⊙ ∇L_w, θ ⊙ ∇L_a)
 *   s_j   = S^w_j / n_j + c_j · S^a_j / n_j                   (criterion `tra_val_cos1`, default)
 *   Ī_j ← β1 Ī_j + (1 − β1) s_j;   Ū_j ← β2 Ū_j + (1 − β2) |s_j − Ī_j|
 *
 * The score is Ī_j (as released) or Ī_j·Ū_j (AdaLoRA's product; the paper's choice is unknown, so it
 * is a switch). Variants: `tra` (first term), `val` (S^a/n), `tra_val` (sum), `tra_val_cos2`
 * (c·(S^w + S^a)/n); `absGrad: false` uses −Σ(θ⊙∇) instead of Σ|θ⊙∇|. A module missing from an
 * observation (pruned) gets raw score 0, so its averages decay.
 */
import type { ImportanceEstimator, ImportanceSample, JsonSchema } from '@peftkit/api';

export type Criterion = 'tra_val_cos1' | 'tra' | 'val' | 'tra_val' | 'tra_val_cos2';

export interface SensitivityOptions {
  criterion?: Criterion;
  beta1?: number;
  beta2?: number;
  useUncertainty?: boolean;
  absGrad?: boolean;
}

export const sensitivityOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    criterion: {
      enum: ['tra_val_cos1', 'tra', 'val', 'tra_val', 'tra_val_cos2'],
      default: 'tra_val_cos1',
      description: 'How the weight-batch and architecture-batch sensitivities combine (spec §2.5).',
    },
    beta1: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.85,
      description: 'EMA factor of the sensitivity.',
    },
    beta2: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.85,
      description: 'EMA factor of the uncertainty.',
    },
    useUncertainty: {
      type: 'boolean',
      default: false,
      description: 'Rank by Ī·Ū (AdaLoRA) instead of Ī (released BIPEFT code).',
    },
    absGrad: { type: 'boolean', default: true, description: 'Use Σ|θ⊙∇| (true) or −Σ(θ⊙∇) (false).' },
  },
};

interface Entry {
  mean: number;
  unc: number;
}

/** Σ|θ⊙g| (or −Σθ⊙g) over one tensor. */
function sensitivitySum(theta: Float32Array, grad: Float32Array, abs: boolean): number {
  let s = 0;
  if (abs) for (let i = 0; i < theta.length; i++) s += Math.abs(theta[i]! * grad[i]!);
  else for (let i = 0; i < theta.length; i++) s -= theta[i]! * grad[i]!;
  return s;
}

/** cos(θ⊙a, θ⊙b), 0 when either vector is zero. */
function cosineOfProducts(theta: Float32Array, a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < theta.length; i++) {
    const t2 = theta[i]! * theta[i]!;
    ab += t2 * a[i]! * b[i]!;
    aa += t2 * a[i]! * a[i]!;
    bb += t2 * b[i]! * b[i]!;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

export class BipeftSensitivity implements ImportanceEstimator {
  private readonly criterion: Criterion;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly useUncertainty: boolean;
  private readonly absGrad: boolean;
  private entries = new Map<string, Entry>();
  /** Raw score of the last observation, for the journal. */
  lastRaw = new Map<string, number>();

  constructor(options: SensitivityOptions = {}) {
    this.criterion = options.criterion ?? 'tra_val_cos1';
    this.beta1 = options.beta1 ?? 0.85;
    this.beta2 = options.beta2 ?? 0.85;
    this.useUncertainty = options.useUncertainty ?? false;
    this.absGrad = options.absGrad ?? true;
  }

  /** The raw (unsmoothed) score s_j of one sample. */
  raw(sample: ImportanceSample): number {
    const n = sample.size;
    const sw = sample.weightGrads
      ? sample.params.reduce((a, t, k) => a + sensitivitySum(t, sample.weightGrads![k]!, this.absGrad), 0)
      : 0;
    const sa = sample.archGrads
      ? sample.params.reduce((a, t, k) => a + sensitivitySum(t, sample.archGrads![k]!, this.absGrad), 0)
      : 0;
    let c = 0;
    if (sample.weightGrads && sample.archGrads && sample.params.length > 0) {
      c =
        sample.params.reduce(
          (a, t, k) => a + cosineOfProducts(t, sample.weightGrads![k]!, sample.archGrads![k]!),
          0,
        ) / sample.params.length;
    }
    switch (this.criterion) {
      case 'tra':
        return sw / n;
      case 'val':
        return sa / n;
      case 'tra_val':
        return (sw + sa) / n;
      case 'tra_val_cos2':
        return (c * (sw + sa)) / n;
      case 'tra_val_cos1':
        return sw / n + (c * sa) / n;
    }
  }

  observe(_step: number, samples: readonly ImportanceSample[]): void {
    const raw = new Map<string, number>();
    for (const s of samples) raw.set(s.id, this.raw(s));
    for (const id of this.entries.keys()) if (!raw.has(id)) raw.set(id, 0);
    for (const [id, s] of raw) {
      const e = this.entries.get(id) ?? { mean: 0, unc: 0 };
      e.mean = this.beta1 * e.mean + (1 - this.beta1) * s;
      e.unc = this.beta2 * e.unc + (1 - this.beta2) * Math.abs(s - e.mean);
      this.entries.set(id, e);
    }
    this.lastRaw = raw;
  }

  scores(): ReadonlyMap<string, number> {
    const out = new Map<string, number>();
    for (const [id, e] of this.entries) out.set(id, this.useUncertainty ? e.mean * e.unc : e.mean);
    return out;
  }

  state(): unknown {
    return { entries: [...this.entries].map(([id, e]) => [id, e.mean, e.unc]) };
  }

  restore(state: unknown): void {
    const s = state as { entries: [string, number, number][] };
    this.entries = new Map(s.entries.map(([id, mean, unc]) => [id, { mean, unc }]));
  }
}
