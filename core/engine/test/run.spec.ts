import { DataError } from '@peftkit/api';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CheckpointStore,
  Journal,
  RunDir,
  decodeState,
  encodeState,
  readJournal,
  runStamp,
  type CheckpointStep,
} from '../src/index.js';
import { caught } from './helpers.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'peftkit-run-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** A state with typed arrays at several depths and numbers JSON cannot hold. */
function sampleState() {
  return {
    step: 120,
    params: {
      'lora@layer.0.attn.q/A': new Float32Array([1.5, -2, NaN, Infinity]),
      'head/b': new Float32Array(0),
    },
    history: [new Float64Array([Math.PI, -0]), { ids: new Int32Array([-1, 7]) }],
    rng: { s: new Uint32Array([1, 2, 3, 0xffffffff]), spare: null },
    big: new BigInt64Array([-(2n ** 63n), 5n]),
    counts: new Uint8Array([0, 255]),
    loss: NaN,
    best: -Infinity,
    zero: -0,
    huge: 2n ** 70n,
    tags: ['a', { 'slash/key': 'b' }],
  };
}

function expectSameState(a: unknown, b: unknown, path = ''): void {
  if (ArrayBuffer.isView(a)) {
    expect(b, path).to.be.instanceOf((a as object).constructor);
    const bytes = (v: ArrayBufferView) => Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    expect(bytes(b as ArrayBufferView), path).to.deep.equal(bytes(a));
  } else if (Array.isArray(a)) {
    expect(b, path).to.be.an('array').with.length(a.length);
    a.forEach((x, i) => expectSameState(x, (b as unknown[])[i], `${path}/${i}`));
  } else if (a !== null && typeof a === 'object') {
    expect(Object.keys(b as object).sort(), path).to.deep.equal(Object.keys(a).sort());
    for (const k of Object.keys(a))
      expectSameState((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}/${k}`);
  } else {
    expect(Object.is(a, b), `${path}: ${String(a)} vs ${String(b)}`).to.equal(true);
  }
}

describe('run directories', () => {
  it('creates <name>-<stamp>-s<seed>/ with config.json and run.json, unique within one second', () => {
    const now = new Date(2026, 10, 28, 16, 3, 9);
    const a = RunDir.create(join(tmp, 'runs'), 'quickstart', 42, { backbone: { name: 'toy' } }, now);
    const b = RunDir.create(join(tmp, 'runs'), 'quickstart', 42, { backbone: { name: 'toy' } }, now);
    expect(runStamp(now)).to.equal('20261128-160309');
    expect(a.id).to.equal('quickstart-20261128-160309-s42');
    expect(b.id).to.equal('quickstart-20261128-160309-s42-2');
    expect(JSON.parse(readFileSync(join(a.path, 'config.json'), 'utf8'))).to.deep.equal({
      backbone: { name: 'toy' },
    });
    expect(a.info).to.include({ name: 'quickstart', seed: 42, startedAt: now.getTime() });
    const reopened = RunDir.open(a.path);
    expect(reopened.info).to.deep.equal(a.info);
    expect(reopened.readConfig()).to.deep.equal({ backbone: { name: 'toy' } });
    expect(() => RunDir.create(tmp, 'bad/name', 1, {})).to.throw(/must be letters/);
    // An output directory that cannot be created names the field.
    writeFileSync(join(tmp, 'a-file'), 'x');
    expect(() => RunDir.create(join(tmp, 'a-file', 'runs'), 'r', 1, {})).to.throw(
      /output\.dir: cannot create the output directory .*a-file\/runs \(ENOTDIR\)/,
    );
  });

  it('explains why a directory is not a run', async () => {
    const missing = (await caught(() => RunDir.open(join(tmp, 'nope')))) as DataError;
    expect(missing).to.be.instanceOf(DataError);
    expect(missing.message).to.match(/nope: run directory not found/);
    const plain = await caught(() => RunDir.open(tmp));
    expect(plain.message).to.match(/not a peftkit run directory: it has no run\.json/);
    writeFileSync(join(tmp, 'run.json'), '{"name": 3');
    expect((await caught(() => RunDir.open(tmp))).message).to.match(/run\.json: run\.json is not valid JSON/);
  });

  it('writes and reads result.json atomically', () => {
    const run = RunDir.create(tmp, 'r', 1, {});
    expect(run.readResult()).to.equal(undefined);
    run.writeResult({ accuracy: 0.9, curve: new Float32Array([0.5, 0.25]) });
    expect(run.readResult()).to.deep.equal({ accuracy: 0.9, curve: [0.5, 0.25] });
    expect(readdirSync(run.path).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });
});

describe('journal', () => {
  it('appends records with increasing seq and t since the start', () => {
    let now = 1000;
    const file = join(tmp, 'journal.jsonl');
    const j = Journal.open(file, { startedAt: 1000, now: () => now });
    expect(j.append({ type: 'run-start' })).to.deep.equal({ seq: 1, t: 0, type: 'run-start' });
    now = 1250;
    expect(j.append({ type: 'step', seq: 99, t: 99, loss: 0.5 })).to.deep.equal({
      seq: 2,
      t: 250,
      type: 'step',
      loss: 0.5,
    });
    j.close();
    expect(readJournal(file)).to.deep.equal({
      records: [
        { seq: 1, t: 0, type: 'run-start' },
        { seq: 2, t: 250, type: 'step', loss: 0.5 },
      ],
      truncatedTail: false,
      intactBytes: readFileSync(file).length,
    });
  });

  it('tolerates a truncated last line and repairs it before appending', () => {
    const file = join(tmp, 'journal.jsonl');
    const j = Journal.open(file, { startedAt: 0, now: () => 5 });
    j.append({ type: 'a' });
    j.append({ type: 'b' });
    j.close();
    appendFileSync(file, '{"seq":3,"t":5,"type":"c","loss":0.1'); // killed mid-write
    const read = readJournal(file);
    expect(read.records.map((r) => r.seq)).to.deep.equal([1, 2]);
    expect(read.truncatedTail).to.equal(true);
    const again = Journal.open(file, { startedAt: 0, now: () => 6 });
    expect(again.lastSeq).to.equal(2);
    again.append({ type: 'c' });
    again.close();
    expect(readJournal(file).records.map((r) => `${r.seq}${r.type}`)).to.deep.equal(['1a', '2b', '3c']);
  });

  it('ends a complete last record that lacks its newline before appending', () => {
    const file = join(tmp, 'journal.jsonl');
    writeFileSync(file, '{"seq":1,"t":0,"type":"a"}');
    const j = Journal.open(file, { startedAt: 0 });
    j.append({ type: 'b' });
    j.close();
    expect(readJournal(file).records.map((r) => r.type)).to.deep.equal(['a', 'b']);
  });

  it('reports corrupt lines elsewhere with their line numbers', async () => {
    const file = join(tmp, 'journal.jsonl');
    writeFileSync(
      file,
      [
        '{"seq":1,"t":0,"type":"a"}',
        'garbage',
        '{"seq":1,"t":0,"type":"dup"}',
        '{"seq":4,"t":0,"type":"d"}',
        '',
      ].join('\n'),
    );
    const e = (await caught(() => readJournal(file))) as DataError;
    expect(e).to.be.instanceOf(DataError);
    expect(e.line).to.equal(2);
    expect(e.message).to.match(
      /journal\.jsonl:2: corrupt journal record: not valid JSON .* \(also corrupt: lines 3\)/,
    );
    expect(() => Journal.open(file, { startedAt: 0 })).to.throw(DataError, /:2:/);
  });

  it('drops the records after a checkpoint seq when resuming from it', () => {
    const file = join(tmp, 'journal.jsonl');
    const j = Journal.open(file, { startedAt: 0, now: () => 0 });
    for (const type of ['a', 'b', 'c', 'd']) j.append({ type });
    j.close();
    const resumed = Journal.open(file, { startedAt: 0, truncateAfter: 2, now: () => 0 });
    expect(resumed.lastSeq).to.equal(2);
    resumed.append({ type: 'c2' });
    resumed.close();
    expect(readJournal(file).records.map((r) => `${r.seq}${r.type}`)).to.deep.equal(['1a', '2b', '3c2']);
  });
});

describe('checkpoints', () => {
  it('round-trips typed arrays anywhere in the state, exactly', () => {
    const run = RunDir.create(tmp, 'ck', 3, {});
    run.journal().append({ type: 'step' });
    run.journal().append({ type: 'step' });
    const state = sampleState();
    const info = run.saveCheckpoint(state);
    expect(info.seq).to.equal(2);
    expect(basename(info.file)).to.equal('ckpt-000000002.safetensors');
    const loaded = RunDir.open(run.path).loadCheckpoint()!;
    expect(loaded.seq).to.equal(2);
    expect(loaded.skipped).to.deep.equal([]);
    expectSameState(state, loaded.state);
    run.close();
  });

  it('keeps the latest and the previous checkpoint', () => {
    const store = new CheckpointStore(join(tmp, 'ck'));
    for (const seq of [3, 7, 12]) store.save({ seq, w: new Float32Array([seq]) }, seq);
    expect(store.list().map((c) => c.seq)).to.deep.equal([12, 7]);
    expect(store.load()!.state).to.deep.equal({ seq: 12, w: new Float32Array([12]) });
  });

  it('rejects state it could not restore', () => {
    expect(() => encodeState({ m: new Map() })).to.throw(/at \/m: cannot store a Map/);
    expect(() => encodeState({ f: () => 1 })).to.throw(/cannot store a function/);
    expect(() => encodeState({ x: { $tensor: 'y' } })).to.throw(/reserved/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeState(cyclic)).to.throw(/circular/);
    const { json, tensors } = encodeState({ a: new Float32Array(2) });
    expect(() => decodeState(json, {}, 'x.safetensors')).to.throw(DataError, /refers to tensor "\/a"/);
    expect(() => decodeState(JSON.stringify({}), tensors, 'x.safetensors')).to.throw(
      DataError,
      /does not refer to: \/a/,
    );
  });

  const steps: CheckpointStep[] = ['write', 'write-partial', 'fsync', 'rename', 'prune'];
  for (const step of steps) {
    it(`leaves an intact checkpoint when a save dies at "${step}"`, () => {
      const dir = join(tmp, 'ck');
      new CheckpointStore(dir).save({ v: new Float64Array([1, 1]), seq: 1 }, 1);
      const dying = new CheckpointStore(dir, {
        beforeStep: (s) => {
          if (s === step) throw new Error(`killed at ${s}`);
        },
      });
      expect(() => dying.save({ v: new Float64Array([2, 2]), seq: 2 }, 2)).to.throw(`killed at ${step}`);
      const loaded = new CheckpointStore(dir).load()!;
      const renamed = step === 'prune';
      expect(loaded.seq).to.equal(renamed ? 2 : 1);
      expect(loaded.state).to.deep.equal({
        v: new Float64Array(renamed ? [2, 2] : [1, 1]),
        seq: renamed ? 2 : 1,
      });
      // The next save cleans up what the interrupted one left behind.
      new CheckpointStore(dir).save({ v: new Float64Array([3, 3]), seq: 3 }, 3);
      expect(readdirSync(dir).sort()).to.deep.equal(
        renamed
          ? ['ckpt-000000002.safetensors', 'ckpt-000000003.safetensors']
          : ['ckpt-000000001.safetensors', 'ckpt-000000003.safetensors'],
      );
    });
  }

  it('skips a damaged newest checkpoint in favour of the previous one, and says so', () => {
    const dir = join(tmp, 'ck');
    const store = new CheckpointStore(dir);
    store.save({ v: 1 }, 1);
    store.save({ v: 2 }, 2);
    const newest = join(dir, 'ckpt-000000002.safetensors');
    writeFileSync(newest, readFileSync(newest).subarray(0, 20));
    const loaded = store.load()!;
    expect(loaded.state).to.deep.equal({ v: 1 });
    expect(loaded.skipped[0]!.file).to.equal(newest);
    writeFileSync(join(dir, 'ckpt-000000001.safetensors'), 'junk');
    expect(() => store.load()).to.throw(DataError, /no readable checkpoint/);
  });

  it('survives SIGKILL at arbitrary moments of a save loop (real process)', async function () {
    this.timeout(20_000);
    const dir = join(tmp, 'ck');
    const engine = pathToFileURL(new URL('../src/index.js', import.meta.url).pathname).href;
    // Each checkpoint holds 256 KiB of floats all equal to its seq, so a torn write would show.
    const code = `
      import { CheckpointStore } from ${JSON.stringify(engine)};
      const store = new CheckpointStore(${JSON.stringify(dir)});
      for (let seq = 1; ; seq++) store.save({ seq, w: new Float32Array(65536).fill(seq) }, seq);
    `;
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const deadline = Date.now() + 10_000;
      while (
        Date.now() < deadline &&
        !(existsSync(dir) && readdirSync(dir).filter((f) => f.startsWith('ckpt-')).length >= 2)
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 37 * (round + 1)));
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGKILL');
      await exited;
      expect(stderr).to.equal('');
      const loaded = new CheckpointStore(dir).load<{ seq: number; w: Float32Array }>()!;
      expect(loaded.skipped).to.deep.equal([]);
      expect(loaded.state.seq).to.equal(loaded.seq);
      expect(loaded.state.w.length).to.equal(65536);
      expect(loaded.state.w.every((x) => x === loaded.seq)).to.equal(true);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
