/**
 * Bottleneck adapters at sublayer points (the output of an attention or FFN block, before the
 * residual add), with bottleneck size r (the module's rank):
 *
 *   serial   (Houlsby et al., 2019; BIPEFT's SA):   y' = y + A(y)
 *   parallel (He et al., 2022;   BIPEFT's PA):      y' = y + A(x)      (x: the sublayer's input)
 *   A(h) = (gm ⊙ act(h·W_down + b_down))·W_up + g·b_up,
 *
 * W_down ∈ R^{d_in×r}, b_down ∈ R^r, W_up ∈ R^{r×d}, b_up ∈ R^d, where d is the sublayer's output
 * width and d_in its input width (= d except where a sublayer changes the width; the serial adapter
 * reads y, so d_in = d). Parameters: (d_in + d + 1)·r + d, i.e. 2dr + r + d.
 *
 * Gate and rank mask multiply the r bottleneck activations, as for LoRA (one gradient-carrying and
 * one detached copy each); b_up is multiplied by the gate too, so a gated-off adapter is exactly
 * absent and a rank mask of r equals the rank-r adapter built from the leading slices
 * (W_down[:, :r], b_down[:r], W_up[:r, :]).
 *
 * Init `small-normal` (BIPEFT's SA/PA, default): W_down, W_up ~ N(0, 0.01²), biases 0. Init
 * `zero-up`: W_down ~ N(0, 0.01²), W_up = 0, biases 0, so the adapter starts as the identity.
 *
 * Houlsby placement = serial adapters at both `layer.i.attn.sublayer` and `layer.i.ffn.sublayer`;
 * Pfeiffer placement = at `layer.i.ffn.sublayer` only (see docs/modules.md).
 */
import {
  type AttachmentPoint,
  type HookSite,
  type ModuleBuildContext,
  type PeftModuleType,
  siteValue,
} from '@peftkit/api';
import { type Value, ops } from '@peftkit/graph';
import {
  ADAPTER_ACTIVATIONS,
  type AdapterActivation,
  activate,
  gateAndMask,
  gated,
  lastDim,
  normal,
  rankOf,
  width,
} from './common.js';
import { type Options, checkKeys, enumOption, objectSchema } from './options.js';

export type AdapterInit = 'small-normal' | 'zero-up';
const INITS: readonly AdapterInit[] = ['small-normal', 'zero-up'];

export const adapterOptionsSchema = objectSchema({
  activation: {
    type: 'string',
    enum: [...ADAPTER_ACTIVATIONS],
    default: 'relu',
    description: 'activation between the down and up projections',
  },
  init: {
    type: 'string',
    enum: [...INITS],
    default: 'small-normal',
    description:
      'small-normal: both projections ~ N(0, 0.01²); zero-up: the up projection starts at zero (identity at start)',
  },
});

interface AdapterOptions {
  activation: AdapterActivation;
  init: AdapterInit;
}

function readOptions(type: string, options: Options): AdapterOptions {
  checkKeys(type, options, ['activation', 'init']);
  return {
    activation: enumOption(type, options, 'activation', ADAPTER_ACTIVATIONS, 'relu'),
    init: enumOption(type, options, 'init', INITS, 'small-normal'),
  };
}

/** Weight std of BIPEFT's SA/PA initialisation. */
const INIT_STD = 0.01;

function makeAdapter(kind: 'serial' | 'parallel'): PeftModuleType {
  const name = kind === 'serial' ? 'adapter' : 'parallel-adapter';
  /** Input and output widths of the bottleneck at this point. */
  const dims = (point: AttachmentPoint): [number, number] => {
    const d = width(name, point, 'features');
    return [kind === 'parallel' ? (point.inFeatures ?? d) : d, d];
  };
  return {
    name,
    description:
      kind === 'serial'
        ? 'Serial bottleneck adapter (Houlsby): y + up(act(down(y))) on a sublayer output'
        : 'Parallel bottleneck adapter (He et al.): y + up(act(down(x))) reading the sublayer input',
    attachesTo: ['sublayer'],
    optionsSchema: adapterOptionsSchema,
    ranked: true,
    order: kind === 'serial' ? 30 : 40,
    accepts: (p) => p.features !== undefined,
    params(point, rank, options) {
      readOptions(name, options);
      const r = rankOf(name, point, rank);
      const [dIn, d] = dims(point);
      return [
        { name: 'down', shape: [dIn, r], rankAxis: 1 },
        { name: 'down_bias', shape: [r], rankAxis: 0 },
        { name: 'up', shape: [r, d], rankAxis: 0 },
        { name: 'up_bias', shape: [d] },
      ];
    },
    init(point, rank, options, rng) {
      const o = readOptions(name, options);
      const r = rankOf(name, point, rank);
      const [dIn, d] = dims(point);
      return {
        down: normal(rng, dIn * r, INIT_STD),
        down_bias: new Float32Array(r),
        up: o.init === 'zero-up' ? new Float32Array(r * d) : normal(rng, r * d, INIT_STD),
        up_bias: new Float32Array(d),
      };
    },
    apply(ctx: ModuleBuildContext, site: HookSite) {
      if (site.kind !== 'sublayer') return siteValue(site);
      const o = readOptions(name, ctx.options);
      const input = kind === 'serial' ? site.y : site.x;
      const [dIn] = dims(ctx.point);
      const seen = lastDim(input);
      if (seen !== null && seen !== dIn) {
        throw new Error(
          `${name} at ${ctx.point.name}: the sublayer ${kind === 'serial' ? 'output' : 'input'} is ${seen} wide ` +
            `but the point declares ${dIn} (a backbone whose sublayer changes the width must set inFeatures on the point)`,
        );
      }
      return ops.add(site.y, bottleneck(ctx, input, o.activation));
    },
  };
}

/** (gm ⊙ act(h·W_down + b_down))·W_up + g·b_up */
function bottleneck(ctx: ModuleBuildContext, h: Value, act: AdapterActivation): Value {
  const a = activate(ops.add(ops.matmul(h, ctx.param('down')), ctx.param('down_bias')), act);
  const up = ops.matmul(gateAndMask(ctx, a), ctx.param('up'));
  return ops.add(up, gated(ctx, ctx.param('up_bias')));
}

export const adapter = makeAdapter('serial');
export const parallelAdapter = makeAdapter('parallel');
