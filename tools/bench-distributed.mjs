#!/usr/bin/env node
/**
 * The same small comparison three ways, in one sitting: the local executor (cells one after
 * another in the compare process), the bullmq executor with 1 worker, and with 2 workers (a
 * redis-server with a password on a free loopback port, started and stopped here). Every cell uses
 * one ONNX Runtime thread. Prints JSON: wall seconds of each, the 1-worker/2-worker ratio, the
 * per-cell queue overhead = (1-worker wall - local wall) / cells, and the time per cell spent
 * outside the cells' own runs (wall - sum of result.json totalSeconds) / cells for local and 1 worker.
 *
 *   npm run build && npm run bench:distributed -- [--seeds 4]
 *
 * The comparison is the integration tests' tiny fixture (tiny backbone and task; BIPEFT, random
 * search matched to its compute, manual LoRA) so that the queue's cost is visible next to short
 * cells; see docs/results.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'core/cli/bin/peftkit.js');
const PLUGIN = join(ROOT, 'test/integration/fixtures/tiny-plugin');
const seedsArg = process.argv.indexOf('--seeds');
const nSeeds = seedsArg > 0 ? Number(process.argv[seedsArg + 1]) : 4;
const dir = mkdtempSync(join(tmpdir(), 'peftkit-bench-distributed-'));
const seeds = Array.from({ length: nSeeds }, (_, i) => i + 1);
writeFileSync(
  join(dir, 'grid.yaml'),
  `plugins: [${JSON.stringify(PLUGIN)}]
backbone: { name: tiny, options: { hidden: 8 } }
task: { name: tiny, options: { train: 48, validation: 24, test: 24 } }
backend: { name: onnxruntime, options: { intraOpThreads: 1 } }
seeds: ${JSON.stringify(seeds)}
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
  budgets: [{ params: 600 }]
output: { dir: ${JSON.stringify(join(dir, 'out'))}, name: grid }
`,
);

const port = await new Promise((done) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => done(p));
  });
});
const password = randomBytes(12).toString('hex');
const url = `redis://:${password}@127.0.0.1:${port}`;
const redis = spawn(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--dir', dir],
  { stdio: 'ignore' },
);
for (;;) {
  const ok = await new Promise((done) => {
    const c = new Socket();
    c.once('connect', () => (c.destroy(), done(true)));
    c.once('error', () => done(false));
    c.connect(port, '127.0.0.1');
  });
  if (ok) break;
  await new Promise((r) => setTimeout(r, 50));
}

function compare(extra) {
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [CLI, 'compare', '--preset', 'grid.yaml', '--json', '--reporter', 'quiet', ...extra],
    { cwd: dir, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`compare failed: ${r.stderr}`);
  const wall = (performance.now() - t0) / 1000;
  const cells = JSON.parse(r.stdout).cells;
  return { wall, cells: cells.length, cellSeconds: cells.reduce((s, c) => s + c.totalSeconds, 0) };
}

async function withWorkers(n, queue) {
  const workers = [];
  for (let i = 0; i < n; i++) {
    const w = spawn(
      process.execPath,
      [CLI, 'worker', '--redis', url, '--queue', queue, '--plugins', PLUGIN, '--name', `w${i + 1}`],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    w.stderr.on('data', (d) => (err += d));
    await new Promise((done) => {
      const t = setInterval(() => /takes cells/.test(err) && (clearInterval(t), done()), 50);
    });
    workers.push(w);
  }
  try {
    return compare([
      '--set',
      'executor.name=bullmq',
      '--set',
      `executor.options.url=${url}`,
      '--set',
      `executor.options.queue=${queue}`,
      '--set',
      'executor.options.pollMs=100',
    ]);
  } finally {
    for (const w of workers) w.kill('SIGTERM');
  }
}

const loadBefore = loadavg();
try {
  const local = compare([]);
  const one = await withWorkers(1, 'bench-1');
  const two = await withWorkers(2, 'bench-2');
  const out = {
    machine: `${cpus().length} x ${cpus()[0]?.model}, Node ${process.version}`,
    // 1-minute load average before and after: other work on the machine skews every number.
    loadAverage: { before: loadBefore[0], after: loadavg()[0] },
    cells: local.cells,
    wallSeconds: { local: local.wall, oneWorker: one.wall, twoWorkers: two.wall },
    ratioOneToTwoWorkers: one.wall / two.wall,
    perCellQueueOverheadSeconds: (one.wall - local.wall) / local.cells,
    // Time per cell outside the cell's own run (its result.json totalSeconds): process start,
    // planning and reports for both; for the queue also the job's round trip, polling and the files.
    perCellOutsideRunSeconds: {
      local: (local.wall - local.cellSeconds) / local.cells,
      oneWorker: (one.wall - one.cellSeconds) / one.cells,
    },
    meanCellSeconds: {
      local: local.cellSeconds / local.cells,
      oneWorker: one.cellSeconds / one.cells,
      twoWorkers: two.cellSeconds / two.cells,
    },
    runs: readdirSync(join(dir, 'out')).length,
  };
  console.log(JSON.stringify(out, null, 2));
} finally {
  redis.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  rmSync(dir, { recursive: true, force: true });
}
