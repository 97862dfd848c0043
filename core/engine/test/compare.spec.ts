/**
 * `runCompare` when cells fail: the checks before the first cell (a missing data file in
 * compare.tasks[1] fails in seconds, naming the field and the file), a cell that fails
 * deterministically (recorded in cells.json, the other cells run, the reports show it), resuming
 * (failed cells kept unless retryFailed; no orphan run directories), and the report tables.
 *
 * The components come from a plugin written by this test into a temporary directory: the tiny
 * backbone and task of @peftkit/testing, its in-process ONNX Runtime backend, and a strategy that
 * trains the head only and can be told to reject small budgets (as AdaLoRA does below one triplet).
 */
import type { Reporter, RunEvent } from '@peftkit/api';
import { expect } from 'chai';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  baseDirOf,
  compareMarkdown,
  loadConfig,
  renderCompareReport,
  runCompare,
  summariseCells,
  type CompareCell,
  type CompareEntry,
  type CompareOptions,
  type FailedCompareCell,
} from '../src/index.js';
import { addExampleStatistics } from '../src/report/compare-stats.js';
import { caught } from './helpers.js';

const PLUGIN_JS = (api: string, testing: string) => `
import { ContainerModule, contribute, ConfigError, DataError } from ${JSON.stringify(api)};
import { InProcessBackend, tinyBackbone, tinyTask } from ${JSON.stringify(testing)};
import { appendFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';

const closed = (properties) => ({ type: 'object', additionalProperties: false, properties });
const sizes = { train: 32, validation: 16, test: 16 };

/** Trains the head only; with failBelow, rejects smaller budgets when it starts (while the file 'while' exists). */
class HeadOnly {
  constructor(o) { this.o = o; }
  start(ctx) {
    if (this.o.log) appendFileSync(this.o.log, this.o.tag + ' ' + ctx.budget.params + '\\n');
    if (this.o.failBelow !== undefined && ctx.budget.params < this.o.failBelow && (!this.o.while || existsSync(this.o.while)))
      throw new ConfigError('the budget of ' + ctx.budget.params + ' is below ' + this.o.failBelow, undefined, 'budget');
  }
  check(ctx) {
    if (this.o.checkBelow !== undefined && ctx.budget.params < this.o.checkBelow)
      throw new ConfigError('the budget of ' + ctx.budget.params + ' is below ' + this.o.checkBelow, undefined, 'budget');
  }
  ask() { return null; }
  tell() {}
  state() { return null; }
  outcome() { return { architecture: { modules: [] } }; }
}

export default new ContainerModule(({ bind }) => {
  contribute(bind, { kind: 'backbone', name: 'tiny', description: 'tiny backbone', optionsSchema: closed({}),
    create: () => tinyBackbone({ hidden: 8 }) });
  contribute(bind, { kind: 'task', name: 'tiny-file', description: 'tiny task that needs a file',
    optionsSchema: closed({ path: { type: 'string' } }),
    create: (o, ctx) => {
      const file = resolve(ctx.baseDir, o.path);
      if (!existsSync(file)) throw new DataError('no such file', file);
      return tinyTask(sizes);
    } });
  contribute(bind, { kind: 'training-backend', name: 'in-process', description: 'in-process ORT',
    optionsSchema: closed({}), create: () => new InProcessBackend(1) });
  contribute(bind, { kind: 'search-strategy', name: 'head-only', description: 'head only',
    optionsSchema: closed({ tag: { type: 'string' }, log: { type: 'string' }, failBelow: { type: 'integer' },
      while: { type: 'string' }, computeSteps: { type: 'integer' }, checkBelow: { type: 'integer' } }),
    create: (o) => new HeadOnly(o) });
});
`;

let tmp: string;
let pluginDir: string;
let started: string;
let marker: string;

function writePlugin(): void {
  pluginDir = join(tmp, 'plugin');
  mkdirSync(pluginDir);
  writeFileSync(
    join(pluginDir, 'package.json'),
    JSON.stringify({
      name: 'fixture-compare-failures',
      version: '0.0.0',
      type: 'module',
      description: 'Test fixture: components for comparisons with failing cells',
      peftkit: {
        apiVersion: '^0.1.0',
        module: './plugin.js',
        contributes: {
          backbone: ['tiny'],
          task: ['tiny-file'],
          'training-backend': ['in-process'],
          'search-strategy': ['head-only'],
        },
      },
    }),
  );
  writeFileSync(
    join(pluginDir, 'plugin.js'),
    PLUGIN_JS(import.meta.resolve('@peftkit/api'), import.meta.resolve('@peftkit/testing')),
  );
}

/** A comparison preset: head, picky (fails below 500 params while `marker` exists), follow (matches picky). */
function preset(tasks: string): string {
  const file = join(tmp, 'presets', 'grid.yaml');
  mkdirSync(join(tmp, 'presets', 'data'), { recursive: true });
  writeFileSync(join(tmp, 'presets', 'data', 'ok.txt'), 'present\n');
  const log = JSON.stringify(started);
  writeFileSync(
    file,
    `plugins: [${JSON.stringify(pluginDir)}]
backbone: { name: tiny }
task: { name: tiny-file, options: { path: data/ok.txt } }
backend: { name: in-process }
seeds: [1]
recipes:
  search: { epochs: 1, batchSize: 8 }
  retrain: { epochs: 1, batchSize: 8 }
compare:
  strategies:
    - label: head
      strategy: { name: head-only, options: { tag: head, log: ${log} } }
    - label: picky
      strategy: { name: head-only, options: { tag: picky, log: ${log}, failBelow: 500, while: ${JSON.stringify(marker)} } }
    - label: follow
      strategy: { name: head-only, options: { tag: follow, log: ${log} } }
      matchComputeOf: picky
${tasks}
  budgets: [{ params: 100 }, { params: 1000 }]
output: { dir: ${JSON.stringify(join(tmp, 'out'))}, name: grid }
`,
  );
  return file;
}

const SILENT = { info() {}, warn() {}, debug() {} };

/** Load like the CLI does (a preset, or a comparison directory's compare-config.json) and run. */
async function compare(
  presetFile: string,
  extra: Partial<CompareOptions> = {},
): Promise<{ result: Awaited<ReturnType<typeof runCompare>>; statuses: string[] }> {
  const cwd = tmp;
  const file = extra.resume ? join(extra.resume, 'compare-config.json') : presetFile;
  const { config, registry, origins } = await loadConfig({ preset: file, cwd, builtins: [] });
  const events: RunEvent[] = [];
  const reporter: Reporter = { onEvent: (e) => void events.push(e) };
  const result = await runCompare({
    config,
    registry,
    preset: extra.resume ? null : 'grid',
    reporters: [reporter],
    log: SILENT,
    checkpointSeconds: 0,
    baseDirFor: (path) => baseDirOf(origins, path, cwd),
    ...extra,
  });
  const statuses = events
    .filter((e) => e.type === 'compare-cell')
    .map((e) => `${e.label}@${e.budget}: ${e.status}`);
  return { result, statuses };
}

const startsLogged = () => (existsSync(started) ? readFileSync(started, 'utf8').trim().split('\n') : []);
const runDirs = (dir: string) => readdirSync(join(dir, 'runs')).sort();

describe('compare: failing cells', function () {
  this.timeout(120_000);
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'peftkit-compare-fail-'));
    started = join(tmp, 'started.log');
    marker = join(tmp, 'picky-fails');
    writePlugin();
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('checks every task before the first cell: a missing file in compare.tasks[1] fails at once, naming both', async () => {
    const file = preset(
      '  tasks: [{ name: tiny-file, options: { path: data/ok.txt } }, { name: tiny-file, options: { path: data/missing.tsv } }]',
    );
    const t0 = Date.now();
    const e = await caught(() => compare(file));
    expect(e.message).to.contain('compare.tasks[1]: task "tiny-file": ');
    expect(e.message).to.contain(join(tmp, 'presets', 'data', 'missing.tsv'));
    expect(e.message).not.to.contain('compare.tasks[0]');
    expect(Date.now() - t0).to.be.below(20_000);
    // Nothing ran and no comparison directory was made.
    expect(startsLogged()).to.deep.equal([]);
    expect(existsSync(join(tmp, 'out'))).to.equal(false);
  });

  it('runs SearchStrategy.check for every task and budget before the first cell: a budget the strategy refuses fails at once', async () => {
    const file = preset('  tasks: [{ name: tiny-file, options: { path: data/ok.txt } }]');
    const text = readFileSync(file, 'utf8').replace('failBelow: 500,', 'checkBelow: 500, failBelow: 500,');
    writeFileSync(join(tmp, 'presets', 'checked.yaml'), text);
    const e = await caught(() => compare(join(tmp, 'presets', 'checked.yaml')));
    expect(e.message).to.contain(
      'compare.budgets[0]: strategy "picky": task "tiny-file": budget: the budget of 100 is below 500',
    );
    expect(e.message).not.to.contain('compare.budgets[1]');
    expect(startsLogged()).to.deep.equal([]);
    expect(existsSync(join(tmp, 'out'))).to.equal(false);
  });

  let dir: string;
  let presetFile: string;

  it('records a failing cell, runs the others and writes the reports with the failure', async () => {
    writeFileSync(marker, '');
    presetFile = preset('  tasks: [{ name: tiny-file, options: { path: data/ok.txt } }]');
    const { result, statuses } = await compare(presetFile);
    dir = result.dir;
    expect(result.cells).to.have.length(6);
    expect(result.failed.map((f) => `${f.label}@${f.budget}`)).to.deep.equal([
      'picky@100 params',
      'follow@100 params',
    ]);
    const picky = result.failed[0]!;
    expect(picky.error).to.match(/budget of 100 is below 500/);
    expect(picky.dir).to.be.a('string');
    expect(existsSync(picky.dir!)).to.equal(true);
    expect(result.failed[1]!.error).to.match(
      /the picky run whose search compute this cell matches did not finish/,
    );
    expect(result.failed[1]!.dir).to.equal(null);
    expect(statuses.filter((s) => s.includes('failed: '))).to.have.length(2);
    // The other four finished after the failure.
    expect(
      result.cells.filter((c) => c.status === 'done').map((c) => `${c.label}@${c.budget}`),
    ).to.deep.equal(['head@100 params', 'head@1000 params', 'picky@1000 params', 'follow@1000 params']);

    const cells = JSON.parse(readFileSync(join(dir, 'cells.json'), 'utf8')) as {
      key: string;
      status?: string;
      error?: string;
      dir?: string;
    }[];
    const recorded = cells.find((c) => c.key === 'picky|tiny-file|100 params|1')!;
    expect(recorded).to.include({ status: 'failed', dir: picky.dir });
    expect(recorded.error).to.match(/budget of 100 is below 500/);

    const json = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8'));
    expect(json.preset).to.equal('grid');
    expect(json.cells).to.have.length(6);
    expect(json.failed).to.have.length(2);
    // Summary rows only for groups with a finished run.
    expect(
      json.summary.map((r: { label: string; budget: string }) => `${r.label}@${r.budget}`),
    ).to.have.members(['head@100 params', 'head@1000 params', 'picky@1000 params', 'follow@1000 params']);
    const md = readFileSync(join(dir, 'compare.md'), 'utf8');
    expect(md).to.contain('4 runs, 2 failed');
    expect(md).to.match(
      /\| 100 params \(100\) \| picky \| failed: budget: the budget of 100 is below 500 \| — \|/,
    );
    expect(md).to.contain('## Failed runs');
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).to.contain('<h2>Failed runs</h2>');
    expect(html).to.contain('failed: budget: the budget of 100 is below 500');
    expect(runDirs(dir)).to.have.length(5);
    expect(startsLogged()).to.have.length(5); // follow@100 never started
  });

  it('resume keeps finished and failed cells by default: nothing runs again', async () => {
    const before = runDirs(dir);
    const startsBefore = startsLogged().length;
    const { result, statuses } = await compare(presetFile, { resume: dir });
    expect(startsLogged()).to.have.length(startsBefore);
    expect(runDirs(dir)).to.deep.equal(before);
    expect(statuses.filter((s) => s.endsWith('done earlier'))).to.have.length(4);
    expect(statuses.filter((s) => s.includes('failed earlier: '))).to.have.length(2);
    expect(result.failed).to.have.length(2);
    // The preset name and the data directory come from the comparison, not from the resuming call.
    expect(JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')).preset).to.equal('grid');
  });

  it('retryFailed runs the failed cells again, in one run directory per cell (no orphans)', async () => {
    const before = runDirs(dir);
    const startsBefore = startsLogged().length;
    const oldDir = (
      JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')).failed as FailedCompareCell[]
    )[0]!.dir!;
    const again = await compare(presetFile, { resume: dir, retryFailed: true });
    expect(startsLogged().slice(startsBefore)).to.deep.equal(['picky 100']);
    expect(again.result.failed).to.have.length(2);
    expect(runDirs(dir)).to.have.length(before.length);
    const newDir = again.result.failed[0]!.dir!;
    expect(existsSync(newDir)).to.equal(true);
    if (newDir !== oldDir) expect(existsSync(oldDir)).to.equal(false);

    // The cause fixed: both cells run and finish; the reports have no failure left.
    rmSync(marker);
    const fixed = await compare(presetFile, { resume: dir, retryFailed: true });
    expect(fixed.result.failed).to.deep.equal([]);
    expect(fixed.result.cells.every((c) => c.status === 'done')).to.equal(true);
    expect(startsLogged().slice(startsBefore + 1)).to.deep.equal(['picky 100', 'follow 100']);
    expect(runDirs(dir)).to.have.length(6);
    expect(readFileSync(join(dir, 'compare.md'), 'utf8')).not.to.contain('failed');
    const cells = JSON.parse(readFileSync(join(dir, 'cells.json'), 'utf8')) as {
      status?: string;
      error?: string;
    }[];
    expect(cells.every((c) => c.status === 'done' && c.error === undefined)).to.equal(true);
  });
});

describe('compare reports with failed cells', () => {
  const done = (label: string, seed: number, acc: number): CompareCell => ({
    status: 'done',
    label,
    strategy: label,
    task: 't',
    budget: '100 params',
    budgetParams: 100,
    seed,
    dir: `/runs/${label}-${seed}`,
    metrics: { validation: { accuracy: acc }, test: { accuracy: acc } },
    primaryMetric: 'accuracy',
    trainableParams: 90,
    searchSeconds: 1,
    retrainSeconds: 1,
    totalSeconds: 2,
    searchCompute: { gradientJobs: 0, trainSteps: 0, evaluateJobs: 0, trainJobs: 0 },
  });
  const failed = (label: string, seed: number, error: string): FailedCompareCell => ({
    status: 'failed',
    label,
    strategy: label,
    task: 't',
    budget: '100 params',
    budgetParams: null,
    seed,
    dir: null,
    error,
  });

  it('leaves failed runs out of the means and shows them in the tables', () => {
    const cells: CompareEntry[] = [
      done('a', 1, 0.5),
      failed('a', 2, 'out of memory | at step 3\nstack line'),
      done('a', 3, 0.7),
      failed('b', 1, 'budget too small'),
      failed('b', 2, 'budget too small'),
    ];
    const rows = summariseCells(cells);
    expect(rows).to.have.length(1);
    expect(rows[0]!.test.mean).to.be.closeTo(0.6, 1e-12);
    expect(rows[0]!.test.n).to.equal(2);
    expect(rows[0]!.failed).to.equal(1);
    const md = compareMarkdown(cells, rows, 'p');
    expect(md).to.contain('2 runs, 3 failed');
    expect(md).to.contain('0.6000 ± 0.1414 (1 of 3 failed: out of memory \\| at step 3)');
    expect(md).to.contain('| 100 params (100) | b | failed: budget too small | — | — | — | — | — | — | — |');
    const html = renderCompareReport(cells, rows, 'p');
    expect(html).to.contain('failed: budget too small');
    expect(html).to.contain('<strong>3 failed</strong>');
  });

  it('writes tables even when no run finished', () => {
    const cells: CompareEntry[] = [failed('b', 1, 'no data')];
    const rows = summariseCells(cells);
    expect(rows).to.deep.equal([]);
    expect(compareMarkdown(cells, rows, null)).to.contain('| 100 params | b | failed: no data |');
    expect(renderCompareReport(cells, rows, null)).to.contain('No run of this task finished.');
  });
});

describe('compare reports with example-level statistics', () => {
  /** A cell whose run got the first `correct` of 200 test examples right. */
  const cell = (label: string, strategy: string, seed: number, validation: number, correct: number) => ({
    entry: {
      status: 'done' as const,
      label,
      strategy,
      task: 't',
      budget: '100 params',
      budgetParams: 100,
      seed,
      dir: `/runs/${label}-${seed}`,
      metrics: { validation: { accuracy: validation }, test: { accuracy: correct / 200 } },
      primaryMetric: 'accuracy',
      trainableParams: 90,
      searchSeconds: 1,
      retrainSeconds: 1,
      totalSeconds: 2,
      searchCompute: { gradientJobs: 0, trainSteps: 0, evaluateJobs: 0, trainJobs: 0 },
    },
    predictions: {
      labels: new Array<number>(200).fill(1),
      predictions: Array.from({ length: 200 }, (_, i) => (i < correct ? 1 : 0)),
    },
  });

  it('a 95 % interval per cell, the paired comparison with the manual type chosen by validation, and the by-test maximum', () => {
    const all = [1, 2, 3].flatMap((s) => [
      // lora wins on validation, adapter on test: the reference is lora (a user's choice).
      cell('lora', 'manual', s, 0.9, 150),
      cell('adapter', 'manual', s, 0.8, 160),
      cell('bipeft', 'bipeft', s, 0.85, 150 + 2 * s),
    ]);
    const byDir = new Map(all.map((c) => [c.entry.dir, c.predictions]));
    const cells = all.map((c) => c.entry);
    const rows = addExampleStatistics(summariseCells(cells), cells, (c) => byDir.get(c.dir) ?? null);
    const bipeft = rows.find((r) => r.label === 'bipeft')!;
    expect(bipeft.vsReference!.reference).to.equal('lora');
    expect(bipeft.vsReference!.differences.map((d) => Math.round(d * 200))).to.deep.equal([2, 4, 6]);
    expect(bipeft.vsReference!.signP).to.equal(0.25);
    expect(bipeft.testInterval!.low).to.be.lessThan(bipeft.test.mean);
    expect(bipeft.testInterval!.high).to.be.greaterThan(bipeft.test.mean);
    expect(rows.find((r) => r.label === 'lora')!.vsReference).to.equal(undefined);
    const md = compareMarkdown(cells, rows, null);
    expect(md).to.contain('vs lora; sign p 0.250, perm p 0.250; per seed +0.0100, +0.0200, +0.0300');
    expect(md).to.contain(
      "best manual type by validation: lora (test 0.7500 ± 0.0000); by test (not a user's choice): adapter (test 0.8000 ± 0.0000)",
    );
    expect(renderCompareReport(cells, rows, null)).to.contain('best manual type by validation: lora');
  });
});
