/**
 * Full fine-tuning as a module type: at a linear, LayerNorm or embedding point, every frozen weight
 * of the point is replaced (in the `weight` hook) by a trainable parameter initialised with the
 * pretrained tensor. No special code path: full fine-tuning of a model is this module at every
 * point that has weights (a preset with `targets: "*"`), and partial fine-tuning (last layer only,
 * embeddings only) is the same module on fewer points.
 *
 * Roles per point kind: linear `weight` [in, out] (+ `bias` [out] when the point has one);
 * LayerNorm `scale` [features] (+ `shift` when it has one); embedding `table` [rows, features].
 * Parameters: the size of those tensors. Gradients reach the embedding table through Gather's
 * scatter-add.
 *
 * Gates are not meaningful: a gated-off weight would be a zero weight, not the frozen one, so a
 * program that gates this type is rejected when it is built. `merge` replaces the frozen weight.
 */
import type { AttachmentPoint, ParamSpec, PeftModuleType, WeightRole } from '@peftkit/api';
import { siteValue } from '@peftkit/api';
import type { TensorData } from '@peftkit/graph';
import { width } from './common.js';
import { checkKeys, objectSchema } from './options.js';

const NAME = 'full';

export const fullOptionsSchema = objectSchema();

/** The trainable weights of a point: its roles and their shapes. */
function roles(point: AttachmentPoint): { role: WeightRole; shape: number[] }[] {
  switch (point.kind) {
    case 'linear': {
      const i = width(NAME, point, 'inFeatures');
      const o = width(NAME, point, 'outFeatures');
      return [
        { role: 'weight', shape: [i, o] },
        ...(point.hasBias ? [{ role: 'bias' as const, shape: [o] }] : []),
      ];
    }
    case 'layernorm': {
      const f = width(NAME, point, 'features');
      return [
        { role: 'scale', shape: [f] },
        ...(point.hasBias ? [{ role: 'shift' as const, shape: [f] }] : []),
      ];
    }
    case 'embedding':
      return [{ role: 'table', shape: [width(NAME, point, 'rows'), width(NAME, point, 'features')] }];
    default:
      throw new Error(`${NAME} at ${point.name}: ${point.kind} points have no weights to fine-tune`);
  }
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export const full: PeftModuleType = {
  name: NAME,
  description:
    'Full fine-tuning: the frozen weights of a linear, LayerNorm or embedding point become trainable',
  attachesTo: ['linear', 'layernorm', 'embedding'],
  optionsSchema: fullOptionsSchema,
  ranked: false,
  order: 0,
  accepts: (p) =>
    p.kind === 'linear'
      ? p.inFeatures !== undefined && p.outFeatures !== undefined
      : p.kind === 'layernorm'
        ? p.features !== undefined
        : p.rows !== undefined && p.features !== undefined,
  params(point, _rank, options): ParamSpec[] {
    checkKeys(NAME, options, []);
    return roles(point).map(({ role, shape }) => ({ name: role, shape }));
  },
  init(point, _rank, _options, _rng, pretrained) {
    const out: Record<string, Float32Array> = {};
    for (const { role, shape } of roles(point)) {
      const t = pretrained[role];
      if (!t)
        throw new Error(`${NAME} at ${point.name}: the backbone has no pretrained ${role} for this point`);
      if (t.dtype !== 'float32' || t.data.length !== sizeOf(shape)) {
        throw new Error(
          `${NAME} at ${point.name}: pretrained ${role} is ${t.dtype}[${t.shape.join(',')}], expected float32[${shape.join(',')}]`,
        );
      }
      out[role] = Float32Array.from(t.data as Float32Array);
    }
    return out;
  },
  apply(ctx, site) {
    if (ctx.gate) {
      throw new Error(
        `${NAME} at ${ctx.point.name}: full fine-tuning cannot be gated (a gated-off weight would be zero, ` +
          'not the pretrained one); list it without `gated`',
      );
    }
    if (site.kind !== 'weight') return siteValue(site);
    return ctx.param(site.role);
  },
  merge(point, _rank, _options, params, role, frozen): TensorData | null {
    const p = params[role];
    if (!p) return null;
    if (p.length !== frozen.data.length) {
      throw new Error(
        `${NAME} at ${point.name}: trained ${role} has ${p.length} values, the frozen one ${frozen.data.length}`,
      );
    }
    return { dtype: 'float32', shape: [...frozen.shape], data: Float32Array.from(p) };
  },
};
