/** Attachment points: listed with their dimensions, hooked once per pass, wired, and their weights. */
import type { AttachmentKind, EncoderHooks } from '@peftkit/api';
import { Graph, type TensorData, ops } from '@peftkit/graph';
import { identityHooks, recordingHooks } from '@peftkit/nn';
import { expect } from 'chai';
import { join } from 'node:path';
import { type HfEncoder, loadHfBackbone } from '../src/index.js';
import { makeBatch, makeCheckpoint, maxAbsDiff, runEncoder, scratch } from './helpers.js';
import { readSafetensorsF64 } from './reference.js';

/** The hook each kind of point must receive exactly once per encoder pass. */
const KIND_HOOKS: Record<AttachmentKind, (keyof EncoderHooks)[]> = {
  linear: ['linear'],
  layernorm: ['layerNorm'],
  sublayer: ['sublayer'],
  attention: ['attentionKeys', 'attentionContext'],
  embedding: ['weight'],
};

function encodeRecorded(
  backbone: HfEncoder,
  train = false,
): { calls: { point: string; hook: keyof EncoderHooks }[]; g: Graph } {
  const g = new Graph();
  const ids = g.input('ids', 'int64', ['B', 'T']);
  const mask = g.input('mask', 'float32', ['B', 'T']);
  const typeIds = g.input('type_ids', 'int64', ['B', 'T']);
  const calls: { point: string; hook: keyof EncoderHooks }[] = [];
  backbone.encode(g, { ids, mask, typeIds }, recordingHooks(identityHooks(g), calls), { train });
  return { calls, g };
}

const floats = (t: TensorData): number[] => Array.from(t.data as Float32Array);

describe('hf backbone: attachment points', function () {
  this.timeout(30_000);
  const tmp = scratch();
  after(() => tmp.cleanup());

  for (const type of ['bert', 'roberta', 'distilbert'] as const) {
    for (const pooling of type === 'distilbert' ? (['cls', 'mean'] as const) : (['cls', 'pooler'] as const)) {
      it(`${type} (${pooling}): every listed point is hooked exactly once per encode, with its kind`, async () => {
        const dir = join(tmp.dir, `${type}-hooks`);
        await makeCheckpoint({ type, out: dir, layers: 3 });
        const backbone = await loadHfBackbone({ path: dir, pooling });
        const points = backbone.info.points;
        const expected = 3 * 11 + (type === 'distilbert' ? 3 : 4) + (pooling === 'pooler' ? 1 : 0);
        expect(points).to.have.length(expected);
        expect(new Set(points.map((p) => p.name)).size).to.equal(points.length);
        for (let run = 0; run < 2; run++) {
          const { calls } = encodeRecorded(backbone);
          const listed = new Set(points.map((p) => p.name));
          for (const c of calls) expect(listed.has(c.point), `unlisted point ${c.point}`).to.equal(true);
          for (const p of points) {
            for (const hook of Object.keys(KIND_HOOKS) as AttachmentKind[]) {
              for (const h of KIND_HOOKS[hook]) {
                const n = calls.filter((c) => c.point === p.name && c.hook === h).length;
                const want = hook === p.kind ? 1 : 0;
                // Weights of linear and layernorm points also go through `weight` (one per role).
                if (h === 'weight' && p.kind !== 'embedding') continue;
                expect(n, `${p.name} (${p.kind}): ${h} calls`).to.equal(want);
              }
            }
            const weightCalls = calls.filter((c) => c.point === p.name && c.hook === 'weight').length;
            const roles = { linear: 2, layernorm: 2, embedding: 1, sublayer: 0, attention: 0 }[p.kind];
            expect(weightCalls, `${p.name}: weight calls`).to.equal(roles);
          }
        }
      });
    }
  }

  it('two encodes into one graph share the weights and run (a pair encoder may do this)', async () => {
    const dir = join(tmp.dir, 'roberta-twice');
    await makeCheckpoint({ type: 'roberta', out: dir });
    const b = await loadHfBackbone({ path: dir, dropout: 0.1 });
    const g = new Graph();
    const ids = g.input('ids', 'int64', ['B', 'T']);
    const mask = g.input('mask', 'float32', ['B', 'T']);
    const hooks = identityHooks(g);
    const one = b.encode(g, { ids, mask }, hooks, { train: true });
    const two = b.encode(g, { ids, mask }, hooks, { train: true });
    expect(one).not.to.equal(two);
    const tables = [...g.initializers.values()].filter(
      (i) => i.data === b.pretrained('embeddings.word').table,
    );
    expect(tables).to.have.length(1);
  });

  it('fills the fields of each point from config.json', async () => {
    const dir = join(tmp.dir, 'bert-fields');
    await makeCheckpoint({
      type: 'bert',
      out: dir,
      layers: 2,
      hidden: 24,
      heads: 3,
      intermediate: 40,
      positions: 50,
    });
    const b = await loadHfBackbone({ path: dir, pooling: 'pooler' });
    const byName = new Map(b.info.points.map((p) => [p.name, p]));
    expect(byName.get('embeddings.word')).to.deep.include({
      kind: 'embedding',
      rows: b.tokenizer.vocabSize,
      features: 24,
    });
    expect(byName.get('embeddings.position')).to.deep.include({ kind: 'embedding', rows: 50, features: 24 });
    expect(byName.get('embeddings.type')).to.deep.include({ kind: 'embedding', rows: 2, features: 24 });
    expect(byName.get('embeddings.ln')).to.deep.include({ kind: 'layernorm', features: 24, hasBias: true });
    expect(byName.get('layer.1.attn.q')).to.deep.equal({
      name: 'layer.1.attn.q',
      kind: 'linear',
      layer: 1,
      inFeatures: 24,
      outFeatures: 24,
      hasBias: true,
    });
    expect(byName.get('layer.0.ffn.in')).to.deep.include({ inFeatures: 24, outFeatures: 40, layer: 0 });
    expect(byName.get('layer.0.ffn.out')).to.deep.include({ inFeatures: 40, outFeatures: 24 });
    expect(byName.get('layer.1.attn.scores')).to.deep.include({
      kind: 'attention',
      heads: 3,
      headDim: 8,
      layer: 1,
    });
    expect(byName.get('layer.1.ffn.sublayer')).to.deep.include({ kind: 'sublayer', features: 24, layer: 1 });
    expect(byName.get('layer.0.ln_ffn')).to.deep.include({ kind: 'layernorm', features: 24, layer: 0 });
    expect(byName.get('pooler')).to.deep.include({ kind: 'linear', inFeatures: 24, outFeatures: 24 });
    expect(b.info).to.deep.include({
      name: 'hf',
      modelType: 'bert',
      numLayers: 2,
      pooledSize: 24,
      pairEncoding: 'joint',
    });
  });

  it('pretrained(point) returns the checkpoint tensors by role, linear weights as [in, out]', async () => {
    const dir = join(tmp.dir, 'roberta-pretrained');
    await makeCheckpoint({
      type: 'roberta',
      out: dir,
      hidden: 16,
      heads: 2,
      intermediate: 24,
      taskHead: true,
    });
    const b = await loadHfBackbone({ path: dir });
    const file = readSafetensorsF64(join(dir, 'model.safetensors'));
    const w = b.pretrained('layer.1.ffn.in');
    const hf = file.get('roberta.encoder.layer.1.intermediate.dense.weight')!; // [24, 16]
    expect(w.weight!.shape).to.deep.equal([16, 24]);
    const transposedBack: number[] = [];
    for (let o = 0; o < 24; o++)
      for (let i = 0; i < 16; i++) transposedBack.push(floats(w.weight!)[i * 24 + o]!);
    expect(transposedBack).to.deep.equal(Array.from(hf.data));
    const fileFloats = (name: string): number[] => Array.from(file.get(`roberta.${name}`)!.data);
    expect(floats(w.bias!)).to.deep.equal(fileFloats('encoder.layer.1.intermediate.dense.bias'));
    const ln = b.pretrained('layer.0.ln_attn');
    expect(floats(ln.scale!)).to.deep.equal(fileFloats('encoder.layer.0.attention.output.LayerNorm.weight'));
    expect(floats(ln.shift!)).to.deep.equal(fileFloats('encoder.layer.0.attention.output.LayerNorm.bias'));
    expect(b.pretrained('embeddings.type').table!.shape).to.deep.equal([1, 16]);
    expect(b.pretrained('layer.0.attn.scores')).to.deep.equal({});
    expect(() => b.pretrained('layer.9.attn.q')).to.throw(/no attachment point "layer.9.attn.q"/);
  });

  it('info.params counts exactly the encoder weights loaded (no task head, pooler only when used)', async () => {
    const dir = join(tmp.dir, 'bert-params');
    await makeCheckpoint({ type: 'bert', out: dir, taskHead: true });
    const file = readSafetensorsF64(join(dir, 'model.safetensors'));
    let all = 0;
    let pooler = 0;
    for (const [name, t] of file) {
      if (name.startsWith('classifier.')) continue;
      all += t.data.length;
      if (name.startsWith('bert.pooler.')) pooler += t.data.length;
    }
    expect(pooler).to.equal(32 * 32 + 32);
    expect((await loadHfBackbone({ path: dir, pooling: 'pooler' })).info.params).to.equal(all);
    const cls = await loadHfBackbone({ path: dir, pooling: 'cls' });
    expect(cls.info.params).to.equal(all - pooler);
    expect(cls.description).to.match(/ignored [^;]*classifier\.bias/);
    expect(cls.description).to.match(/ignored [^;]*classifier\.weight/);
  });

  it('the value each hook returns is the one the encoder uses', async () => {
    const dir = join(tmp.dir, 'bert-wired');
    await makeCheckpoint({ type: 'bert', out: dir });
    const b = await loadHfBackbone({ path: dir, pooling: 'pooler' });
    const batch = makeBatch(b, [['the river rose', 'again'], ['bread']]);
    const base = await runEncoder(b, batch);
    const perturbations: Record<string, (id: EncoderHooks) => EncoderHooks> = {
      'embeddings.type (weight)': (id) => ({
        ...id,
        weight: (p, r, d) => (p === 'embeddings.type' ? ops.mul(id.weight(p, r, d), 3) : id.weight(p, r, d)),
      }),
      'layer.0.attn.q (linear)': (id) => ({
        ...id,
        linear: (p, _x, y) => (p === 'layer.0.attn.q' ? ops.mul(y, 2) : y),
      }),
      'layer.1.ln_attn (layerNorm)': (id) => ({
        ...id,
        layerNorm: (p, _x, y) => (p === 'layer.1.ln_attn' ? ops.mul(y, 0.5) : y),
      }),
      'layer.0.ffn.sublayer (sublayer)': (id) => ({
        ...id,
        sublayer: (p, x, y) => (p === 'layer.0.ffn.sublayer' ? ops.add(y, x) : y),
      }),
      'layer.1.attn.scores (attentionKeys)': (id) => ({
        ...id,
        attentionKeys: (p, kv) => (p === 'layer.1.attn.scores' ? { ...kv, v: ops.mul(kv.v, 2) } : kv),
      }),
      'layer.1.attn.scores (attentionContext)': (id) => ({
        ...id,
        attentionContext: (p, _q, c) => (p === 'layer.1.attn.scores' ? ops.mul(c, 3) : c),
      }),
      'pooler (linear)': (id) => ({ ...id, linear: (p, _x, y) => (p === 'pooler' ? ops.mul(y, 0.1) : y) }),
    };
    for (const [what, perturb] of Object.entries(perturbations)) {
      const got = await runEncoder(b, batch, { hooks: (g) => perturb(identityHooks(g)) });
      expect(maxAbsDiff(got, base), what).to.be.greaterThan(1e-3);
    }
  });

  it('training graphs get dropout only when the dropout option is > 0', async () => {
    const dir = join(tmp.dir, 'distil-dropout');
    await makeCheckpoint({ type: 'distilbert', out: dir, layers: 2 });
    const count = (g: Graph): number => g.nodes.filter((n) => n.type === 'Dropout').length;
    const none = await loadHfBackbone({ path: dir });
    expect(count(encodeRecorded(none, true).g)).to.equal(0);
    const withDrop = await loadHfBackbone({ path: dir, dropout: 0.1 });
    expect(count(encodeRecorded(withDrop, false).g)).to.equal(0);
    expect(count(encodeRecorded(withDrop, true).g)).to.equal(1 + 2 * 2);
    // The training graph runs, and dropping changes the output; evaluation is unaffected. (ORT's
    // optimiser removes forward-only Dropout nodes, see test/ort.ts, so this runs unoptimised.)
    const batch = makeBatch(withDrop, [['the river rose'], ['bread needs flour']]);
    const evalOut = await runEncoder(withDrop, batch);
    expect(maxAbsDiff(evalOut, await runEncoder(none, batch))).to.equal(0);
    expect(
      maxAbsDiff(await runEncoder(withDrop, batch, { train: true, optimization: 'disabled' }), evalOut),
    ).to.be.greaterThan(1e-3);
  });
});
