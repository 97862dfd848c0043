/**
 * The `__NAME__` PEFT module type: per-channel rescaling of a frozen linear layer's output,
 *
 *   y' = y + g · (y ⊙ s)        s: [out features], zero-initialised; g: the gate when searched
 *
 * (IA³'s y ⊙ l with l = 1 + s). Unranked; one parameter per output channel.
 */
import type { AttachmentPoint, JsonSchema, PeftModuleType } from '@peftkit/api';
import { siteValue } from '@peftkit/api';
import { ops } from '@peftkit/graph';

export const __CLASS__OptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {},
};

function width(point: AttachmentPoint): number {
  if (point.outFeatures === undefined)
    throw new Error(`__NAME__ at ${point.name}: the point declares no outFeatures`);
  return point.outFeatures;
}

export const __CLASS__: PeftModuleType = {
  name: '__NAME__',
  description: "Per-channel rescaling of a linear layer's output (IA³-style): y + y ⊙ s",
  attachesTo: ['linear'],
  optionsSchema: __CLASS__OptionsSchema,
  ranked: false,
  order: 25, // after BitFit (20): it rescales the biased output
  accepts: (p) => p.outFeatures !== undefined,
  params: (point) => [{ name: 'scale', shape: [width(point)] }],
  init: (point) => ({ scale: new Float32Array(width(point)) }),
  apply(ctx, site) {
    if (site.kind !== 'linear') return siteValue(site);
    const delta = ops.mul(site.y, ctx.param('scale'));
    return ops.add(site.y, ctx.gate ? ops.mul(delta, ctx.gate) : delta);
  },
};
