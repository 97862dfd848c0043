/**
 * Low-rank adapter (Compacter's LowRankAdapter, as used in S3Delta and BIPEFT's S1): a serial
 * bottleneck adapter at a sublayer point whose two projections are themselves rank-r products,
 *
 *   y' = y + g·[ act((y·W_l ⊙ m)·W_r + b_d)·U_l ⊙ m̄ )·U_r + b_u ]
 *
 * with W_l ∈ R^{d×r}, W_r ∈ R^{r×m} (down, d → m), U_l ∈ R^{m×r}, U_r ∈ R^{r×d} (up, m → d),
 * b_d ∈ R^m, b_u ∈ R^d, act = GELU with the tanh approximation ("gelu_new"). The bottleneck is
 * m = max(1, floor(d / reductionFactor)) (default 32: m = 32 for T5-large's d = 1024). The rank is
 * the factor rank r. Parameters: 2(d + m)r + m + d.
 *
 * The rank mask multiplies the r-dimensional factor activations on both paths: the down path with
 * the pair m·m̄, the up path with the detached copy m̄ (the detached-path convention of common.ts:
 * the mask gradient of a component above the sampled rank is zero; with hard masks the forward
 * value is m); a mask of r equals the rank-r adapter built from the leading slices. The gate pair
 * g·ḡ multiplies the whole delta (b_u included), so a gated-off adapter is exactly absent and gets
 * no gate gradient.
 *
 * Init (option `init`): `identity` (BIPEFT's default) draws every factor Glorot-uniform except the
 * up-projection's output-side factor U_r, which is zero, so the adapter starts as the identity map;
 * `glorot` (S3Delta) draws all four factors Glorot-uniform; `zero-lr` reproduces BIPEFT's
 * `--zero_lr_adapter` quirk (Q2 of the reference): U_l, U_r and W_l zero, W_r Glorot, under which
 * only b_u can ever train. Biases start at zero in every mode.
 */
import { type AttachmentPoint, type ModuleBuildContext, type PeftModuleType, siteValue } from '@peftkit/api';
import { type Value, ops } from '@peftkit/graph';
import { gated, glorotUniform, maskPair, rankOf, width } from './common.js';
import { type Options, checkKeys, enumOption, objectSchema, positiveIntOption } from './options.js';

export type LowRankAdapterInit = 'identity' | 'glorot' | 'zero-lr';
const INITS: readonly LowRankAdapterInit[] = ['identity', 'glorot', 'zero-lr'];
const NAME = 'lowrank-adapter';

export const lowrankAdapterOptionsSchema = objectSchema({
  reductionFactor: {
    type: 'integer',
    minimum: 1,
    default: 32,
    description: 'bottleneck width m = max(1, floor(d / reductionFactor))',
  },
  init: {
    type: 'string',
    enum: [...INITS],
    default: 'identity',
    description:
      "identity: U_r zero, so the adapter starts as the identity; glorot: every factor Glorot-uniform; zero-lr: BIPEFT's --zero_lr_adapter quirk",
  },
});

interface LowRankOptions {
  reductionFactor: number;
  init: LowRankAdapterInit;
}

function readOptions(options: Options): LowRankOptions {
  checkKeys(NAME, options, ['reductionFactor', 'init']);
  return {
    reductionFactor: positiveIntOption(NAME, options, 'reductionFactor', 32),
    init: enumOption(NAME, options, 'init', INITS, 'identity'),
  };
}

/** Width d and bottleneck m of the adapter at this point. */
export function lowrankDims(point: AttachmentPoint, options: Options): { d: number; m: number } {
  const d = width(NAME, point, 'features');
  return { d, m: Math.max(1, Math.floor(d / readOptions(options).reductionFactor)) };
}

export const lowrankAdapter: PeftModuleType = {
  name: NAME,
  description:
    "Low-rank adapter (Compacter's LowRankAdapter, S3Delta/BIPEFT): serial bottleneck with rank-r factored projections",
  attachesTo: ['sublayer'],
  optionsSchema: lowrankAdapterOptionsSchema,
  ranked: true,
  order: 30,
  accepts: (p) => p.features !== undefined,
  params(point, rank, options) {
    const r = rankOf(NAME, point, rank);
    const { d, m } = lowrankDims(point, options);
    return [
      { name: 'down_left', shape: [d, r], rankAxis: 1 },
      { name: 'down_right', shape: [r, m], rankAxis: 0 },
      { name: 'down_bias', shape: [m] },
      { name: 'up_left', shape: [m, r], rankAxis: 1 },
      { name: 'up_right', shape: [r, d], rankAxis: 0 },
      { name: 'up_bias', shape: [d] },
    ];
  },
  init(point, rank, options, rng) {
    const { init } = readOptions(options);
    const r = rankOf(NAME, point, rank);
    const { d, m } = lowrankDims(point, options);
    // Drawn in a fixed order so that each mode's non-zero factors are reproducible.
    const wl = glorotUniform(rng, d, r);
    const wr = glorotUniform(rng, r, m);
    const ul = glorotUniform(rng, m, r);
    const ur = glorotUniform(rng, r, d);
    return {
      down_left: init === 'zero-lr' ? new Float32Array(d * r) : wl,
      down_right: wr,
      down_bias: new Float32Array(m),
      up_left: init === 'zero-lr' ? new Float32Array(m * r) : ul,
      up_right: init === 'glorot' ? ur : new Float32Array(r * d),
      up_bias: new Float32Array(d),
    };
  },
  apply(ctx, site) {
    if (site.kind !== 'sublayer') return siteValue(site);
    return ops.add(site.y, lowrankDelta(ctx, site.y));
  },
};

function lowrankDelta(ctx: ModuleBuildContext, y: Value): Value {
  const mask = (v: Value, m: Value | null) => (m ? ops.mul(v, m) : v);
  const down = ops.matmul(
    mask(ops.matmul(y, ctx.param('down_left')), maskPair(ctx)),
    ctx.param('down_right'),
  );
  const a = ops.gelu(ops.add(down, ctx.param('down_bias')), 'tanh');
  const up = ops.matmul(
    mask(ops.matmul(a, ctx.param('up_left')), ctx.rankMaskDetached),
    ctx.param('up_right'),
  );
  return gated(ctx, ops.add(up, ctx.param('up_bias')));
}
