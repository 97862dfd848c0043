/**
 * LNFit (S3Delta/BIPEFT's vector module): a trainable additive change Δγ of a LayerNorm's scale,
 * computed as a branch in parallel with the frozen LayerNorm,
 *   y' = y + g·ḡ·Δγ ⊙ x̂,   x̂ = (x − mean(x)) / sqrt(var(x) + ε)   (g·ḡ: the gate pair of common.ts),
 * which equals LN(x) with scale γ + Δγ (for g = 1). x̂ is recomputed from the hook's input and
 * epsilon as a LayerNormalization with scale Δγ and no shift, so the branch is exactly Δγ ⊙ x̂ and
 * gradients reach x through it as through the frozen LN. Δγ starts at zero. Parameters: features.
 * (T5's RMS norm divides by RMS(x) without centring; the backbones here use centred LayerNorm.)
 */
import { type PeftModuleType, siteValue } from '@peftkit/api';
import { type TensorData, ops } from '@peftkit/graph';
import { gated, width } from './common.js';
import { checkKeys, objectSchema } from './options.js';

export const lnfitOptionsSchema = objectSchema();

export const lnfit: PeftModuleType = {
  name: 'lnfit',
  description: 'LNFit: a trainable change of a LayerNorm scale, Δγ ⊙ x̂ added in parallel to the frozen LN',
  attachesTo: ['layernorm'],
  optionsSchema: lnfitOptionsSchema,
  ranked: false,
  order: 10,
  accepts: (p) => p.features !== undefined,
  params(point, _rank, options) {
    checkKeys('lnfit', options, []);
    return [{ name: 'gamma', shape: [width('lnfit', point, 'features')] }];
  },
  init(point) {
    return { gamma: new Float32Array(width('lnfit', point, 'features')) };
  },
  apply(ctx, site) {
    if (site.kind !== 'layernorm') return siteValue(site);
    const delta = ops.layerNorm(site.x, ctx.param('gamma'), null, site.epsilon, -1);
    return ops.add(site.y, gated(ctx, delta));
  },
  merge(point, _rank, _options, params, role, frozen): TensorData | null {
    if (role !== 'scale') return null;
    const d = params.gamma!;
    const base = frozen.data as Float32Array;
    if (base.length !== d.length) {
      throw new Error(`lnfit at ${point.name}: frozen scale has ${base.length} values, Δγ ${d.length}`);
    }
    return { dtype: 'float32', shape: [...frozen.shape], data: Float32Array.from(base, (v, i) => v + d[i]!) };
  },
};
