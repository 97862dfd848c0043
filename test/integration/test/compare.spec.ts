/**
 * `peftkit compare` end to end on the tiny fixture plugin: a grid of strategies (BIPEFT, manual
 * LoRA, random search given BIPEFT's search compute) x budgets x seeds, its outputs, resuming a
 * comparison, and its report rendered in headless Chromium.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inkFraction, renderInChromium } from '@peftkit/testing';

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
      `plugins: [${JSON.stringify(PLUGIN)}]
backbone: { name: tiny, options: { hidden: 8 } }
task: { name: tiny, options: { train: 48, validation: 24, test: 24 } }
seeds: [1, 2]
recipes:
  search: { epochs: 3, batchSize: 8, lr: 0.003 }
  retrain: { epochs: 2, batchSize: 8, lr: 0.003 }
compare:
  strategies:
    - label: bipeft
      strategy: { name: bipeft, options: { pruneBeginEpoch: 0, scheduler: { name: bipeft-budget, options: { rounds: 4, window: 2, threshold: 0.5, lastRounds: 1 } } } }
      space: { name: s1, options: { ranks: [1, 2] } }
    - label: random
      strategy: { name: random, options: { trialEpochs: 1 } }
      space: { name: s1, options: { ranks: [1, 2] } }
      matchComputeOf: bipeft
    - label: lora
      strategy: { name: manual, options: { type: lora } }
  budgets: [{ params: 200 }, { params: 600 }]
output: { dir: ${JSON.stringify(join(dir, 'out'))}, name: grid }
`,
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
