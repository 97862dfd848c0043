/**
 * The `__NAME__` importance estimator: how strongly the loss pulls on a module, as the
 * root-mean-square of its weight-batch gradient, smoothed over iterations,
 *
 *   g_j = ‖∇θ_j L‖₂ / √n_j        (n_j: the module's parameters at its full rank)
 *   I_j ← β·I_j + (1 − β)·g_j     (g_j = 0 for a module absent from an observation)
 */
import type { ImportanceEstimator, ImportanceSample, JsonSchema } from '@peftkit/api';
import { ConfigError } from '@peftkit/api';

export interface __CLASS__Options {
  beta?: number;
}

export const __CLASS__OptionsSchema: JsonSchema = {
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
  },
};

/** ‖g‖₂ over the tensors of one module. */
function norm(grads: readonly Float32Array[]): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return Math.sqrt(s);
}

export class __CLASS__ implements ImportanceEstimator {
  readonly beta: number;
  private smoothed = new Map<string, number>();

  constructor(options: __CLASS__Options = {}) {
    this.beta = options.beta ?? 0.85;
    if (typeof this.beta !== 'number' || !(this.beta >= 0 && this.beta < 1))
      throw new ConfigError(
        `got ${JSON.stringify(this.beta)}, expected a number in [0, 1)`,
        undefined,
        'beta',
      );
  }

  /** The unsmoothed score of one sample (0 without weight gradients). */
  raw(sample: ImportanceSample): number {
    return sample.weightGrads ? norm(sample.weightGrads) / Math.sqrt(Math.max(1, sample.size)) : 0;
  }

  observe(_step: number, samples: readonly ImportanceSample[]): void {
    const raw = new Map<string, number>();
    for (const s of samples) raw.set(s.id, this.raw(s)); // computed now: the arrays are reused
    for (const id of this.smoothed.keys()) if (!raw.has(id)) raw.set(id, 0); // pruned: decays
    for (const [id, g] of raw)
      this.smoothed.set(id, this.beta * (this.smoothed.get(id) ?? 0) + (1 - this.beta) * g);
  }

  scores(): ReadonlyMap<string, number> {
    return new Map(this.smoothed);
  }

  state(): unknown {
    return { estimator: '__NAME__', scores: [...this.smoothed] }; // plain data, tagged
  }

  restore(state: unknown): void {
    const s = state as { estimator?: unknown; scores?: unknown } | null;
    if (!s || s.estimator !== '__NAME__' || !Array.isArray(s.scores))
      throw new Error(
        `__NAME__: cannot restore from ${JSON.stringify(state)?.slice(0, 80)} (not a __NAME__ state)`,
      );
    this.smoothed = new Map((s.scores as [string, number][]).map(([id, v]) => [String(id), Number(v)]));
  }
}
