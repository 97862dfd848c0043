/**
 * The `grad-norm` importance estimator: how strongly the loss pulls on a module's parameters,
 * measured by the root-mean-square of its weight-batch gradient and smoothed over iterations,
 *
 *   g_j = ‖∇_θj L_w‖₂ / √n_j          (n_j: the module's parameters at its full rank)
 *   Ī_j ← β·Ī_j + (1 − β)·g_j
 *
 * Unlike BIPEFT's sensitivity Σ|θ ⊙ ∇θ|, it does not multiply by the parameter values, so a module
 * whose factors start at zero (LoRA's B, a zero-initialised adapter) is not scored as unimportant
 * just because it has not moved yet. Dividing the norm by √n_j rather than n_j keeps scores
 * comparable between modules of different sizes: for gradients of similar per-parameter magnitude
 * the RMS does not grow with the module (`normalization: 'size'` divides by n_j instead, which
 * favours small modules; `'none'` uses the plain norm).
 *
 * Options: `beta` (smoothing, default 0.85), `source` (`weight`: the weight-batch gradients, the
 * default; `arch`: the architecture-batch ones; `both`: their mean), `normalization`. A module
 * missing from an observation (a pruned one) gets g_j = 0, so its score decays by β per iteration.
 */
import type { ImportanceEstimator, ImportanceSample, JsonSchema } from '@peftkit/api';
import { ConfigError } from '@peftkit/api';

export type GradientSource = 'weight' | 'arch' | 'both';
export type Normalization = 'rms' | 'size' | 'none';

export interface GradNormOptions {
  beta?: number;
  source?: GradientSource;
  normalization?: Normalization;
}

export const gradNormOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    beta: {
      type: 'number',
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0.85,
      description: 'EMA factor: the weight of the previous score at each iteration.',
    },
    source: {
      enum: ['weight', 'arch', 'both'],
      default: 'weight',
      description: 'Which gradients to measure: weight batch, architecture batch, or the mean of both norms.',
    },
    normalization: {
      enum: ['rms', 'size', 'none'],
      default: 'rms',
      description: 'Divide the gradient norm by √n (rms), by n (size), or not at all (none).',
    },
  },
};

/** What state() returns: tagged, so that restoring another estimator's state is an error. */
interface GradNormState {
  estimator: 'grad-norm';
  scores: [string, number][];
}

/** ‖g‖₂ over the tensors of one module. */
function norm(grads: readonly Float32Array[]): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return Math.sqrt(s);
}

export class GradNormEstimator implements ImportanceEstimator {
  readonly beta: number;
  readonly source: GradientSource;
  readonly normalization: Normalization;
  private smoothed = new Map<string, number>();

  constructor(options: GradNormOptions = {}) {
    const beta = options.beta ?? 0.85;
    if (typeof beta !== 'number' || !(beta >= 0 && beta < 1)) {
      throw new ConfigError(
        `got ${JSON.stringify(beta)}, expected a number in [0, 1)`,
        undefined,
        'grad-norm options.beta',
      );
    }
    const source = options.source ?? 'weight';
    if (!['weight', 'arch', 'both'].includes(source)) {
      throw new ConfigError(
        `got ${JSON.stringify(source)}, expected weight, arch or both`,
        undefined,
        'grad-norm options.source',
      );
    }
    const normalization = options.normalization ?? 'rms';
    if (!['rms', 'size', 'none'].includes(normalization)) {
      throw new ConfigError(
        `got ${JSON.stringify(normalization)}, expected rms, size or none`,
        undefined,
        'grad-norm options.normalization',
      );
    }
    this.beta = beta;
    this.source = source;
    this.normalization = normalization;
  }

  /** The unsmoothed score g_j of one sample (0 when it carries none of the chosen gradients). */
  raw(sample: ImportanceSample): number {
    const norms: number[] = [];
    if (this.source !== 'arch' && sample.weightGrads) norms.push(norm(sample.weightGrads));
    if (this.source !== 'weight' && sample.archGrads) norms.push(norm(sample.archGrads));
    if (norms.length === 0) return 0;
    const n = norms.reduce((a, b) => a + b, 0) / norms.length;
    const size = Math.max(1, sample.size);
    return this.normalization === 'rms' ? n / Math.sqrt(size) : this.normalization === 'size' ? n / size : n;
  }

  observe(_step: number, samples: readonly ImportanceSample[]): void {
    const raw = new Map<string, number>();
    for (const s of samples) raw.set(s.id, this.raw(s));
    for (const id of this.smoothed.keys()) if (!raw.has(id)) raw.set(id, 0);
    for (const [id, g] of raw)
      this.smoothed.set(id, this.beta * (this.smoothed.get(id) ?? 0) + (1 - this.beta) * g);
  }

  scores(): ReadonlyMap<string, number> {
    return new Map(this.smoothed);
  }

  state(): unknown {
    const state: GradNormState = { estimator: 'grad-norm', scores: [...this.smoothed] };
    return state;
  }

  restore(state: unknown): void {
    const s = state as Partial<GradNormState> | null;
    if (!s || s.estimator !== 'grad-norm' || !Array.isArray(s.scores)) {
      throw new Error(
        `grad-norm: cannot restore from ${JSON.stringify(state)?.slice(0, 80)} (not a grad-norm state; was the run started with another importance estimator?)`,
      );
    }
    this.smoothed = new Map(s.scores.map(([id, v]) => [String(id), Number(v)]));
  }
}
