/**
 * The CLI end to end, as a user runs it, on the tiny fixture plugin (loaded from a preset's
 * `plugins:` by path): a BIPEFT search, a run killed with SIGKILL and resumed (same result as the
 * uninterrupted run, TensorBoard log included), eval, export to peftkit/PEFT/ONNX (the ONNX model
 * checked against peftkit's own eval program), transfer of an architecture with
 * `train --architecture`, and report.html rendered in headless Chromium.
 */
import { expect } from 'chai';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors } from '@peftkit/api';
import { Workbench, loadFinishedRun, readEventFile } from '@peftkit/engine';
import { chromiumPath, inkFraction, renderInChromium } from '@peftkit/testing';
import { InProcessBackend } from '@peftkit/testing';
import ort from 'onnxruntime-node';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = join(ROOT, 'core/cli/bin/peftkit.js');
const PLUGIN = fileURLToPath(new URL('../../fixtures/tiny-plugin', import.meta.url));

function preset(dir: string, extra = ''): string {
  const file = join(dir, 'tiny.yaml');
  writeFileSync(
    file,
    `plugins: [${JSON.stringify(PLUGIN)}]
backbone: { name: tiny, options: { hidden: 8 } }
task: { name: tiny, options: { train: 64, validation: 32, test: 32 } }
space: { name: s1, options: { ranks: [1, 2, 4] } }
strategy:
  name: bipeft
  options:
    pruneBeginEpoch: 0
    scheduler: { name: bipeft-budget, options: { rounds: 6, window: 2, threshold: 0.5, lastRounds: 2 } }
budget: { params: 300 }
seeds: [3]
recipes:
  search: { epochs: 6, batchSize: 8, lr: 0.003 }
  retrain: { epochs: 3, batchSize: 8, lr: 0.003 }
output: { dir: ${JSON.stringify(join(dir, 'runs'))}, name: tiny }
${extra}`,
  );
  return file;
}

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`peftkit ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r;
}

function runsIn(dir: string): string[] {
  const runs = join(dir, 'runs');
  return existsSync(runs) ? readdirSync(runs).map((d) => join(runs, d)) : [];
}

function tensorsOf(file: string) {
  const f = decodeSafetensors(readFileSync(file), file);
  return Object.fromEntries(
    Object.entries(f.tensors).map(([k, t]) => [k, Array.from(t.data as Float32Array)]),
  );
}

describe('peftkit CLI end to end (tiny fixture plugin)', function () {
  this.timeout(240_000);
  let dir: string;
  let reference: {
    dir: string;
    architecture: unknown;
    metrics: unknown;
    trainableParams: number;
    budget: { params: number };
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'peftkit-e2e-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('search: writes result.json, the journal with pruning rounds, report.html and the trained model', () => {
    const file = preset(dir);
    const r = cli(['search', '--preset', file, '--json', '--reporter', 'quiet'], dir);
    const [res] = JSON.parse(r.stdout) as (typeof reference)[];
    reference = res!;
    expect(res!.trainableParams).to.be.at.most(res!.budget.params);
    for (const f of [
      'result.json',
      'config.json',
      'journal.jsonl',
      'report.html',
      'architecture.json',
      'model.safetensors',
    ]) {
      expect(existsSync(join(res!.dir, f)), f).to.equal(true);
    }
    const result = JSON.parse(readFileSync(join(res!.dir, 'result.json'), 'utf8'));
    for (const k of [
      'preset',
      'strategy',
      'task',
      'backbone',
      'seed',
      'budget',
      'trainableParams',
      'architecture',
      'metrics',
      'timings',
      'peakRssMB',
    ]) {
      expect(result, k).to.have.property(k);
    }
    const journal = readFileSync(join(res!.dir, 'journal.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(journal.filter((e) => e.type === 'round').length).to.be.greaterThan(0);
    expect(journal.some((e) => e.type === 'round' && 'similarity' in e && 'expectedAfter' in e)).to.equal(
      true,
    );
    expect(journal.map((e) => e.seq)).to.deep.equal(journal.map((_, i) => i + 1));
  });

  it('a run killed with SIGKILL and resumed ends exactly as the uninterrupted run', async () => {
    // A longer search (many epochs, rounds that outlast them) so that there is time to kill it.
    const longer = [
      '--set',
      'recipes.search.epochs=80',
      '--set',
      'strategy.options.scheduler.options.rounds=500',
    ];
    const base = mkdtempSync(join(tmpdir(), 'peftkit-ref-'));
    const other = mkdtempSync(join(tmpdir(), 'peftkit-kill-'));
    try {
      const [ref] = JSON.parse(
        cli(['search', '--preset', preset(base), ...longer, '--json', '--reporter', 'quiet'], base).stdout,
      );
      const file = preset(other);
      const child: ChildProcess = spawn(
        process.execPath,
        [CLI, 'search', '--preset', file, ...longer, '--reporter', 'quiet', '--checkpoint-every', '0'],
        { cwd: other, stdio: 'ignore' },
      );
      let done = false;
      const exited = new Promise((res) => child.on('exit', () => res((done = true))));
      // Kill it once it has checkpointed a few dozen search steps.
      let killedAt = 0;
      while (!done) {
        await new Promise((r) => setTimeout(r, 5));
        const [run] = runsIn(other);
        const j = run ? join(run, 'journal.jsonl') : '';
        if (j && existsSync(j)) {
          const steps = readFileSync(j, 'utf8')
            .split('\n')
            .filter((l) => l.includes('"type":"step"')).length;
          if (steps >= 30 && existsSync(join(run!, 'checkpoints'))) {
            child.kill('SIGKILL');
            killedAt = steps;
            break;
          }
        }
      }
      await exited;
      expect(killedAt, 'the run was killed mid-search').to.be.greaterThan(0);
      const [run] = runsIn(other);
      expect(existsSync(join(run!, 'result.json'))).to.equal(false);
      const r = cli(['search', '--resume', run!, '--json', '--reporter', 'quiet'], other);
      const [res] = JSON.parse(r.stdout);
      expect(res.architecture).to.deep.equal(ref.architecture);
      expect(res.metrics).to.deep.equal(ref.metrics);
      expect(res.search.rounds).to.equal(ref.search.rounds);
      expect(tensorsOf(join(run!, 'model.safetensors'))).to.deep.equal(
        tensorsOf(join(ref.dir, 'model.safetensors')),
      );
      expect(readFileSync(join(run!, 'journal.jsonl'), 'utf8')).to.contain('"type":"resume"');
      // TensorBoard: the resumed run's log holds each step once, with the uninterrupted run's numbers.
      const scalars = (dir: string) => {
        const files = readdirSync(join(dir, 'tensorboard')).filter((f) => f.includes('tfevents'));
        expect(files.length, `${dir}: one event file`).to.equal(1);
        return readEventFile(join(dir, 'tensorboard', files[0]!))
          .filter((s) => s.tag !== 'final/seconds')
          .map((s) => `${s.tag}@${s.step}=${s.value}`)
          .sort();
      };
      expect(scalars(run!)).to.deep.equal(scalars(ref.dir));
    } finally {
      rmSync(base, { recursive: true, force: true });
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("eval reproduces the run's scores", () => {
    const r = cli(['eval', reference.dir, '--json'], dir);
    const out = JSON.parse(r.stdout);
    expect(out.metrics).to.deep.equal(reference.metrics);
  });

  it("export --format onnx: the standalone model matches peftkit's eval program in onnxruntime-node and -web", async () => {
    const out = join(dir, 'onnx');
    cli(['export', reference.dir, '--format', 'onnx', '--out', out], dir);
    const run = await loadFinishedRun(reference.dir, dir);
    const backend = new InProcessBackend();
    const wb = new Workbench({
      backbone: run.backbone,
      task: run.task,
      backend,
      types: run.types,
      seed: 3,
      log: { info() {}, warn() {}, debug() {} },
    });
    const c = await wb.compile(Workbench.specOf(run.architecture), 'eval');
    const idx = [0, 1, 2, 3, 4, 5, 6, 7];
    const feeds = wb.feeds(c, 'test', idx, run.params, {}, false);
    const want = (await c.program.run(feeds, ['logits'])).logits!.data as Float32Array;
    const session = await ort.InferenceSession.create(join(out, 'model.onnx'));
    // The exported model takes int64 attention masks, as Hugging Face tokenizers make them.
    feeds.attention_mask = {
      dtype: 'int64',
      shape: feeds.attention_mask!.shape,
      data: BigInt64Array.from(feeds.attention_mask!.data as Float32Array, (v) => BigInt(v)),
    };
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) {
      const t = feeds[name]!;
      ortFeeds[name] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.shape]);
    }
    const got = (await session.run(ortFeeds)).logits!.data as Float32Array;
    expect(got.length).to.equal(want.length);
    got.forEach((v, i) => expect(v).to.be.closeTo(want[i]!, 1e-4));
    // The same file in onnxruntime-web (its WebAssembly CPU backend, run here under Node).
    const web = await import('onnxruntime-web');
    web.env.wasm.numThreads = 1;
    const webSession = await web.InferenceSession.create(readFileSync(join(out, 'model.onnx')));
    const webFeeds: Record<string, InstanceType<typeof web.Tensor>> = {};
    for (const name of webSession.inputNames) {
      const t = feeds[name]!;
      webFeeds[name] = new web.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.shape]);
    }
    const inWeb = (await webSession.run(webFeeds)).logits!.data as Float32Array;
    inWeb.forEach((v, i) => expect(v).to.be.closeTo(want[i]!, 1e-4));
    const meta = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    expect(meta.inputs.map((i: { name: string }) => i.name)).to.deep.equal(session.inputNames);
    await backend.dispose();
  });

  it('train --architecture transfers a found architecture; export says why a backbone without a transformers counterpart gets no PEFT adapter', () => {
    const file = preset(dir);
    const lora = join(dir, 'lora-arch.json');
    writeFileSync(
      lora,
      JSON.stringify({
        modules: [
          { type: 'lora', point: 'layer.0.attn.q', rank: 2 },
          { type: 'lora', point: 'layer.1.ffn.in', rank: 4 },
        ],
      }),
    );
    const r = cli(
      [
        'train',
        '--preset',
        file,
        '--architecture',
        lora,
        '--set',
        'task.options.seed=99',
        '--json',
        '--reporter',
        'quiet',
      ],
      dir,
    );
    const [res] = JSON.parse(r.stdout);
    expect(res.strategy).to.equal('fixed');
    expect(
      res.architecture.modules.map((m: { id: string; rank: number }) => `${m.id}:${m.rank}`),
    ).to.deep.equal(['lora@layer.0.attn.q:2', 'lora@layer.1.ffn.in:4']);
    const out = join(dir, 'peft-export');
    const e = cli(['export', res.dir, '--out', out], dir);
    expect(e.stdout).to.contain(
      'no PEFT adapter (peft/): the tiny backbone has no Hugging Face transformers counterpart',
    );
    expect(existsSync(join(out, 'peft'))).to.equal(false);
    // peftkit's own format keeps the LoRA tensors as trained ([in, r]).
    const ours = decodeSafetensors(readFileSync(join(out, 'adapter.safetensors'))).tensors;
    expect(ours['lora@layer.1.ffn.in/A']!.shape).to.deep.equal([8, 4]);
  });

  it('report.html renders in headless Chromium with its charts and the architecture map', async () => {
    expect(chromiumPath(), 'Debian chromium must be installed (.ci/run installs it)').to.be.a('string');
    const page = join(reference.dir, 'report.html');
    const { dom, png } = await renderInChromium(page);
    expect(dom).to.contain('<svg');
    expect(dom).to.contain('Expected size of the architecture distribution');
    expect(dom).to.contain('class="map"');
    expect((dom.match(/<td style="background/g) ?? []).length).to.be.greaterThan(0);
    expect(await inkFraction(png)).to.be.greaterThan(0.02);
  });
});
