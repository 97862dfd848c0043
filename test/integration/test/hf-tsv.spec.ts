/**
 * A user's own checkpoint and data: a Hugging Face-format BERT directory (written by
 * tools/make-hf-checkpoint.mjs in exactly the transformers layout) and GLUE-style TSV sentence pairs
 * with column mapping in the preset, through `peftkit search` (BIPEFT) and `peftkit export` (PEFT
 * adapter with the transformers module names), and a malformed TSV row reported with its line.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = join(ROOT, 'core/cli/bin/peftkit.js');

function run(args: string[], cwd: string) {
  return spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 180_000 });
}

const WORDS = [
  'the',
  'river',
  'rose',
  'bridge',
  'farmers',
  'sheep',
  'hill',
  'bread',
  'water',
  'train',
  'time',
  'good',
];

function pairs(n: number, seed: number): string {
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const lines = ['id\tquestion\tpassage\tlabel'];
  for (let i = 0; i < n; i++) {
    const a = Array.from({ length: 4 }, () => WORDS[Math.floor(rand() * WORDS.length)]!);
    const same = rand() < 0.5;
    const b = same
      ? [...a].reverse()
      : Array.from({ length: 4 }, () => WORDS[Math.floor(rand() * WORDS.length)]!);
    lines.push(`${i}\t${a.join(' ')}\t${b.join(' ')}\t${same ? 'yes' : 'no'}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('a user checkpoint (Hugging Face format) and TSV data', function () {
  this.timeout(240_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'peftkit-hf-'));
    const gen = run(
      [
        join(ROOT, 'tools/make-hf-checkpoint.mjs'),
        '--type',
        'bert',
        '--out',
        join(dir, 'tiny-bert'),
        '--layers',
        '2',
        '--hidden',
        '16',
        '--heads',
        '2',
      ],
      dir,
    );
    expect(gen.status, gen.stderr).to.equal(0);
    writeFileSync(join(dir, 'train.tsv'), pairs(64, 1));
    writeFileSync(join(dir, 'dev.tsv'), pairs(24, 2));
    writeFileSync(join(dir, 'test.tsv'), pairs(24, 3));
    writeFileSync(
      join(dir, 'pairs.yaml'),
      `backbone: { name: hf, options: { path: ./tiny-bert, maxLength: 24 } }
task:
  name: tsv
  options:
    train: ./train.tsv
    validation: ./dev.tsv
    test: ./test.tsv
    textColumn: question
    pairColumn: passage
    labelColumn: label
    labels: [no, yes]
space: { name: s1, options: { ranks: [1, 2], entries: [{ type: lora, targets: ["layer.*.attn.{q,k,v,o}", "layer.*.ffn.{in,out}"] }] } }
strategy:
  name: bipeft
  options: { pruneBeginEpoch: 0, scheduler: { name: bipeft-budget, options: { rounds: 4, window: 2, threshold: 0.5, lastRounds: 1 } } }
budget: { params: 400 }
seeds: [5]
recipes:
  search: { epochs: 4, batchSize: 8, lr: 0.003 }
  retrain: { epochs: 2, batchSize: 8, lr: 0.003 }
output: { dir: ./runs, name: pairs }
`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('searches LoRA placements on the checkpoint with jointly encoded pairs and exports a PEFT adapter with transformers module names', () => {
    const r = run([CLI, 'search', '--preset', join(dir, 'pairs.yaml'), '--json', '--reporter', 'quiet'], dir);
    expect(r.status, r.stderr).to.equal(0);
    const [res] = JSON.parse(r.stdout);
    expect(res.backbone.modelType).to.equal('bert');
    expect(res.task.name).to.equal('tsv');
    expect(res.trainableParams).to.be.at.most(400);
    expect(res.architecture.modules.length).to.be.greaterThan(0);
    const e = run([CLI, 'export', res.dir, '--out', join(dir, 'export')], dir);
    expect(e.status, e.stderr).to.equal(0);
    const cfg = JSON.parse(readFileSync(join(dir, 'export', 'peft', 'adapter_config.json'), 'utf8'));
    for (const t of cfg.target_modules)
      expect(t).to.match(
        /^bert\.encoder\.layer\.\d\.(attention\.(self\.(query|key|value)|output\.dense)|intermediate\.dense|output\.dense)$/,
      );
  });

  it('resumes, evaluates and exports from another directory, and a resume runs the seeds that never started', () => {
    // The preset's data and model paths are relative to the preset; run it from one directory and
    // resume from another: run.json records where each component's paths resolve.
    const elsewhere = mkdtempSync(join(tmpdir(), 'peftkit-cwd-'));
    const later = mkdtempSync(join(tmpdir(), 'peftkit-cwd2-'));
    try {
      const out = join(elsewhere, 'runs');
      const r = run(
        [
          CLI,
          'search',
          '--preset',
          join(dir, 'pairs.yaml'),
          '--set',
          'seeds=[5, 6]',
          '--set',
          `output.dir=${JSON.stringify(out)}`,
          '--json',
          '--reporter',
          'quiet',
        ],
        elsewhere,
      );
      expect(r.status, r.stderr).to.equal(0);
      const [first, second] = JSON.parse(r.stdout);
      // Pretend the invocation died after seed 5's re-training: no result.json, seed 6 never started.
      rmSync(join(first.dir, 'result.json'));
      rmSync(second.dir, { recursive: true });
      const wrong = run([CLI, 'train', '--resume', first.dir], later);
      expect(wrong.status).to.equal(1);
      expect(wrong.stderr).to.match(/started by `peftkit search`; resume it with `peftkit search --resume/);
      const mixed = run([CLI, 'search', '--resume', first.dir, '--set', 'seeds=[1]'], later);
      expect(mixed.status).to.equal(2); // a usage error
      expect(mixed.stderr).to.match(
        /do not pass --preset, --architecture, --init-adapter or --set other than memory settings .*got --set seeds=\[1\]/,
      );
      const resumed = run([CLI, 'search', '--resume', first.dir, '--json', '--reporter', 'quiet'], later);
      expect(resumed.status, resumed.stderr).to.equal(0);
      const again = JSON.parse(resumed.stdout);
      expect(again.map((x: { seed: number }) => x.seed)).to.deep.equal([5, 6]);
      expect(again[0].metrics).to.deep.equal(first.metrics);
      expect(again[1].metrics).to.deep.equal(second.metrics);
      expect(again[1].dir.startsWith(out)).to.equal(true);
      const ev = run([CLI, 'eval', again[1].dir, '--json'], later);
      expect(ev.status, ev.stderr).to.equal(0);
      expect(JSON.parse(ev.stdout).metrics.test).to.deep.equal(second.metrics.test);
      const ex = run([CLI, 'export', again[1].dir, '--out', join(later, 'export')], later);
      expect(ex.status, ex.stderr).to.equal(0);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
      rmSync(later, { recursive: true, force: true });
    }
  });

  it('reports a malformed TSV row with its file, line and column', () => {
    writeFileSync(
      join(dir, 'bad.tsv'),
      'id\tquestion\tpassage\tlabel\n0\ta b\tc d\tyes\n1\ta b\tc d\tmaybe\n',
    );
    const r = run(
      [
        CLI,
        'search',
        '--preset',
        join(dir, 'pairs.yaml'),
        '--set',
        'task.options.train=./bad.tsv',
        '--reporter',
        'quiet',
      ],
      dir,
    );
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/bad\.tsv:3/);
    expect(r.stderr).to.match(/label/);
    expect(r.stderr).to.match(/maybe/);
  });

  it('trains a regression head on scored pairs (STS-B-like) and reports Pearson and Spearman', () => {
    const scored = (n: number, seed: number) =>
      pairs(n, seed)
        .split('\n')
        .map((l, i) =>
          i === 0 || !l
            ? l
            : l.replace(
                /\t(yes|no)$/,
                (_m, y) =>
                  `\t${y === 'yes' ? (3.5 + (i % 3) * 0.5).toFixed(1) : (0.5 + (i % 4) * 0.4).toFixed(1)}`,
              ),
        )
        .join('\n');
    writeFileSync(join(dir, 'sts-train.tsv'), scored(64, 4));
    writeFileSync(join(dir, 'sts-dev.tsv'), scored(24, 5));
    writeFileSync(join(dir, 'sts-test.tsv'), scored(24, 6));
    const sets = [
      'task.options={train: ./sts-train.tsv, validation: ./sts-dev.tsv, test: ./sts-test.tsv, textColumn: question, pairColumn: passage, labelColumn: label, type: regression}',
    ];
    const arch = join(dir, 'arch.json');
    writeFileSync(
      arch,
      JSON.stringify({
        modules: [
          { type: 'lora', point: 'layer.1.attn.q', rank: 2 },
          { type: 'bitfit', point: 'layer.1.ffn.out', rank: null },
        ],
      }),
    );
    const r = run(
      [
        CLI,
        'train',
        '--preset',
        join(dir, 'pairs.yaml'),
        ...sets.flatMap((x) => ['--set', x]),
        '--architecture',
        arch,
        '--json',
        '--reporter',
        'quiet',
      ],
      dir,
    );
    expect(r.status, r.stderr).to.equal(0);
    const [res] = JSON.parse(r.stdout);
    expect(res.task.metrics).to.deep.equal(['pearson', 'spearman']);
    expect(res.metrics.test.pearson).to.be.a('number');
    expect(res.metrics.test.spearman).to.be.a('number');
    expect(res.headParams).to.equal(16 + 1);
  });

  it('trains separately encoded sentence pairs ([u, v, |u-v|, u*v]) on a sentence encoder', () => {
    const tiny = fileURLToPath(new URL('../../fixtures/tiny-plugin', import.meta.url));
    writeFileSync(
      join(dir, 'tiny-pairs.yaml'),
      `plugins: [${JSON.stringify(tiny)}]
backbone: { name: tiny, options: { hidden: 8 } }
task: { name: tiny, options: { pair: true, train: 48, validation: 16, test: 16 } }
architecture: { targets: [{ type: lora, targets: "layer.*.attn.[qv]", rank: 2 }] }
seeds: [1]
recipes: { retrain: { epochs: 2, batchSize: 8, lr: 0.003 } }
output: { dir: ./runs, name: tiny-pairs }
`,
    );
    const r = run(
      [CLI, 'train', '--preset', join(dir, 'tiny-pairs.yaml'), '--json', '--reporter', 'quiet'],
      dir,
    );
    expect(r.status, r.stderr).to.equal(0);
    const [res] = JSON.parse(r.stdout);
    // Head input [u, v, |u-v|, u*v] = 4 x 8 features, 2 classes.
    expect(res.headParams).to.equal(4 * 8 * 2 + 2);
    expect(res.metrics.test.accuracy).to.be.a('number');
  });
});
