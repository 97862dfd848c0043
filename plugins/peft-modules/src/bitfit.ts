/**
 * BitFit (Ben Zaken et al., 2022; S3Delta/BIPEFT's vector modules): a trainable bias delta b,
 * zero-initialised, added to the output of a frozen linear layer or LayerNorm,
 *   y' = y + g·ḡ·b    (g·ḡ: the architecture gate pair of common.ts, when the program searches
 *                      this module: forward value g, no gate gradient when sampled off).
 * Parameters: the output width (linear: out features; LayerNorm: features).
 *
 * When the frozen layer already has a bias (BERT, USE-lite), training b is exactly fine-tuning that
 * bias (b_frozen + b), so `merge` folds b into it. T5-style layers without biases get a new bias;
 * such a module cannot be merged into an existing weight (export keeps it as a separate add).
 */
import { type AttachmentPoint, type PeftModuleType, siteValue } from '@peftkit/api';
import { type TensorData, ops } from '@peftkit/graph';
import { gated, width } from './common.js';
import { checkKeys, objectSchema } from './options.js';

export const bitfitOptionsSchema = objectSchema();

function features(point: AttachmentPoint): number {
  return point.kind === 'linear' ? width('bitfit', point, 'outFeatures') : width('bitfit', point, 'features');
}

/** The frozen bias role b folds into: a linear layer's `bias`, a LayerNorm's `shift`. */
function biasRole(point: AttachmentPoint): 'bias' | 'shift' {
  return point.kind === 'linear' ? 'bias' : 'shift';
}

export const bitfit: PeftModuleType = {
  name: 'bitfit',
  description: 'BitFit: a trainable bias delta added to the output of a linear layer or LayerNorm',
  attachesTo: ['linear', 'layernorm'],
  optionsSchema: bitfitOptionsSchema,
  ranked: false,
  order: 20,
  accepts: (p) => (p.kind === 'linear' ? p.outFeatures !== undefined : p.features !== undefined),
  params(point, _rank, options) {
    checkKeys('bitfit', options, []);
    return [{ name: 'bias', shape: [features(point)] }];
  },
  init(point) {
    return { bias: new Float32Array(features(point)) };
  },
  apply(ctx, site) {
    if (site.kind !== 'linear' && site.kind !== 'layernorm') return siteValue(site);
    return ops.add(site.y, gated(ctx, ctx.param('bias')));
  },
  merge(point, _rank, _options, params, role, frozen): TensorData | null {
    if (!point.hasBias || role !== biasRole(point)) return null;
    const b = params.bias!;
    const base = frozen.data as Float32Array;
    if (base.length !== b.length) {
      throw new Error(
        `bitfit at ${point.name}: frozen ${role} has ${base.length} values, the delta ${b.length}`,
      );
    }
    return { dtype: 'float32', shape: [...frozen.shape], data: Float32Array.from(base, (v, i) => v + b[i]!) };
  },
};
