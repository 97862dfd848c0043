/**
 * LoRA (Hu et al., 2021): a low-rank update in parallel with a frozen linear layer,
 *   y = x·W + b + (alpha / r) · (x·A)·B,   A ∈ R^{in×r}, B ∈ R^{r×out}.
 * peftkit stores A as [in, r] and B as [r, out] so that the graph needs no transposes; export
 * writes PEFT's [r, in] / [out, r] layout. A is Kaiming-uniform (a=√5), B is zero, so training
 * starts from the frozen model. Parameters: r · (in + out).
 *
 * `alpha` defaults to the rank (scaling 1, as in BIPEFT and S3Delta). In a supernet the rank mask
 * keeps the leading components; the scaling uses the rank the module is built at.
 */
import {
  type AttachmentPoint,
  type HookResult,
  type HookSite,
  type ModuleBuildContext,
  type PeftModuleType,
  siteValue,
} from '@peftkit/api';
import { type TensorData, ops } from '@peftkit/graph';
import { gateAndMask, kaimingUniformA5 } from './common.js';
import { type Options, checkKeys, objectSchema, positiveNumberOption } from './options.js';

const NAME = 'lora';

/** Per-instance options: `alpha` (default: the rank, i.e. scaling 1). */
export const loraOptionsSchema = objectSchema({
  alpha: {
    type: 'number',
    exclusiveMinimum: 0,
    description: 'scaling numerator: the update is scaled by alpha / rank (default: the rank, scaling 1)',
  },
});

/**
 * The update's scaling alpha / rank, with the options checked again (a program built without the
 * engine fails with the option's name instead of silently using the default).
 */
function loraScale(options: Options, rank: number): number {
  checkKeys(NAME, options, ['alpha']);
  return positiveNumberOption(NAME, options, 'alpha', rank) / rank;
}

function dims(point: AttachmentPoint): [number, number] {
  return [point.inFeatures!, point.outFeatures!];
}

export const lora: PeftModuleType = {
  name: NAME,
  description: 'LoRA: trainable low-rank update (x·A)·B in parallel with a frozen linear layer',
  attachesTo: ['linear'],
  optionsSchema: loraOptionsSchema,
  ranked: true,
  // The scale alpha/r depends on the rank the module is built at: with an explicit alpha, a rank
  // mask of r at r_max (alpha/r_max) is not the rank-r module (alpha/r). Default alpha = r: scale 1.
  exactRankSlice: (options) => options.alpha === undefined,
  order: 10,
  accepts: (p) => p.inFeatures !== undefined && p.outFeatures !== undefined,
  params(point, rank, options) {
    loraScale(options, rank!);
    const [i, o] = dims(point);
    return [
      { name: 'A', shape: [i, rank!], rankAxis: 1 },
      { name: 'B', shape: [rank!, o], rankAxis: 0 },
    ];
  },
  init(point, rank, _options, rng) {
    const [i, o] = dims(point);
    // kaiming_uniform_(a=sqrt(5)) of PEFT's lora_A.weight [r, in]: fan_in = in.
    return { A: kaimingUniformA5(rng, i * rank!, i), B: new Float32Array(rank! * o) };
  },
  apply(ctx: ModuleBuildContext, site: HookSite): HookResult {
    if (site.kind !== 'linear') return siteValue(site);
    const scale = loraScale(ctx.options, ctx.rank!);
    const u = gateAndMask(ctx, ops.matmul(site.x, ctx.param('A')));
    const delta = ops.matmul(u, ctx.param('B'));
    return ops.add(site.y, scale === 1 ? delta : ops.mul(delta, scale));
  },
  merge(point, rank, options, params, role, frozen): TensorData | null {
    if (role !== 'weight') return null;
    const [i, o] = dims(point);
    const r = rank!;
    const scale = loraScale(options, r);
    const A = params.A!;
    const B = params.B!;
    const w = Float32Array.from(frozen.data as Float32Array);
    for (let a = 0; a < i; a++) {
      for (let k = 0; k < r; k++) {
        const x = A[a * r + k]! * scale;
        if (x === 0) continue;
        for (let b = 0; b < o; b++) w[a * o + b] = w[a * o + b]! + x * B[k * o + b]!;
      }
    }
    return { dtype: 'float32', shape: [...frozen.shape], data: w };
  },
};
