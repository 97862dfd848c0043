/** Loading checkpoints: the accepted variants, and every error naming its file. */
import {
  ConfigError,
  DataError,
  type SafetensorsTensor,
  decodeSafetensors,
  encodeSafetensors,
} from '@peftkit/api';
import { expect } from 'chai';
import { readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadHfBackbone } from '../src/index.js';
import { type MakeOptions, makeBatch, makeCheckpoint, maxAbsDiff, runEncoder, scratch } from './helpers.js';

type Tensors = Record<string, SafetensorsTensor>;

function editWeights(dir: string, edit: (t: Tensors) => void): void {
  const file = join(dir, 'model.safetensors');
  const st = decodeSafetensors(readFileSync(file), file);
  const tensors = { ...st.tensors };
  edit(tensors);
  writeFileSync(file, encodeSafetensors(tensors, st.metadata));
}

function editJson(file: string, edit: (o: Record<string, unknown>) => void): void {
  const o = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(o);
  writeFileSync(file, JSON.stringify(o));
}

async function loadError(options: Parameters<typeof loadHfBackbone>[0]): Promise<Error> {
  try {
    await loadHfBackbone(options);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected loadHfBackbone to fail');
}

describe('hf backbone: loading', function () {
  this.timeout(30_000);
  const tmp = scratch();
  after(() => tmp.cleanup());
  let n = 0;
  async function fresh(o: Omit<MakeOptions, 'out'> = { type: 'bert' }): Promise<string> {
    const dir = join(tmp.dir, `ck${n++}`);
    await makeCheckpoint({ ...o, out: dir });
    return dir;
  }

  describe('accepted variants', () => {
    it('holds the frozen weights in SharedArrayBuffers of their own (a worker backend shares them, no copy per compile)', async () => {
      const b = await loadHfBackbone({ path: await fresh() });
      const buffers = new Set<ArrayBufferLike>();
      for (const p of b.info.points) {
        for (const t of Object.values(b.pretrained(p.name))) {
          expect(t!.data.buffer, `${p.name}`).to.be.instanceOf(SharedArrayBuffer);
          expect(t!.data.byteLength).to.equal(t!.data.buffer.byteLength);
          buffers.add(t!.data.buffer);
        }
      }
      expect(buffers.size).to.be.greaterThan(10);
    });

    it('resolves a relative path against baseDir', async () => {
      const dir = await fresh();
      const b = await loadHfBackbone({ path: dir.slice(tmp.dir.length + 1), baseDir: tmp.dir });
      expect(b.info.modelType).to.equal('bert');
    });

    it('TF-era LayerNorm names (gamma/beta) and buffers (position_ids) load as transformers loads them', async () => {
      const dir = await fresh({ type: 'bert', taskHead: true });
      const before = await loadHfBackbone({ path: dir });
      const batch = makeBatch(before, [['the river rose'], ['bread']]);
      const want = await runEncoder(before, batch);
      editWeights(dir, (t) => {
        for (const name of Object.keys(t)) {
          if (!name.includes('LayerNorm.')) continue;
          const renamed = name.replace(/\.weight$/, '.gamma').replace(/\.bias$/, '.beta');
          t[renamed] = t[name]!;
          delete t[name];
        }
        t['bert.embeddings.position_ids'] = {
          dtype: 'I64',
          shape: [1, 64],
          data: BigInt64Array.from({ length: 64 }, (_, i) => BigInt(i)),
        };
      });
      const after = await loadHfBackbone({ path: dir });
      expect(maxAbsDiff(await runEncoder(after, batch), want)).to.equal(0);
      expect(after.description).to.include('bert.embeddings.position_ids');
    });

    it('sharded checkpoints (model.safetensors.index.json) give the same encoder', async () => {
      const dir = await fresh({ type: 'distilbert' });
      const single = await loadHfBackbone({ path: dir });
      const file = join(dir, 'model.safetensors');
      const st = decodeSafetensors(readFileSync(file), file);
      const names = Object.keys(st.tensors).sort();
      const half = Math.ceil(names.length / 2);
      const shards: Tensors[] = [{}, {}];
      const weightMap: Record<string, string> = {};
      names.forEach((name, i) => {
        const s = i < half ? 0 : 1;
        shards[s]![name] = st.tensors[name]!;
        weightMap[name] = `model-0000${s + 1}-of-00002.safetensors`;
      });
      shards.forEach((s, i) =>
        writeFileSync(join(dir, `model-0000${i + 1}-of-00002.safetensors`), encodeSafetensors(s)),
      );
      writeFileSync(
        join(dir, 'model.safetensors.index.json'),
        JSON.stringify({ metadata: {}, weight_map: weightMap }),
      );
      rmSync(file);
      const sharded = await loadHfBackbone({ path: dir });
      const batch = makeBatch(single, [['the river rose', 'again'], ['bread']]);
      expect(maxAbsDiff(await runEncoder(sharded, batch), await runEncoder(single, batch))).to.equal(0);
      expect(sharded.info.params).to.equal(single.info.params);
    });

    it('describes half-precision conversion', async () => {
      const dir = await fresh({ type: 'roberta', dtype: 'F16' });
      const b = await loadHfBackbone({ path: dir });
      expect(b.description).to.match(/F16 tensors were converted to float32/);
    });
  });

  describe('errors name the file', () => {
    const expectError = (
      e: Error,
      type: typeof DataError | typeof ConfigError,
      file: string,
      ...parts: (string | RegExp)[]
    ) => {
      expect(e).to.be.instanceOf(type);
      expect(e.message).to.include(file);
      for (const p of parts) {
        if (typeof p === 'string') expect(e.message).to.include(p);
        else expect(e.message).to.match(p);
      }
    };

    it('a missing directory', async () => {
      const e = await loadError({ path: join(tmp.dir, 'nowhere') });
      expectError(e, ConfigError, join(tmp.dir, 'nowhere'), 'path', 'not found');
    });

    for (const file of ['config.json', 'tokenizer.json', 'model.safetensors']) {
      it(`a missing ${file}`, async () => {
        const dir = await fresh();
        rmSync(join(dir, file));
        expectError(await loadError({ path: dir }), DataError, join(dir, file), 'missing file');
      });
    }

    it('pytorch_model.bin without safetensors', async () => {
      const dir = await fresh();
      renameSync(join(dir, 'model.safetensors'), join(dir, 'pytorch_model.bin'));
      expectError(
        await loadError({ path: dir }),
        DataError,
        'model.safetensors',
        'pytorch_model.bin',
        'safe_serialization',
      );
    });

    it('a truncated model.safetensors', async () => {
      const dir = await fresh();
      const file = join(dir, 'model.safetensors');
      truncateSync(file, readFileSync(file).length - 100);
      expectError(await loadError({ path: dir }), DataError, file);
    });

    it('a corrupt safetensors header', async () => {
      const dir = await fresh();
      const file = join(dir, 'model.safetensors');
      const bytes = readFileSync(file);
      bytes.write('#', 8); // the JSON header now starts with '#'
      writeFileSync(file, bytes);
      expectError(await loadError({ path: dir }), DataError, file, /header/);
    });

    it('a missing weight, by its checkpoint name', async () => {
      const dir = await fresh({ type: 'roberta', taskHead: true });
      editWeights(dir, (t) => delete t['roberta.encoder.layer.1.output.LayerNorm.bias']);
      expectError(
        await loadError({ path: dir }),
        DataError,
        join(dir, 'model.safetensors'),
        'missing weight "roberta.encoder.layer.1.output.LayerNorm.bias"',
      );
    });

    it('an extra weight, by name', async () => {
      const dir = await fresh({ type: 'distilbert' });
      editWeights(dir, (t) => {
        t['transformer.layer.2.ffn.lin1.weight'] = t['transformer.layer.1.ffn.lin1.weight']!;
      });
      expectError(
        await loadError({ path: dir }),
        DataError,
        join(dir, 'model.safetensors'),
        'unexpected weight "transformer.layer.2.ffn.lin1.weight"',
      );
    });

    it('a weight whose shape does not match config.json: weight, expected and found shape', async () => {
      const dir = await fresh({ type: 'bert', hidden: 32, intermediate: 128 });
      editJson(join(dir, 'config.json'), (c) => (c.intermediate_size = 48));
      expectError(
        await loadError({ path: dir }),
        DataError,
        join(dir, 'model.safetensors'),
        'weight "encoder.layer.0.intermediate.dense.weight": expected shape [48, 32] (from config.json), found [128, 32]',
      );
    });

    it('a weight stored as integers', async () => {
      const dir = await fresh();
      editWeights(dir, (t) => {
        t['pooler.dense.bias'] = { dtype: 'I32', shape: [32], data: new Int32Array(32) };
      });
      expectError(await loadError({ path: dir }), DataError, 'model.safetensors', 'pooler.dense.bias', 'I32');
    });

    it('an unknown model_type, with a did-you-mean over the supported ones', async () => {
      const dir = await fresh();
      const file = join(dir, 'config.json');
      editJson(file, (c) => (c.model_type = 'roberat'));
      expectError(await loadError({ path: dir }), ConfigError, file, 'model_type', 'did you mean "roberta"?');
      editJson(file, (c) => (c.model_type = 'gpt2'));
      const e = await loadError({ path: dir });
      expectError(
        e,
        ConfigError,
        file,
        'unsupported model_type "gpt2"; supported: bert, roberta, xlm-roberta, distilbert, electra',
      );
      expect(e.message).not.to.include('did you mean');
    });

    it('config.json that is not JSON, or lacks a field, or has an unsupported activation', async () => {
      const dir = await fresh({ type: 'distilbert' });
      const file = join(dir, 'config.json');
      const good = readFileSync(file, 'utf8');
      writeFileSync(file, good.slice(0, 40));
      expectError(await loadError({ path: dir }), ConfigError, file, 'not valid JSON');
      writeFileSync(file, good);
      editJson(file, (c) => delete c.n_heads);
      expectError(await loadError({ path: dir }), ConfigError, file, 'n_heads', 'missing');
      writeFileSync(file, good);
      editJson(file, (c) => (c.activation = 'swish'));
      expectError(
        await loadError({ path: dir }),
        ConfigError,
        file,
        'activation',
        'unsupported activation "swish"',
      );
    });

    it('a tokenizer whose vocabulary size does not match vocab_size', async () => {
      const dir = await fresh();
      const file = join(dir, 'tokenizer.json');
      editJson(file, (t) => {
        const vocab = (t.model as { vocab: Record<string, number> }).vocab;
        vocab['zzzextra'] = Object.keys(vocab).length;
      });
      const vocabSize = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { vocab_size: number })
        .vocab_size;
      expectError(
        await loadError({ path: dir }),
        DataError,
        file,
        `the tokenizer has ${vocabSize + 1} tokens but config.json says vocab_size = ${vocabSize}`,
      );
    });

    it('a tokenizer.json that is not a tokenizer', async () => {
      const dir = await fresh();
      const file = join(dir, 'tokenizer.json');
      writeFileSync(file, JSON.stringify({ version: '1.0' }));
      expectError(await loadError({ path: dir }), DataError, file, 'not a tokenizer.json');
    });

    it('pooler pooling without pooler weights', async () => {
      const distil = await fresh({ type: 'distilbert' });
      expectError(
        await loadError({ path: distil, pooling: 'pooler' }),
        ConfigError,
        join(distil, 'config.json'),
        'no pooler',
      );
      const roberta = await fresh({ type: 'roberta', taskHead: true }); // RobertaForSequenceClassification: no pooler
      expectError(
        await loadError({ path: roberta, pooling: 'pooler' }),
        DataError,
        join(roberta, 'model.safetensors'),
        'roberta.pooler.dense.weight',
      );
    });

    it('options out of range', async () => {
      const dir = await fresh({ type: 'roberta', positions: 40 });
      expectError(
        await loadError({ path: dir, maxLength: 41 }),
        ConfigError,
        join(dir, 'config.json'),
        'maxLength',
        '[3, 40]',
      );
      const e = await loadError({ path: dir, dropout: 1 });
      expect(e).to.be.instanceOf(ConfigError);
      expect(e.message).to.include('dropout');
    });
  });
});
