/**
 * `peftkit serve` in a real browser (Playwright driving Debian's chromium): the list page; a run
 * whose search curve grows as journal records are appended; a finished comparison with its cell
 * grid, one Pareto point per cell and its search cost; and the CLI serving a directory while a
 * `peftkit search` runs in it, the search shown live until it finishes. A screenshot of each view
 * is kept in test-artifacts/dashboard/; no view may log a console error.
 */
import { expect } from 'chai';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDashboard, type Dashboard } from '@peftkit/engine';
import { chromiumPath } from '@peftkit/testing';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { TINY_BIPEFT, tinyBase, tinyGridPreset } from './tiny-grid.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = join(ROOT, 'core/cli/bin/peftkit.js');
const ARTIFACTS = join(ROOT, 'test-artifacts/dashboard');
/** The flags the report tests use with Debian's chromium: offline, as root, no GPU. */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

const TINY = tinyBase([1]);
const BIPEFT = TINY_BIPEFT;

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`peftkit ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r;
}

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const points = async (page: Page, selector: string) =>
  Number((await page.getAttribute(selector, 'data-points').catch(() => null)) ?? -1);

describe('peftkit serve: the live dashboard in Chromium', function () {
  this.timeout(300_000);
  let dir: string;
  let watched: string;
  let browser: BrowserContext;
  let dash: Dashboard;
  const consoleErrors: string[] = [];
  let finishedRun: string;
  let compareDir: string;

  before(async function () {
    const bin = chromiumPath();
    if (!bin) {
      if (process.env.CI) throw new Error('chromium is not installed (.ci/run installs the Debian package)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'peftkit-serve-'));
    watched = join(dir, 'watched');
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(
      join(dir, 'run.yaml'),
      `${TINY}space: { name: s1, options: { ranks: [1, 2] } }\nstrategy: ${BIPEFT}\nbudget: { params: 300 }\noutput: { dir: ${JSON.stringify(join(dir, 'source'))}, name: tiny }\n`,
    );
    writeFileSync(
      join(dir, 'grid.yaml'),
      tinyGridPreset({ seeds: [1], strategies: ['bipeft', 'lora'], budgets: [300], outDir: watched }),
    );
    const [run] = JSON.parse(
      cli(['search', '--preset', join(dir, 'run.yaml'), '--json', '--reporter', 'quiet'], dir).stdout,
    );
    finishedRun = run.dir;
    compareDir = JSON.parse(
      cli(['compare', '--preset', join(dir, 'grid.yaml'), '--json', '--reporter', 'quiet'], dir).stdout,
    ).dir;
    dash = await startDashboard({ dirs: [watched], port: 0, pollMs: 100 });
    browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: bin!,
      headless: true,
      args: FLAGS,
      viewport: { width: 1200, height: 1000 },
    });
  });
  after(async () => {
    await browser?.close();
    await dash?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    expect(consoleErrors, 'console errors').to.deep.equal([]);
  });

  const open = async (url: string): Promise<Page> => {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
    await page.goto(url);
    return page;
  };

  it('lists the runs and comparisons under the directory', async () => {
    const page = await open(dash.url);
    await page.waitForSelector('#list');
    const text = await page.textContent('#list');
    expect(text).to.contain('comparison');
    expect(text).to.contain('finished');
    await page.screenshot({ path: join(ARTIFACTS, 'list.png'), fullPage: true });
    await page.close();
  });

  it("a running search's curve grows as journal records arrive, and the run turns finished", async () => {
    // A run directory whose journal so far stops after its third search step.
    const live = join(watched, 'live-run');
    mkdirSync(live, { recursive: true });
    for (const f of ['run.json', 'config.json']) copyFileSync(join(finishedRun, f), join(live, f));
    const lines = readFileSync(join(finishedRun, 'journal.jsonl'), 'utf8').split('\n').filter(Boolean);
    const stepLines = lines.map((l, i) => (l.includes('"type":"step"') ? i : -1)).filter((i) => i >= 0);
    expect(stepLines.length).to.be.greaterThan(5);
    writeFileSync(
      join(live, 'journal.jsonl'),
      lines
        .slice(0, stepLines[2]! + 1)
        .map((l) => `${l}\n`)
        .join(''),
    );

    const page = await open(`${dash.url}#/run/${encodeURIComponent('0/live-run')}`);
    await until('3 points', async () => (await points(page, '#chart-expected')) === 3);
    expect(await page.textContent('#run-status')).to.equal('running');
    // The next records arrive, the last one in two pieces (a writer caught mid-line).
    appendFileSync(
      join(live, 'journal.jsonl'),
      lines
        .slice(stepLines[2]! + 1, stepLines[5]!)
        .map((l) => `${l}\n`)
        .join(''),
    );
    const half = lines[stepLines[5]!]!;
    appendFileSync(join(live, 'journal.jsonl'), half.slice(0, 20));
    await until('5 points', async () => (await points(page, '#chart-expected')) === 5);
    appendFileSync(join(live, 'journal.jsonl'), `${half.slice(20)}\n`);
    await until('6 points', async () => (await points(page, '#chart-expected')) === 6);
    await page.screenshot({ path: join(ARTIFACTS, 'run-live.png'), fullPage: true });
    // The rest of the journal and result.json: the run is finished, every step drawn.
    appendFileSync(
      join(live, 'journal.jsonl'),
      lines
        .slice(stepLines[5]! + 1)
        .map((l) => `${l}\n`)
        .join(''),
    );
    copyFileSync(join(finishedRun, 'result.json'), join(live, 'result.json'));
    await until('finished', async () => (await page.textContent('#run-status')) === 'finished');
    expect(await points(page, '#chart-expected')).to.equal(stepLines.length);
    expect(await page.locator('#module-map table.map').count()).to.equal(1);
    await page.screenshot({ path: join(ARTIFACTS, 'run-finished.png'), fullPage: true });
    await page.close();
  });

  it('a finished comparison: every cell done, one Pareto point per cell, its search cost and summary', async () => {
    const id = `0/${compareDir.slice(watched.length + 1)}`;
    const page = await open(`${dash.url}#/compare/${encodeURIComponent(id)}`);
    await page.waitForSelector('#summary');
    const statuses = await page
      .locator('#cell-grid td.cell')
      .evaluateAll((tds) => tds.map((t) => t.getAttribute('data-status')));
    expect(statuses).to.deep.equal(['done', 'done']);
    expect(await page.locator('.pareto circle.point').count()).to.equal(2);
    expect(await page.locator('#search-cost rect.bar').count()).to.equal(2);
    await page.screenshot({ path: join(ARTIFACTS, 'compare.png'), fullPage: true });
    await page.close();
  });

  it('`peftkit serve DIR` shows a `peftkit search` live while it runs in DIR', async () => {
    const runs = join(dir, 'runs');
    mkdirSync(runs);
    const server: ChildProcess = spawn(process.execPath, [CLI, 'serve', runs, '--port', '0'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let search: ChildProcess | undefined;
    try {
      let out = '';
      server.stdout!.on('data', (d) => (out += String(d)));
      const url = await until('the dashboard URL', async () => /http:\/\/\S+/.exec(out)?.[0], 60_000);
      const page = await open(url);
      await page.waitForSelector('#list-empty');
      // A longer search than the others, so that there is time to watch it.
      search = spawn(
        process.execPath,
        [
          CLI,
          'search',
          '--preset',
          join(dir, 'run.yaml'),
          '--set',
          `output.dir=${runs}`,
          '--set',
          'recipes.search.epochs=20',
          '--set',
          'strategy.options.scheduler.options.rounds=200',
          '--reporter',
          'quiet',
        ],
        { cwd: dir, stdio: 'ignore' },
      );
      const exited = new Promise<number | null>((r) => search!.on('exit', r));
      await page.waitForSelector('#list a', { timeout: 60_000 });
      await page.click('#list a');
      const first = await until('a first point', async () => {
        const n = await points(page, '#chart-expected');
        return n > 0 && n;
      });
      await until('the curve to grow', async () => (await points(page, '#chart-expected')) > first);
      await page.screenshot({ path: join(ARTIFACTS, 'serve-cli-live.png'), fullPage: true });
      expect(await exited).to.equal(0);
      await until('finished', async () => (await page.textContent('#run-status')) === 'finished');
      const [runDir] = readdirSync(runs);
      const steps = readFileSync(join(runs, runDir!, 'journal.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"type":"step"')).length;
      expect(await points(page, '#chart-expected')).to.equal(steps);
      await page.close();
    } finally {
      search?.kill();
      server.kill('SIGTERM');
    }
  });
});
