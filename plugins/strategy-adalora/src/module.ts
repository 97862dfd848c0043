/**
 * The `adalora` PEFT module type (AdaLoRA's SVD-form update, Zhang et al., ICLR 2023), at linear
 * points, in peftkit's [in, out] weight convention:
 *
 *   y' = y + (alpha / r_s) · ((x·P) ⊙ (Λ ⊙ m)) · Q,    P ∈ R^{in×r}, Λ ∈ R^r, Q ∈ R^{r×out}
 *
 * i.e. ΔW = (alpha / r_s) · P · diag(Λ ⊙ m) · Q. P holds the right singular vectors (PEFT's lora_A
 * [r, in] is Pᵀ), Q the left ones (PEFT's lora_B [out, r] is Qᵀ) and Λ the singular values (PEFT's
 * lora_E [r, 1]). Parameters: r·(in + out + 1).
 *
 * m is the program's rank mask (both the gradient-carrying and the detached copy, as for LoRA; a
 * 0/1 mask makes m·m̄ = m), so a strategy switches triplets off between steps without recompiling;
 * gates, when the program has them, multiply Λ the same way.
 *
 * Initialisation as PEFT's AdaLoraLayer.reset_lora_parameters: Λ = 0 (the update starts at zero),
 * P and Q ~ N(0, 0.02²).
 *
 * Scaling as PEFT's SVDLinear: lora_alpha / ranknum, where ranknum is the rank the layer was created
 * with. Option `alpha` (default 8, PEFT's lora_alpha default) and `scalingRank` r_s (default: the
 * rank the module is built at). A module cut down to its kept triplets keeps r_s = the initial rank,
 * so it computes exactly what the trained, masked module computed. (PEFT adds 1e-5 to ranknum; the
 * difference is a relative 1e-6 and is not reproduced.)
 */
import {
  type AttachmentPoint,
  ConfigError,
  type HookResult,
  type HookSite,
  type JsonSchema,
  type ModuleBuildContext,
  type PeftModuleType,
  type Rng,
  siteValue,
} from '@peftkit/api';
import { type TensorData, type Value, ops } from '@peftkit/graph';

export const ADALORA = 'adalora';
export const DEFAULT_ALPHA = 8;
const INIT_STD = 0.02;

/** JSON Schema of the module's per-instance options. */
export const adaloraModuleOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    alpha: {
      type: 'number',
      exclusiveMinimum: 0,
      default: DEFAULT_ALPHA,
      description: 'Scaling numerator: the update is multiplied by alpha / scalingRank.',
    },
    scalingRank: {
      type: 'integer',
      minimum: 1,
      description: 'Rank the scaling divides by (default: the initial rank, as in AdaLoRA).',
    },
  },
};

export interface AdaLoraModuleOptions {
  alpha: number;
  scalingRank: number;
}

/** Options of one module, checked (a program built without the engine fails the same way). */
export function adaloraOptions(
  point: AttachmentPoint,
  rank: number | null,
  options: Readonly<Record<string, unknown>>,
): AdaLoraModuleOptions {
  const where = `${ADALORA} module options (${point.name})`;
  for (const k of Object.keys(options)) {
    if (k !== 'alpha' && k !== 'scalingRank') {
      throw new ConfigError(`unknown option "${k}"; ${ADALORA} takes alpha, scalingRank`, undefined, where);
    }
  }
  const r = rankOf(point, rank);
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  if (typeof alpha !== 'number' || !(alpha > 0) || !Number.isFinite(alpha)) {
    throw new ConfigError(`alpha: got ${JSON.stringify(alpha)}, expected a number > 0`, undefined, where);
  }
  const scalingRank = options.scalingRank ?? r;
  if (typeof scalingRank !== 'number' || !Number.isInteger(scalingRank) || scalingRank < 1) {
    throw new ConfigError(
      `scalingRank: got ${JSON.stringify(scalingRank)}, expected an integer >= 1`,
      undefined,
      where,
    );
  }
  return { alpha, scalingRank };
}

function rankOf(point: AttachmentPoint, rank: number | null): number {
  if (rank === null || !Number.isInteger(rank) || rank < 1) {
    throw new Error(`${ADALORA} at ${point.name}: needs an integer rank >= 1, got ${rank}`);
  }
  return rank;
}

function dims(point: AttachmentPoint): [number, number] {
  if (!point.inFeatures || !point.outFeatures) {
    throw new Error(`${ADALORA} at ${point.name}: the point declares no inFeatures/outFeatures`);
  }
  return [point.inFeatures, point.outFeatures];
}

function normal(rng: Rng, n: number, std: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * std);
}

export const adalora: PeftModuleType = {
  name: ADALORA,
  description:
    'AdaLoRA: SVD-form low-rank update P·diag(Λ)·Q in parallel with a frozen linear layer; triplets are masked through the rank mask',
  attachesTo: ['linear'],
  optionsSchema: adaloraModuleOptionsSchema,
  ranked: true,
  // The scale alpha/r_s uses the built rank unless scalingRank pins r_s.
  exactRankSlice: (options) => options.scalingRank !== undefined,
  order: 10,
  accepts: (p) => p.inFeatures !== undefined && p.outFeatures !== undefined,
  params(point, rank, options) {
    adaloraOptions(point, rank, options);
    const r = rankOf(point, rank);
    const [i, o] = dims(point);
    return [
      { name: 'P', shape: [i, r], rankAxis: 1 },
      { name: 'lambda', shape: [r], rankAxis: 0 },
      { name: 'Q', shape: [r, o], rankAxis: 0 },
    ];
  },
  init(point, rank, options, rng) {
    adaloraOptions(point, rank, options);
    const r = rankOf(point, rank);
    const [i, o] = dims(point);
    const P = normal(rng, i * r, INIT_STD);
    const Q = normal(rng, r * o, INIT_STD);
    return { P, lambda: new Float32Array(r), Q };
  },
  apply(ctx: ModuleBuildContext, site: HookSite): HookResult {
    if (site.kind !== 'linear') return siteValue(site);
    const { alpha, scalingRank } = adaloraOptions(ctx.point, ctx.rank, ctx.options);
    let s: Value = ctx.param('lambda');
    for (const f of [ctx.rankMask, ctx.rankMaskDetached, ctx.gate, ctx.gateDetached])
      if (f) s = ops.mul(s, f);
    const delta = ops.matmul(ops.mul(ops.matmul(site.x, ctx.param('P')), s), ctx.param('Q'));
    const scale = alpha / scalingRank;
    return ops.add(site.y, scale === 1 ? delta : ops.mul(delta, scale));
  },
  lowRank(point, rank, options, params) {
    const { alpha, scalingRank } = adaloraOptions(point, rank, options);
    const scale = alpha / scalingRank;
    return { A: params.P!, scales: Float32Array.from(params.lambda!, (l) => l * scale), B: params.Q! };
  },
  merge(point, rank, options, params, role, frozen): TensorData | null {
    if (role !== 'weight') return null;
    const { alpha, scalingRank } = adaloraOptions(point, rank, options);
    const [i, o] = dims(point);
    const r = rank!;
    const scale = alpha / scalingRank;
    const P = params.P!;
    const L = params.lambda!;
    const Q = params.Q!;
    const w = Float32Array.from(frozen.data as Float32Array);
    for (let a = 0; a < i; a++) {
      for (let k = 0; k < r; k++) {
        const x = P[a * r + k]! * L[k]! * scale;
        if (x === 0) continue;
        for (let b = 0; b < o; b++) w[a * o + b] = w[a * o + b]! + x * Q[k * o + b]!;
      }
    }
    return { dtype: 'float32', shape: [...frozen.shape], data: w };
  },
};
