/**
 * Merging trained modules into the frozen weights (for standalone export): the module-free program
 * with the merged weights swapped in computes what the program with the modules computes.
 */
import { expect } from 'chai';
import {
  Rng,
  type AttachmentPoint,
  type ParamSet,
  type ProgramSpec,
  type WeightRole,
  moduleId,
} from '@peftkit/api';
import type { TensorData } from '@peftkit/graph';
import { buildProgram } from '@peftkit/nn';
import { bitfit, builtinModuleTypes, lnfit } from '../src/index.js';
import { backbone, ctx, headOf, logits, logitsWithWeights, maxDiff, perturb, toolkit } from './harness.js';

/** Merge every module of `spec` into the frozen weights of its point, role by role. */
function mergeAll(spec: ProgramSpec, params: ParamSet): Record<string, TensorData> {
  const merged: Record<string, TensorData> = {};
  for (const m of spec.modules) {
    const type = builtinModuleTypes[m.type]!;
    const id = moduleId(m.type, m.point);
    const own: ParamSet = {};
    for (const s of type.params(toolkit.point(m.point), m.rank, m.options ?? {}))
      own[s.name] = params[`${id}/${s.name}`]!;
    let folded = 0;
    for (const [role, frozen] of Object.entries(backbone.pretrained(m.point))) {
      const key = `${m.point}.${role}`;
      const out = type.merge!(
        toolkit.point(m.point),
        m.rank,
        m.options ?? {},
        own,
        role as WeightRole,
        merged[key] ?? frozen!,
      );
      if (out) {
        merged[key] = out;
        folded++;
      }
    }
    if (folded === 0) throw new Error(`${id} merged into no weight`);
  }
  return merged;
}

describe('merge into frozen weights', function () {
  this.timeout(60_000);

  const check = async (spec: ProgramSpec, seed: number) => {
    const params = perturb(toolkit.init(spec, new Rng(seed)), seed + 1);
    const withModules = await logits(buildProgram(ctx, spec, 'eval'), params);
    const merged = await logitsWithWeights(mergeAll(spec, params), headOf(params));
    expect(maxDiff(merged, withModules)).to.be.lessThan(1e-5);
    const unmerged = await logitsWithWeights({}, headOf(params));
    expect(maxDiff(unmerged, withModules), 'the modules matter').to.be.greaterThan(1e-3);
  };

  it('bitfit folds into the bias of a linear layer and the shift of a LayerNorm', async () => {
    await check(
      {
        modules: [
          { type: 'bitfit', point: 'layer.0.attn.v', rank: null },
          { type: 'bitfit', point: 'layer.1.ffn.in', rank: null },
          { type: 'bitfit', point: 'layer.1.ln_ffn', rank: null },
        ],
      },
      1,
    );
  });

  it('lnfit folds Δγ into the LayerNorm scale, composed with bitfit on the same LayerNorm', async () => {
    await check(
      {
        modules: [
          { type: 'lnfit', point: 'layer.0.ln_attn', rank: null },
          { type: 'lnfit', point: 'layer.1.ln_ffn', rank: null },
          { type: 'bitfit', point: 'layer.1.ln_ffn', rank: null },
        ],
      },
      2,
    );
  });

  it('full fine-tuning replaces the weights of linear, LayerNorm and embedding points', async () => {
    await check(
      {
        modules: [
          { type: 'full', point: 'embeddings.word', rank: null },
          { type: 'full', point: 'layer.0.ln_ffn', rank: null },
          { type: 'full', point: 'layer.1.ffn.in', rank: null },
        ],
      },
      3,
    );
  });

  it('bitfit cannot merge where the frozen layer has no bias; nothing merges into other roles', () => {
    const point: AttachmentPoint = {
      name: 'x',
      kind: 'linear',
      inFeatures: 2,
      outFeatures: 3,
      hasBias: false,
    };
    const w: TensorData = { dtype: 'float32', shape: [2, 3], data: new Float32Array(6) };
    const b = { bias: new Float32Array([1, 2, 3]) };
    expect(bitfit.merge!(point, null, {}, b, 'weight', w)).to.equal(null);
    expect(bitfit.merge!({ ...point, hasBias: true }, null, {}, b, 'weight', w)).to.equal(null);
    const bias: TensorData = { dtype: 'float32', shape: [3], data: new Float32Array([0.5, 0.5, 0.5]) };
    const folded = bitfit.merge!({ ...point, hasBias: true }, null, {}, b, 'bias', bias)!;
    expect(Array.from(folded.data as Float32Array)).to.deep.equal([1.5, 2.5, 3.5]);
    const ln: AttachmentPoint = { name: 'n', kind: 'layernorm', features: 3, hasBias: true };
    expect(lnfit.merge!(ln, null, {}, { gamma: new Float32Array(3) }, 'shift', bias)).to.equal(null);
  });
});
