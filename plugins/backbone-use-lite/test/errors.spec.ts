/** Bad model files give DataErrors that name the file (and field); bad options give ConfigErrors. */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DataError } from '@peftkit/api';
import { expect } from 'chai';
import { defaultModelDir, loadUseLite } from '../src/index.js';

const SHARDS = Array.from({ length: 7 }, (_, i) => `group1-shard${i + 1}of7`);

/** A model directory whose shards link to the installed ones, with model.json and vocab.json copied. */
function modelCopy(): string {
  const src = defaultModelDir();
  const dir = mkdtempSync(join(tmpdir(), 'use-lite-'));
  for (const f of SHARDS) symlinkSync(join(src, f), join(dir, f));
  for (const f of ['model.json', 'vocab.json']) copyFileSync(join(src, f), join(dir, f));
  return dir;
}

function loadError(dir: string): Error {
  try {
    loadUseLite({ modelDir: dir });
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected loading to fail');
}

describe('use-lite load errors', () => {
  const dirs: string[] = [];
  const fresh = () => {
    const d = modelCopy();
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('loads an intact copy', () => {
    expect(loadUseLite({ modelDir: fresh() }).info.params).to.equal(6_975_744);
  });

  it('names a truncated shard', () => {
    const dir = fresh();
    const shard = join(dir, 'group1-shard3of7');
    const bytes = readFileSync(shard);
    rmSync(shard);
    writeFileSync(shard, bytes.subarray(0, 1000));
    const e = loadError(dir);
    expect(e).to.be.instanceOf(DataError);
    expect(e.message).to.contain(shard).and.contain('truncated').and.contain('1000 bytes, expected 4194304');
  });

  it('names a missing shard', () => {
    const dir = fresh();
    rmSync(join(dir, 'group1-shard7of7'));
    const e = loadError(dir);
    expect(e).to.be.instanceOf(DataError);
    expect(e.message).to.contain(join(dir, 'group1-shard7of7')).and.contain('missing');
  });

  it('rejects a manifest that does not match the shards or the architecture', () => {
    const edit = (change: (m: { weightsManifest: { weights: Record<string, unknown>[] }[] }) => void) => {
      const dir = fresh();
      const file = join(dir, 'model.json');
      const m = JSON.parse(readFileSync(file, 'utf8'));
      change(m);
      writeFileSync(file, JSON.stringify(m));
      return { e: loadError(dir), file };
    };
    // A smaller shape: the shards hold more bytes than the manifest says (the last one is too long).
    let { e, file } = edit((m) => (m.weightsManifest[0]!.weights[0]!.shape = [1536, 511]));
    expect(e).to.be.instanceOf(DataError);
    expect(e.message)
      .to.contain('group1-shard7of7')
      .and.contain('too long')
      .and.contain(`manifest of ${file}`);
    // Far more bytes than the shards hold: no shard layout explains it, the manifest is named.
    ({ e, file } = edit((m) => (m.weightsManifest[0]!.weights[0]!.shape = [1536, 51200])));
    expect(e.message).to.match(new RegExp(`^${file}: weight shards .* do not match the manifest`));
    // Swapping the shapes of two same-sized weights keeps the byte total but not the expected shapes.
    ({ e, file } = edit((m) => {
      const ws = m.weightsManifest[0]!.weights;
      ws[0]!.shape = [512, 1536];
      ws[1]!.shape = [1536, 512];
    }));
    expect(e).to.be.instanceOf(DataError);
    expect(e.message)
      .to.contain(file)
      .and.match(
        /Layer_1\/TransformerLayer\/FFN\/conv1\/Tensordot\/Reshape_1 is float32\[1536,512\], expected float32\[512,1536\]/,
      );
    ({ e, file } = edit((m) => (m.weightsManifest[0]!.weights[3]!.quantization = { dtype: 'uint8' })));
    expect(e.message).to.contain(file).and.contain('weightsManifest[0].weights[3].quantization');
    ({ e, file } = edit((m) => (m.weightsManifest[0]!.weights[2]!.dtype = 'float16')));
    expect(e.message).to.contain('weightsManifest[0].weights[2].dtype').and.contain('"float16"');
  });

  it('rejects a graph that differs from the reconstructed one', () => {
    const dir = fresh();
    const file = join(dir, 'model.json');
    const m = JSON.parse(readFileSync(file, 'utf8'));
    const relu = m.modelTopology.node.find((n: { op: string }) => n.op === 'Relu');
    relu.op = 'Elu';
    writeFileSync(file, JSON.stringify(m));
    const e = loadError(dir);
    expect(e).to.be.instanceOf(DataError);
    expect(e.message).to.contain(file).and.contain('modelTopology differs');
  });

  it('names a bad vocab.json entry', () => {
    const dir = fresh();
    const file = join(dir, 'vocab.json');
    const v = JSON.parse(readFileSync(file, 'utf8'));
    v[42] = ['▁x'];
    writeFileSync(file, JSON.stringify(v));
    const e = loadError(dir);
    expect(e).to.be.instanceOf(DataError);
    expect(e.message).to.contain(file).and.contain('entry 42');
  });

  it('rejects maxLength outside 1..128', () => {
    for (const maxLength of [0, 129, 2.5])
      expect(() => loadUseLite({ maxLength })).to.throw(
        ConfigError,
        /maxLength.*expected an integer from 1 to 128/,
      );
    expect(loadUseLite({ maxLength: 16 }).info.maxLength).to.equal(16);
  });
});
