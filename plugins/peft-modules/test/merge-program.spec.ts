/**
 * The program builder's merge path (standalone export): modules folded into the frozen tensors of
 * their point must give the same outputs as the modules themselves, including modules that fold
 * into two tensors of one point (full fine-tuning of a linear's weight and bias, a LayerNorm's
 * scale and shift) and several modules at one point.
 */
import { expect } from 'chai';
import { Rng, type ModuleTypes, type ProgramSpec } from '@peftkit/api';
import { PeftToolkit, batchFeeds, buildProgram, encodeExamples, paramFeeds } from '@peftkit/nn';
import { runGraph, tinyBackbone, tinyTask } from '@peftkit/testing';
import { builtinModuleTypes } from '../src/index.js';

const types: ModuleTypes = {
  get: (n) => builtinModuleTypes[n]!,
  names: () => Object.keys(builtinModuleTypes),
};
const backbone = tinyBackbone({ hidden: 8 });
const task = tinyTask({ train: 8 });
const ctx = { backbone, task: task.info, types };
const toolkit = new PeftToolkit(backbone, task.info, types);
const encoded = encodeExamples(backbone.tokenizer, task.splits.train, 'none', 32);

async function compare(spec: ProgramSpec) {
  const params = toolkit.init(spec, new Rng(3));
  const rng = new Rng(4);
  for (const k of Object.keys(params))
    params[k] = Float32Array.from(params[k]!, (v) => v + rng.normal() * 0.3);
  const plain = buildProgram(ctx, spec, 'eval');
  const merged = buildProgram(ctx, spec, 'eval', { inlineParams: params, merge: true });
  const batch = batchFeeds(encoded, [0, 1, 2, 3], plain.layout, 0, false);
  const a = (await runGraph(plain.graph, { ...batch, ...paramFeeds(plain.layout, params) }, ['logits']))
    .logits!.data as Float32Array;
  const b = (await runGraph(merged.graph, batch, ['logits'])).logits!.data as Float32Array;
  a.forEach((v, i) => expect(b[i]).to.be.closeTo(v, 1e-5));
  return merged;
}

describe('program builder: merging modules for export', () => {
  it('folds full fine-tuning of a linear (weight and bias) and of a LayerNorm (scale and shift)', async () => {
    const m = await compare({
      modules: [
        { type: 'full', point: 'layer.0.attn.q', rank: null },
        { type: 'full', point: 'layer.1.ln_ffn', rank: null },
      ],
    });
    expect(m.graph.inputs.map((v) => v.name)).to.deep.equal(['input_ids', 'attention_mask']);
  });

  it('folds LoRA, BitFit and LNFit together at their points', async () => {
    await compare({
      modules: [
        { type: 'lora', point: 'layer.0.ffn.in', rank: 2 },
        { type: 'bitfit', point: 'layer.0.ffn.in', rank: null },
        { type: 'lnfit', point: 'layer.1.ln_attn', rank: null },
        { type: 'bitfit', point: 'layer.1.ln_attn', rank: null },
        { type: 'adapter', point: 'layer.1.ffn.sublayer', rank: 3 },
      ],
    });
  });
});
