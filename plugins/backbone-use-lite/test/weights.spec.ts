/** Weights: the parameter count against the manifest, per-point shapes, and the load-time reshaping. */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { defaultModelDir, loadUseLite, readUseLiteFiles } from '../src/index.js';

const SHARDS = Array.from({ length: 7 }, (_, i) => `group1-shard${i + 1}of7`);

describe('use-lite weights', () => {
  const backbone = loadUseLite();
  const dir = defaultModelDir();
  const files = readUseLiteFiles(dir);

  it('counts 6,975,744 parameters: the 6,975,914 manifest elements less 170 graph constants', () => {
    const shardBytes = SHARDS.reduce((a, f) => a + statSync(join(dir, f)).size, 0);
    expect(shardBytes).to.equal(27_903_656);
    expect(files.manifestElements).to.equal(shardBytes / 4); // every weight is 4-byte float32/int32
    expect(files.manifestElements).to.equal(6_975_914); // the figure in the reference notes
    // What is not a parameter: the int32 shape/axis constants, the float scalars (q scales, epsilon,
    // padding bias, l2 epsilon) and the 128 inverse timescales of the timing signal.
    let constants = 0;
    const scalars: string[] = [];
    for (const w of files.weights.values()) {
      if (w.dtype === 'int32') constants += w.data.length;
      else if (w.shape.length === 0) {
        constants += 1;
        scalars.push(w.name);
      } else if (w.name.endsWith('AddTimingSignal/TimingSignal/ExpandDims_1')) constants += w.data.length;
    }
    expect(scalars.map((n) => n.split('/').slice(-3).join('/')).sort()).to.deep.equal([
      'MultiheadAttention/mul/y', // q scale, layer 0 (0.125)
      'MultiheadAttention/mul/y', // q scale, layer 1 (0.0884)
      'attention_bias_ignore_padding/mul/y', // padding bias (-1e9)
      'l2_normalize/Maximum/y', // l2 epsilon (1e-12)
      'layer_norm/Cast/x', // layer-norm epsilon (1e-6)
    ]);
    expect(constants).to.equal(170);
    expect(backbone.info.params).to.equal(6_975_914 - 170);
    // And the parameters are exactly what `pretrained` hands out, point by point.
    let fromPoints = 0;
    for (const p of backbone.info.points)
      for (const t of Object.values(backbone.pretrained(p.name))) fromPoints += t.data.length;
    expect(fromPoints).to.equal(backbone.info.params);
    // The float tensors of the manifest (less the timescales) hold the same count.
    let floats = 0;
    for (const w of files.weights.values())
      if (w.dtype === 'float32' && w.shape.length > 0) floats += w.data.length;
    expect(floats - 128).to.equal(backbone.info.params);
  });

  it('describes every point with its fields and the shapes of its frozen weights', () => {
    const expected: Record<string, [number, number] | number> = {
      'embeddings.word': [8002, 256],
      'layer.0.ln_attn': 256,
      'layer.0.attn.q': [256, 256],
      'layer.0.attn.k': [256, 256],
      'layer.0.attn.v': [256, 256],
      'layer.0.attn.o': [256, 512],
      'layer.0.attn.residual': [256, 512],
      'layer.0.attn.sublayer': 512,
      'layer.0.ln_ffn': 512,
      'layer.0.ffn.in': [512, 1536],
      'layer.0.ffn.out': [1536, 512],
      'layer.0.ffn.sublayer': 512,
      'layer.1.ln_attn': 512,
      'layer.1.attn.q': [512, 512],
      'layer.1.attn.k': [512, 512],
      'layer.1.attn.v': [512, 512],
      'layer.1.attn.o': [512, 512],
      'layer.1.attn.sublayer': 512,
      'layer.1.ln_ffn': 512,
      'layer.1.ffn.in': [512, 1536],
      'layer.1.ffn.out': [1536, 512],
      'layer.1.ffn.sublayer': 512,
      pooler: [512, 512],
    };
    const info = backbone.info;
    expect(info).to.include({
      name: 'use-lite',
      modelType: 'use-lite',
      numLayers: 2,
      pooledSize: 512,
      maxLength: 128,
      pairEncoding: 'separate',
    });
    for (const p of info.points) {
      const w = backbone.pretrained(p.name);
      const layer = /^layer\.(\d+)\./.exec(p.name);
      expect(p.layer, p.name).to.equal(layer ? Number(layer[1]) : undefined);
      const shape = (t: { shape: readonly number[] } | undefined) => t?.shape;
      if (p.kind === 'attention') {
        expect([p.heads, p.headDim], p.name).to.deep.equal(p.layer === 0 ? [4, 64] : [4, 128]);
        expect(w).to.deep.equal({});
        continue;
      }
      const e = expected[p.name];
      if (p.kind === 'linear') {
        expect([p.inFeatures, p.outFeatures, p.hasBias], p.name).to.deep.equal([...(e as number[]), true]);
        expect(shape(w.weight), p.name).to.deep.equal(e);
        expect(shape(w.bias), p.name).to.deep.equal([(e as number[])[1]]);
        expect(w.weight!.dtype).to.equal('float32');
      } else if (p.kind === 'layernorm') {
        expect([p.features, p.hasBias], p.name).to.deep.equal([e, true]);
        expect([shape(w.scale), shape(w.shift)], p.name).to.deep.equal([[e], [e]]);
      } else if (p.kind === 'sublayer') {
        expect(p.features, p.name).to.equal(e);
        expect(w).to.deep.equal({});
      } else {
        expect([p.rows, p.features]).to.deep.equal(e);
        expect(shape(w.table)).to.deep.equal(e);
      }
    }
    expect(info.points.map((p) => p.name).filter((n) => !n.endsWith('.scores'))).to.have.members(
      Object.keys(expected),
    );
  });

  it('splits the fused qkv kernel into q | k | v and keeps [in, out] kernels as zero-copy views', () => {
    for (const [layer, width] of [
      [0, 256],
      [1, 512],
    ] as const) {
      const mha = `module/Encoder_en/KonaTransformer/Encode/Layer_${layer}/TransformerLayer/MultiheadAttention`;
      const fused = files.weights.get(`${mha}/qkv_transform_single/kernel/part_0`)!;
      const inWidth = fused.shape[2]!;
      expect(fused.shape).to.deep.equal([1, 1, inWidth, 3 * width]);
      (['q', 'k', 'v'] as const).forEach((role, part) => {
        const w = backbone.pretrained(`layer.${layer}.attn.${role}`).weight!.data;
        for (const [r, c] of [
          [0, 0],
          [inWidth - 1, width - 1],
          [17, 33],
          [inWidth >> 1, width >> 2],
        ] as const)
          expect(w[r * width + c], `${role}[${r},${c}]`).to.equal(
            fused.data[r * 3 * width + part * width + c],
          );
      });
      // The output kernel [1,1,w,out] is used as [w,out]: a view into the decoded shard buffer.
      const o = files.weights.get(`${mha}/output_transform_single/kernel/part_0`)!;
      const decoded = backbone.pretrained(`layer.${layer}.attn.o`).weight!;
      expect(decoded.shape).to.deep.equal(o.shape.slice(2));
      expect(Array.from((decoded.data as Float32Array).subarray(0, 64))).to.deep.equal(
        Array.from(o.data.subarray(0, 64)),
      );
      expect(decoded.data.buffer.byteLength).to.equal(27_903_656);
      expect(decoded.data.buffer).to.equal(backbone.pretrained('embeddings.word').table!.data.buffer);
    }
  });

  it('reads the timing signal timescales from the graph: 1e-4^(i/127), as in tensor2tensor', () => {
    const inv = [...files.weights.values()].find((w) => w.name.endsWith('TimingSignal/ExpandDims_1'))!;
    for (let i = 0; i < 128; i++) expect(inv.data[i]).to.be.closeTo(Math.pow(1e-4, i / 127), 1e-6);
  });
});
