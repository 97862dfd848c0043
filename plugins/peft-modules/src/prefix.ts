/**
 * Prefix tuning at attention points (`layer.i.attn.scores`): l trainable key and value vectors per
 * attention, P_K, P_V ∈ R^{l×H} (H = heads·headDim, split into heads like K and V). The rank is
 * the prefix length l (rank axis 0: a rank-r prefix is the leading r rows).
 *
 * Style `gated` (default; BIPEFT's S2 / LLaMA-Adapter-like), at the attention-context hook:
 *   context' = context + g·λ·softmax(q·P_Kᵀ·scale)·P_V
 * with its own softmax over the l prefix scores and a learnable scalar λ initialised to 0, so the
 * module starts as the identity. Parameters 2lH + 1.
 *
 * Style `concat` (Li & Liang, 2021), at the attention-keys hook: P_K, P_V are placed in front of
 * K and V (broadcast over the batch) and the mask bias gets 0 for the l prefix positions, so every
 * query also attends to the prefix in the one softmax. Parameters 2lH.
 *
 * Gates and rank masks (the detached-path convention of common.ts). The rank mask multiplies the
 * rows of P_K as the pair m·m̄ and the rows of P_V as the detached copy m̄, so a row above the
 * sampled length gets no mask gradient; the gate enters as the pair g·ḡ, so a prefix sampled off
 * gets no gate gradient. As in the reference (§5.3), a masked row is a zero key: it still takes softmax
 * mass (score 0) while contributing a zero value, so a rank mask of r is NOT the same function as a
 * rank-r prefix (it is the rank-l prefix with rows ≥ r zeroed). The gate multiplies the prefix
 * contribution (gated style) or the prefix values (concat style); in the concat style the prefix
 * positions' mask bias is also log(max(ḡ, 1e-30)) (ḡ: the detached gate), which scales their
 * unnormalised attention weights by ḡ, so a gate of 0 removes the prefix entirely (to float
 * precision) and a gate of 1 leaves it unchanged.
 *
 * Re-parameterisation (option `reparam: { hidden }`, Li & Liang): the prefixes are produced by a
 * per-module two-layer MLP, [P_K ‖ P_V] = tanh(E·W1 + b1)·W2 + b2 with E ∈ R^{l×H},
 * W1 ∈ R^{H×hidden}, W2 ∈ R^{hidden×2H}. The MLP is a training-time device: its output can be
 * stored instead (`storedParams`: 2lH, +1 for λ). Parameter counts count what is trained.
 *
 * Init: P_K, P_V (or E) ~ N(0, 0.02²); MLP weights and biases torch.nn.Linear's default
 * U(±1/√fan_in); λ = 0.
 */
import {
  type AttachmentPoint,
  type AttentionKV,
  type ModuleBuildContext,
  type ParamSpec,
  type PeftModuleType,
  siteValue,
} from '@peftkit/api';
import { type Value, ops } from '@peftkit/graph';
import { gated, kaimingUniformA5, maskPair, normal, rankOf, width } from './common.js';
import {
  type Options,
  checkKeys,
  enumOption,
  objectOption,
  objectSchema,
  positiveIntOption,
} from './options.js';

export type PrefixStyle = 'gated' | 'concat';
const STYLES: readonly PrefixStyle[] = ['gated', 'concat'];
const NAME = 'prefix';
const INIT_STD = 0.02;

export const prefixOptionsSchema = objectSchema({
  style: {
    type: 'string',
    enum: [...STYLES],
    default: 'gated',
    description:
      'gated: a separate, gated softmax over the prefixes; concat: prefixes joined to the keys/values',
  },
  reparam: {
    ...objectSchema({
      hidden: { type: 'integer', minimum: 1, description: 'hidden width of the re-parameterisation MLP' },
    }),
    required: ['hidden'],
    description: "produce the prefixes with a two-layer MLP (Li & Liang's re-parameterisation)",
  },
});

interface PrefixOptions {
  style: PrefixStyle;
  /** Hidden width of the re-parameterisation MLP, or null for direct prefixes. */
  hidden: number | null;
}

function readOptions(options: Options): PrefixOptions {
  checkKeys(NAME, options, ['style', 'reparam']);
  const reparam = objectOption(NAME, options, 'reparam');
  let hidden: number | null = null;
  if (reparam) {
    checkKeys(`${NAME} reparam`, reparam, ['hidden']);
    hidden = positiveIntOption(`${NAME} reparam`, reparam, 'hidden', null);
  }
  return { style: enumOption(NAME, options, 'style', STYLES, 'gated'), hidden };
}

function dims(point: AttachmentPoint): { heads: number; headDim: number; H: number } {
  const heads = width(NAME, point, 'heads');
  const headDim = width(NAME, point, 'headDim');
  return { heads, headDim, H: heads * headDim };
}

/** Parameters stored for inference: the prefixes themselves (and λ), without any MLP. */
export function storedParams(point: AttachmentPoint, rank: number | null, options: Options): number {
  const l = rankOf(NAME, point, rank);
  return 2 * l * dims(point).H + (readOptions(options).style === 'gated' ? 1 : 0);
}

export const prefix: PeftModuleType = {
  name: NAME,
  description:
    'Prefix tuning: trainable key/value prefixes per attention (gated separate softmax, or concatenated)',
  attachesTo: ['attention'],
  optionsSchema: prefixOptionsSchema,
  ranked: true,
  // A masked prefix row is a zero key that still takes softmax mass (see above).
  exactRankSlice: () => false,
  order: 50,
  accepts: (p) => p.heads !== undefined && p.headDim !== undefined,
  params(point, rank, options): ParamSpec[] {
    const o = readOptions(options);
    const l = rankOf(NAME, point, rank);
    const { H } = dims(point);
    const specs: ParamSpec[] =
      o.hidden === null
        ? [
            { name: 'key', shape: [l, H], rankAxis: 0 },
            { name: 'value', shape: [l, H], rankAxis: 0 },
          ]
        : [
            { name: 'embedding', shape: [l, H], rankAxis: 0 },
            { name: 'mlp_w1', shape: [H, o.hidden] },
            { name: 'mlp_b1', shape: [o.hidden] },
            { name: 'mlp_w2', shape: [o.hidden, 2 * H] },
            { name: 'mlp_b2', shape: [2 * H] },
          ];
    if (o.style === 'gated') specs.push({ name: 'lambda', shape: [1] });
    return specs;
  },
  init(point, rank, options, rng) {
    const o = readOptions(options);
    const l = rankOf(NAME, point, rank);
    const { H } = dims(point);
    const out: Record<string, Float32Array> =
      o.hidden === null
        ? { key: normal(rng, l * H, INIT_STD), value: normal(rng, l * H, INIT_STD) }
        : {
            embedding: normal(rng, l * H, INIT_STD),
            mlp_w1: kaimingUniformA5(rng, H * o.hidden, H),
            mlp_b1: kaimingUniformA5(rng, o.hidden, H),
            mlp_w2: kaimingUniformA5(rng, o.hidden * 2 * H, o.hidden),
            mlp_b2: kaimingUniformA5(rng, 2 * H, o.hidden),
          };
    if (o.style === 'gated') out.lambda = new Float32Array(1);
    return out;
  },
  apply(ctx, site) {
    const o = readOptions(ctx.options);
    if (o.style === 'concat' && site.kind === 'attention-keys') return concatPrefix(ctx, o, site.kv);
    if (o.style === 'gated' && site.kind === 'attention-context') {
      return gatedPrefix(ctx, o, site.q, site.context, site.scale);
    }
    return siteValue(site);
  },
};

/** P_K and P_V as [heads, l, headDim], rank-masked by rows. */
function prefixes(ctx: ModuleBuildContext, o: PrefixOptions): { k: Value; v: Value } {
  const l = ctx.rank!;
  const { heads, headDim, H } = dims(ctx.point);
  let pk: Value;
  let pv: Value;
  if (o.hidden === null) {
    pk = ctx.param('key');
    pv = ctx.param('value');
  } else {
    const h = ops.tanh(ops.add(ops.matmul(ctx.param('embedding'), ctx.param('mlp_w1')), ctx.param('mlp_b1')));
    const kv = ops.add(ops.matmul(h, ctx.param('mlp_w2')), ctx.param('mlp_b2'));
    [pk, pv] = ops.split(kv, [H, H], 1) as [Value, Value];
  }
  // Row masks: [l] -> [l, 1], broadcast over the features.
  const m = maskPair(ctx);
  if (m) pk = ops.mul(pk, ops.unsqueeze(m, [1]));
  if (ctx.rankMaskDetached) pv = ops.mul(pv, ops.unsqueeze(ctx.rankMaskDetached, [1]));
  const heads3 = (p: Value) => ops.transpose(ops.reshape(p, [l, heads, headDim]), [1, 0, 2]);
  return { k: heads3(pk), v: heads3(pv) };
}

function gatedPrefix(
  ctx: ModuleBuildContext,
  o: PrefixOptions,
  q: Value,
  context: Value,
  scale: number,
): Value {
  const { k, v } = prefixes(ctx, o);
  // q [B, heads, T, hd] · [heads, hd, l] -> [B, heads, T, l]: a softmax over the prefix alone.
  const probs = ops.softmax(ops.mul(ops.matmul(q, ops.transposeLast2(k)), scale), -1);
  return ops.add(context, gated(ctx, ops.mul(ops.matmul(probs, v), ctx.param('lambda'))));
}

function concatPrefix(ctx: ModuleBuildContext, o: PrefixOptions, kv: AttentionKV): AttentionKV {
  const l = ctx.rank!;
  const { heads, headDim } = dims(ctx.point);
  const { k, v } = prefixes(ctx, o);
  const batch = kv.k.shape[0]!;
  const perBatch = (p: Value) => ops.expand(ops.unsqueeze(p, [0]), [batch, heads, l, headDim]);
  const values = gated(ctx, v);
  // Additive mask bias of the prefix positions: 0, or log(gate) to scale their attention weights.
  let bias = ctx.g.constant({ dtype: 'float32', shape: [1, 1, 1, l], data: new Float32Array(l) });
  if (ctx.gateDetached) bias = ops.add(bias, ops.log(ops.max2(ctx.gateDetached, 1e-30)));
  const maskBias = ops.expand(bias, [kv.maskBias.shape[0]!, 1, 1, l]);
  return {
    k: ops.concat([perBatch(k), kv.k], 2),
    v: ops.concat([perBatch(values), kv.v], 2),
    maskBias: ops.concat([maskBias, kv.maskBias], 3),
  };
}
