/**
 * `peftkit compare` end to end on the tiny fixture plugin: a grid of strategies (BIPEFT, manual
 * LoRA, random search given BIPEFT's search compute) x budgets x seeds, its outputs, resuming a
 * comparison, and its report rendered in headless Chromium; a comparison with a cell that fails
 * (AdaLoRA below one singular triplet), resumed with and without --retry-failed.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inkFraction, renderInChromium } from '@peftkit/testing';
import { tinyGridPreset } from './tiny-grid.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = join(ROOT, 'core/cli/bin/peftkit.js');
const PLUGIN = fileURLToPath(new URL('../../fixtures/tiny-plugin', import.meta.url));

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`peftkit ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r;
}

describe('peftkit compare (tiny fixture plugin)', function () {
  this.timeout(300_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'peftkit-compare-'));
    writeFileSync(
      join(dir, 'grid.yaml'),
      tinyGridPreset({
        seeds: [1, 2],
        strategies: ['bipeft', 'random', 'lora'],
        budgets: [200, 600],
        outDir: join(dir, 'out'),
      }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let result: {
    dir: string;
    cells: {
      label: string;
      budget: string;
      seed: number;
      trainableParams: number;
      budgetParams: number;
      searchCompute: { gradientJobs: number; trainSteps: number };
      dir: string;
    }[];
  };

  it('runs every strategy x budget x seed and writes compare.json, compare.md and report.html', () => {
    const r = cli(['compare', '--preset', join(dir, 'grid.yaml'), '--json', '--reporter', 'quiet'], dir);
    result = JSON.parse(r.stdout);
    expect(result.cells).to.have.length(3 * 2 * 2);
    for (const c of result.cells) expect(c.trainableParams).to.be.at.most(c.budgetParams);
    // Random search got BIPEFT's search compute on the same cell.
    for (const c of result.cells.filter((x) => x.label === 'random')) {
      const b = result.cells.find((x) => x.label === 'bipeft' && x.budget === c.budget && x.seed === c.seed)!;
      const given = b.searchCompute.gradientJobs + b.searchCompute.trainSteps;
      expect(c.searchCompute.trainSteps).to.be.at.most(given);
      expect(c.searchCompute.trainSteps).to.be.greaterThan(0);
    }
    const summary = JSON.parse(readFileSync(join(result.dir, 'compare.json'), 'utf8')).summary;
    expect(summary).to.have.length(3 * 2);
    expect(summary[0].test).to.have.keys(['mean', 'std', 'n']);
    const md = readFileSync(join(result.dir, 'compare.md'), 'utf8');
    expect(md).to.match(/\| budget \| strategy \| test \|/);
    expect(md).to.contain('bipeft');
  });

  it('resumes a comparison: finished cells are kept, an unfinished one is completed from its checkpoint', () => {
    const last = result.cells[result.cells.length - 1]!;
    const before = JSON.parse(readFileSync(join(last.dir, 'result.json'), 'utf8'));
    unlinkSync(join(last.dir, 'result.json'));
    unlinkSync(join(result.dir, 'compare.json'));
    const r = cli(['compare', '--resume', result.dir, '--json', '--reporter', 'quiet'], dir);
    const again = JSON.parse(r.stdout);
    expect(again.cells).to.have.length(result.cells.length);
    expect(existsSync(join(result.dir, 'compare.json'))).to.equal(true);
    const after = JSON.parse(readFileSync(join(last.dir, 'result.json'), 'utf8'));
    expect(after.metrics).to.deep.equal(before.metrics);
    expect(after.architecture).to.deep.equal(before.architecture);
  });

  it('report.html renders in headless Chromium with the Pareto view and search-cost charts', async () => {
    const { dom, png } = await renderInChromium(join(result.dir, 'report.html'));
    expect(dom).to.contain('test accuracy vs trainable PEFT parameters');
    expect(dom).to.contain('mean search wall time per run');
    expect((dom.match(/<circle /g) ?? []).length).to.be.at.least(12);
    expect(await inkFraction(png)).to.be.greaterThan(0.02);
  });
});

describe('peftkit compare with a failing cell (AdaLoRA below one singular triplet)', function () {
  this.timeout(300_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'peftkit-compare-fail-'));
    writeFileSync(
      join(dir, 'grid.yaml'),
      `plugins: [${JSON.stringify(PLUGIN)}]
backbone: { name: tiny, options: { hidden: 8 } }
task: { name: tiny, options: { train: 48, validation: 24, test: 24 } }
seeds: [1]
recipes:
  search: { epochs: 3, batchSize: 8, lr: 0.003 }
  retrain: { epochs: 2, batchSize: 8, lr: 0.003 }
compare:
  strategies:
    - label: lora
      strategy: { name: manual, options: { type: lora } }
    - label: adalora
      strategy: { name: adalora, options: { initRank: 4, targetRank: 2 } }
  budgets: [{ params: 16 }, { params: 600 }]
output: { dir: ${JSON.stringify(join(dir, 'out'))}, name: fails }
`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const peftkit = (args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 180_000 });
  let out: string;
  const runDirs = () => readdirSync(join(out, 'runs')).sort();
  const adaloraCell = () =>
    (
      JSON.parse(readFileSync(join(out, 'cells.json'), 'utf8')) as {
        key: string;
        status?: string;
        failedAt?: string;
      }[]
    ).find((c) => c.key === 'adalora|tiny|16 params|1')!;

  it('finishes the other cells, writes the reports with the failure and exits 1 listing it', () => {
    const r = peftkit(['compare', '--preset', join(dir, 'grid.yaml'), '--json', '--reporter', 'quiet']);
    expect(r.status, r.stderr).to.equal(1);
    const result = JSON.parse(r.stdout) as {
      dir: string;
      cells: { label: string; budget: string; status: string }[];
      failed: { label: string; budget: string; error: string; dir: string }[];
    };
    out = result.dir;
    expect(result.cells.map((c) => `${c.label}@${c.budget}: ${c.status}`)).to.deep.equal([
      'lora@16 params: done',
      'adalora@16 params: failed',
      'lora@600 params: done',
      'adalora@600 params: done',
    ]);
    expect(result.failed).to.have.length(1);
    expect(result.failed[0]!.error).to.match(
      /budget of 16 trainable parameters is below one singular triplet/,
    );
    expect(r.stderr).to.contain('error: 1 of 4 cells of the comparison failed');
    expect(r.stderr).to.match(
      /adalora, tiny, 16 params, seed 1: budget: the budget of 16 trainable parameters is below/,
    );
    expect(r.stderr).to.contain(`--resume`);
    expect(r.stderr).to.contain('--retry-failed');
    const md = readFileSync(join(out, 'compare.md'), 'utf8');
    expect(md).to.match(
      /\| 16 params \(16\) \| adalora \| failed: budget: the budget of 16 trainable parameters/,
    );
    expect(md).to.match(/\| 600 params \(600\) \| adalora \| \d\.\d{4} ± /);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).to.contain('Failed runs');
    expect(adaloraCell().status).to.equal('failed');
    expect(runDirs()).to.have.length(4);
  });

  it('--resume skips finished and failed cells; --retry-failed runs the failed one again without an orphan', () => {
    const dirs = runDirs();
    const first = adaloraCell().failedAt;
    const resumed = peftkit(['compare', '--resume', out, '--reporter', 'quiet']);
    expect(resumed.status).to.equal(1);
    expect(resumed.stdout).to.contain('3 runs, 1 failed');
    expect(adaloraCell().failedAt).to.equal(first);
    expect(runDirs()).to.deep.equal(dirs);

    const retried = peftkit(['compare', '--resume', out, '--retry-failed', '--reporter', 'quiet']);
    expect(retried.status).to.equal(1);
    expect(adaloraCell().failedAt).not.to.equal(first);
    expect(runDirs()).to.have.length(dirs.length);
  });

  it('rejects --set together with --resume', () => {
    const r = peftkit(['compare', '--resume', out, '--set', 'seeds=[1,2]']);
    expect(r.status).to.equal(2); // a usage error
    expect(r.stderr).to.match(/^error: --resume continues a comparison .*do not pass --preset or --set/);
  });
});
