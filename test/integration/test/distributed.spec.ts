/**
 * `peftkit compare` with the bullmq executor against a real redis-server (loopback, password,
 * started and stopped by the test): two workers run a comparison; one is killed with SIGKILL
 * while it runs a cell and a third joins; the coordinator is killed and `compare --resume`
 * re-attaches to the queue; Redis is restarted while cells run. compare.json must then equal the
 * local executor's cell for cell, with every cell counted once. Also: a worker that lacks a
 * plugin fails the cell with a clear error on the coordinator, and a URL without a password is
 * refused.
 *
 * Search trials: a random search with the bullmq executor trains its trials on two workers, one of
 * them killed with SIGKILL in the middle of a trial, and gives the same result.json and journal as
 * with the local executor; a trial that needs a plugin the worker lacks fails the run clearly.
 *
 * A cell whose job failed before the coordinator recorded it (the coordinator was killed): a plain
 * resume reports that failure, `--retry-failed` runs the cell again.
 *
 * TLS: a comparison over rediss:// with a throwaway CA given to the coordinator and the worker; a
 * server certificate that does not verify is refused with the reason.
 */
import type { CellSpec, Logger } from '@peftkit/api';
import { BullmqCellRunner, serveCells, type BullmqOptions } from '@peftkit/plugin-executor-bullmq';
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveRedis, makeTestCertificates, TestRedis } from './redis-server.js';
import { tinyGridPreset } from './tiny-grid.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = join(ROOT, 'core/cli/bin/peftkit.js');
const PLUGIN = fileURLToPath(new URL('../../fixtures/tiny-plugin', import.meta.url));

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
}

function start(args: string[], cwd: string): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, out: () => out, err: () => err, exit };
}

async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 120_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Cell {
  key: string;
  status?: string;
  worker?: string;
}

function readCells(dir: string): Cell[] {
  try {
    return JSON.parse(readFileSync(join(dir, 'cells.json'), 'utf8')) as Cell[];
  } catch {
    return [];
  }
}

/** What must not depend on where a cell ran: everything but directories and timings. */
function comparable(cells: Record<string, unknown>[]) {
  return cells.map((c) => ({
    label: c.label,
    task: c.task,
    budget: c.budget,
    seed: c.seed,
    status: c.status,
    budgetParams: c.budgetParams,
    trainableParams: c.trainableParams,
    metrics: c.metrics,
    searchCompute: c.searchCompute,
  }));
}

describe('compare on BullMQ workers over a real Redis', function () {
  this.timeout(300_000);
  let dir: string;
  let redis: TestRedis | undefined;
  const procs: Proc[] = [];
  const worker = (name: string, url: string, extra: string[] = []) => {
    const p = start(
      ['worker', '--redis', url, '--name', name, '--lock-ms', '3000', '--stalled-ms', '1000', ...extra],
      dir,
    );
    procs.push(p);
    return p;
  };
  const ready = (p: Proc) =>
    until('a worker to start', () => /takes cells/.test(p.err()) || p.child.exitCode !== null);
  let local: { cells: Record<string, unknown>[] };

  before(function () {
    if (!haveRedis()) {
      if (process.env.CI) throw new Error('redis-server is missing: .ci/run installs it (apt redis-server)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'peftkit-distributed-'));
    writeFileSync(
      join(dir, 'grid.yaml'),
      tinyGridPreset({
        seeds: [1, 2],
        strategies: ['bipeft', 'random', 'lora'],
        budgets: [600],
        outDir: join(dir, 'out'),
        extra: 'backend: { name: onnxruntime, options: { intraOpThreads: 1 } }\n',
      }),
    );
  });
  after(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await redis?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the local executor gives the reference', () => {
    const r = spawnSync(
      process.execPath,
      [CLI, 'compare', '--preset', 'grid.yaml', '--json', '--reporter', 'quiet'],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    );
    expect(r.status, r.stderr).to.equal(0);
    local = JSON.parse(r.stdout) as typeof local;
    expect(local.cells).to.have.length(6);
  });

  it('workers killed and joining, the coordinator killed and resumed, Redis restarted: the same compare.json', async () => {
    redis = await TestRedis.start();
    const url = redis.url;
    const withPlugin = ['--plugins', PLUGIN];
    const [w1, w2] = [worker('w1', url, withPlugin), worker('w2', url, withPlugin)];
    await ready(w1);
    await ready(w2);
    const c1 = start(
      [
        'compare',
        '--preset',
        'grid.yaml',
        '--set',
        'executor.name=bullmq',
        '--set',
        `executor.options.url=${url}`,
        '--set',
        'executor.options.pollMs=100',
        '--set',
        'output.name=remote',
        '--reporter',
        'plain',
      ],
      dir,
    );
    procs.push(c1);
    const cmp = await until('the comparison directory', () => {
      const out = join(dir, 'out');
      const d = existsSync(out) ? readdirSync(out).find((n) => n.startsWith('remote-compare-')) : undefined;
      return d && existsSync(join(out, d, 'cells.json')) ? join(out, d) : undefined;
    });

    // w1 dies with SIGKILL in the middle of a cell; w3 joins.
    const killed = await until('a cell running on w1', () =>
      readCells(cmp).find((c) => c.status === 'running' && c.worker === 'w1'),
    );
    w1.child.kill('SIGKILL');
    await w1.exit;
    const w3 = worker('w3', url, withPlugin);
    await ready(w3);

    // The coordinator dies with SIGKILL once two cells are done; a new one resumes the comparison.
    await until('two cells done', () => readCells(cmp).filter((c) => c.status === 'done').length >= 2);
    c1.child.kill('SIGKILL');
    await c1.exit;
    const doneBefore = readCells(cmp).filter((c) => c.status === 'done').length;
    const c2 = start(['compare', '--resume', cmp, '--json', '--reporter', 'plain'], dir);
    procs.push(c2);

    // Redis restarts while the resumed coordinator waits on cells that workers run.
    await until(
      'the resumed coordinator to see a running cell',
      () => /running on w[23]/.test(c2.err()) || c2.child.exitCode !== null,
    );
    expect(c2.child.exitCode, `the resumed coordinator still runs when Redis restarts: ${c2.err()}`).to.equal(
      null,
    );
    expect(readCells(cmp).filter((c) => c.status === 'done').length).to.be.below(6);
    await redis.restart();

    expect(await c2.exit, c2.err()).to.equal(0);
    // Both sides saw Redis go away and came back.
    expect(c2.err()).to.contain('coordinator: reconnected to Redis');
    expect(w2.err() + w3.err()).to.match(/worker w[23]: reconnected to Redis/);
    const remote = JSON.parse(c2.out()) as { cells: Record<string, unknown>[] };
    const written = JSON.parse(readFileSync(join(cmp, 'compare.json'), 'utf8')) as typeof remote;
    expect(comparable(written.cells)).to.deep.equal(comparable(local.cells));
    expect(comparable(remote.cells)).to.deep.equal(comparable(local.cells));

    // Every cell once: done, one run directory each, the killed one finished by another worker.
    const cells = readCells(cmp);
    expect(cells.map((c) => c.status)).to.deep.equal(Array(6).fill('done'));
    expect(readdirSync(join(cmp, 'runs'))).to.have.length(6);
    expect(cells.find((c) => c.key === killed.key)!.worker).to.be.oneOf(['w2', 'w3']);
    expect(doneBefore).to.be.at.least(2);
    for (const c of remote.cells) {
      const run = c.dir as string;
      for (const f of [
        'result.json',
        'architecture.json',
        'model.safetensors',
        'report.html',
        'journal.jsonl',
      ])
        expect(existsSync(join(run, f)), `${run}/${f}`).to.equal(true);
    }

    // `peftkit status` shows the finished comparison.
    const st = spawnSync(process.execPath, [CLI, 'status', cmp, '--json'], { encoding: 'utf8' });
    expect(st.status, st.stderr).to.equal(0);
    const status = JSON.parse(st.stdout) as { finished: boolean; counts: Record<string, number> };
    expect(status.finished).to.equal(true);
    expect(status.counts.done).to.equal(6);
    for (const p of [w2, w3]) p.child.kill('SIGTERM');
    await Promise.all([w2.exit, w3.exit]);
  });

  it('a cell that needs a plugin the worker does not load fails with a clear error on the coordinator', async () => {
    const url = redis!.url;
    const lonely = worker('lonely', url, ['--queue', 'no-plugins']);
    await ready(lonely);
    const c = start(
      [
        'compare',
        '--preset',
        'grid.yaml',
        ...['--set', 'seeds=[1]', '--set', 'executor.name=bullmq', '--set', `executor.options.url=${url}`],
        ...['--set', 'executor.options.queue=no-plugins', '--set', 'executor.options.pollMs=100'],
        ...['--set', 'output.name=lonely', '--reporter', 'quiet'],
      ],
      dir,
    );
    procs.push(c);
    expect(await c.exit).to.equal(1);
    expect(c.err()).to.contain('on worker lonely: this worker does not load the plugin peftkit-fixture-tiny');
    expect(c.err()).to.contain('start the worker with --plugins peftkit-fixture-tiny');
    lonely.child.kill('SIGTERM');
    await lonely.exit;
  });

  it('refuses a Redis URL without a password unless --insecure', () => {
    const r = spawnSync(process.execPath, [CLI, 'worker', '--redis', 'redis://127.0.0.1:1'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain('has no password');
    expect(r.stderr).to.contain('--insecure');
  });
});

/** A run's result.json and journal without what depends on the machine, the time or the run's directory. */
function runTrace(runDir: string) {
  const result = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as Record<string, unknown>;
  for (const k of ['timings', 'peakRssMB', 'finishedAt']) delete result[k];
  const journal = readFileSync(join(runDir, 'journal.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const r = JSON.parse(line) as Record<string, unknown>;
      for (const k of ['t', 'seq', 'run', 'seconds']) delete r[k];
      return r;
    });
  return { result, journal };
}

describe('search trials on BullMQ workers over a real Redis', function () {
  this.timeout(180_000);
  let dir: string;
  let redis: TestRedis | undefined;
  const procs: Proc[] = [];
  const worker = (name: string, queue: string, extra: string[] = []) => {
    const p = start(
      [
        'worker',
        '--redis',
        redis!.url,
        '--name',
        name,
        '--queue',
        queue,
        '--lock-ms',
        '3000',
        '--stalled-ms',
        '1000',
        ...extra,
      ],
      dir,
    );
    procs.push(p);
    return p;
  };
  const ready = (p: Proc) =>
    until('a worker to start', () => /takes cells and trials/.test(p.err()) || p.child.exitCode !== null);
  const search = (name: string, queue?: string) =>
    start(
      [
        'search',
        '--preset',
        'search.yaml',
        '--set',
        `output.name=${name}`,
        '--json',
        '--reporter',
        'quiet',
        ...(queue ? ['--set', 'executor.name=bullmq', '--set', `executor.options.url=${redis!.url}`] : []),
        ...(queue
          ? ['--set', `executor.options.queue=${queue}`, '--set', 'executor.options.pollMs=100']
          : []),
      ],
      dir,
    );

  before(async function () {
    if (!haveRedis()) {
      if (process.env.CI) throw new Error('redis-server is missing: .ci/run installs it (apt redis-server)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'peftkit-trials-'));
    // Four trials asked at once, each long enough (about a second) to be killed in the middle.
    writeFileSync(
      join(dir, 'search.yaml'),
      `plugins: [${JSON.stringify(PLUGIN)}]
backbone: { name: tiny, options: { hidden: 8 } }
task: { name: tiny, options: { train: 480, validation: 24, test: 24 } }
backend: { name: onnxruntime, options: { intraOpThreads: 1 } }
seeds: [1]
budget: { params: 600 }
strategy: { name: random, options: { trials: 4, parallel: 4, trialEpochs: 12 } }
space: { name: s1, options: { ranks: [1, 2] } }
recipes:
  search: { epochs: 3, batchSize: 8, lr: 0.003 }
  retrain: { epochs: 1, batchSize: 8, lr: 0.003 }
output: { dir: ${JSON.stringify(join(dir, 'out'))}, name: local }
`,
    );
    redis = await TestRedis.start();
  });
  after(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await redis?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('two workers, one killed mid-trial: the same result.json and journal as the local executor', async () => {
    const local = search('local');
    expect(await local.exit, local.err()).to.equal(0);
    const [localRun] = JSON.parse(local.out()) as { dir: string }[];

    const withPlugin = ['--plugins', PLUGIN];
    const [t1, t2] = [worker('t1', 'trials', withPlugin), worker('t2', 'trials', withPlugin)];
    await ready(t1);
    await ready(t2);
    const remote = search('remote', 'trials');
    procs.push(remote);
    const started = await until('t1 to start a trial', () =>
      /t1: trial \S+ (random-trial-\d+) started/.exec(t1.err()),
    );
    t1.child.kill('SIGKILL');
    await t1.exit;
    expect(await remote.exit, remote.err()).to.equal(0);
    const [remoteRun] = JSON.parse(remote.out()) as { dir: string }[];

    // The killed worker's trial was not finished there: its lock ran out and t2 trained it again.
    expect(t1.err()).to.not.contain(`${started![1]} done`);
    expect(t2.err()).to.contain(`${started![1]} done`);
    const a = runTrace(localRun!.dir);
    const b = runTrace(remoteRun!.dir);
    expect(b.result).to.deep.equal(a.result);
    expect(b.journal).to.deep.equal(a.journal);
    expect(b.journal.filter((r) => r.type === 'trial')).to.have.length(4);
    t2.child.kill('SIGTERM');
    await t2.exit;
  });

  it('a trial that needs a plugin the worker does not load fails the run with a clear error', async () => {
    const bare = worker('bare', 'bare');
    await ready(bare);
    const run = search('bare', 'bare');
    procs.push(run);
    expect(await run.exit).to.equal(1);
    expect(run.err()).to.match(
      /search trial random-trial-\d failed on worker bare: this worker does not load the plugin peftkit-fixture-tiny/,
    );
    expect(run.err()).to.contain('start the worker with --plugins peftkit-fixture-tiny');
    bare.child.kill('SIGTERM');
    await bare.exit;
  });
});

describe('BullMQ over TLS (rediss://) with a private CA', function () {
  this.timeout(120_000);
  let dir: string;
  let redis: TestRedis | undefined;
  let ca: string;
  const procs: Proc[] = [];

  before(async function () {
    if (!haveRedis()) {
      if (process.env.CI) throw new Error('redis-server is missing: .ci/run installs it (apt redis-server)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'peftkit-tls-'));
    const certs = makeTestCertificates(dir);
    ca = certs.ca;
    redis = await TestRedis.start({ tls: certs });
    writeFileSync(
      join(dir, 'one.yaml'),
      `plugins: [${JSON.stringify(PLUGIN)}]
backbone: { name: tiny, options: { hidden: 8 } }
task: { name: tiny, options: { train: 48, validation: 24, test: 24 } }
backend: { name: onnxruntime, options: { intraOpThreads: 1 } }
seeds: [1]
recipes:
  retrain: { epochs: 1, batchSize: 8, lr: 0.003 }
compare:
  strategies:
    - label: lora
      strategy: { name: manual, options: { type: lora } }
  budgets: [{ params: 600 }]
output: { dir: ${JSON.stringify(join(dir, 'out'))}, name: tls }
`,
    );
  });
  after(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await redis?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a comparison over rediss:// with the CA given, and refuses a certificate that does not verify', async () => {
    const url = redis!.url;
    expect(url).to.match(/^rediss:\/\//);
    const compare = (extra: string[]) =>
      start(
        ['compare', '--preset', 'one.yaml', '--json', '--reporter', 'quiet']
          .concat(['--set', 'executor.name=bullmq', '--set', `executor.options.url=${url}`])
          .concat(['--set', 'executor.options.pollMs=100', ...extra]),
        dir,
      );

    // Without the CA: both sides refuse, naming the option that gives it.
    const lost = start(['worker', '--redis', url, '--name', 'no-ca'], dir);
    procs.push(lost);
    expect(await lost.exit).to.equal(1);
    expect(lost.err()).to.contain('presented a certificate that does not verify');
    expect(lost.err()).to.contain('--tls-ca');
    const refused = compare([]);
    procs.push(refused);
    expect(await refused.exit).to.equal(1);
    expect(refused.err()).to.contain('presented a certificate that does not verify');
    expect(refused.err()).to.contain('executor.options.tls.ca');

    const w = start(['worker', '--redis', url, '--name', 'tls1', '--tls-ca', ca, '--plugins', PLUGIN], dir);
    procs.push(w);
    await until('the TLS worker to start', () => /takes cells/.test(w.err()) || w.child.exitCode !== null);
    const c = compare(['--set', `executor.options.tls.ca=${ca}`]);
    procs.push(c);
    expect(await c.exit, c.err()).to.equal(0);
    const out = JSON.parse(c.out()) as { cells: { status: string; dir: string }[] };
    expect(out.cells.map((x) => x.status)).to.deep.equal(['done']);
    expect(w.err()).to.contain('tls1: cell lora, tiny');
    w.child.kill('SIGTERM');
    await w.exit;
  });
});

describe('a failed cell job left in Redis and --retry-failed', function () {
  this.timeout(60_000);
  let redis: TestRedis | undefined;
  before(async function () {
    if (!haveRedis()) {
      if (process.env.CI) throw new Error('redis-server is missing: .ci/run installs it (apt redis-server)');
      this.skip();
    }
    redis = await TestRedis.start();
  });
  after(async () => redis?.dispose());

  it('re-attaches to the failure without retryFailed and runs the cell again with it', async () => {
    const quiet: Logger = { info() {}, warn() {}, debug() {} };
    const options: BullmqOptions = {
      url: redis!.url,
      insecure: false,
      queue: 'retry',
      pollMs: 50,
      concurrency: 1,
      lockMs: 3000,
      stalledMs: 1000,
      maxStalledCount: 1,
      maxJobMB: 1,
      maxResultMB: 1,
      name: 'w',
    };
    let attempts = 0;
    const worker = await serveCells(options, {
      // The first attempt fails (say, a plugin the workers lacked then); later ones succeed.
      runCell: async () => {
        if (++attempts === 1) throw new Error('the first attempt fails');
        return { files: { 'result.json': new TextEncoder().encode('{}') } };
      },
      runTrial: () => Promise.reject(new Error('no trials here')),
      log: quiet,
    });
    const spec: CellSpec = {
      id: 'cell-retry',
      title: 't',
      config: {},
      baseDirs: {},
      seed: 1,
      preset: null,
      plugins: [],
    };
    try {
      // A coordinator sees the failure and dies before recording it: the job stays in Redis.
      const first = new BullmqCellRunner(options, quiet);
      const failure = await first.run(spec, () => {}).catch((e: Error) => e);
      expect(String(failure)).to.contain('on worker w: the first attempt fails');
      await first.dispose();

      const resumed = new BullmqCellRunner(options, quiet);
      const again = await resumed.run(spec, () => {}).catch((e: Error) => e);
      expect(String(again)).to.contain('the first attempt fails');
      expect(attempts).to.equal(1);
      const out = await resumed.run(spec, () => {}, { retryFailed: true });
      expect(out.worker).to.equal('w');
      expect(Object.keys(out.files)).to.deep.equal(['result.json']);
      expect(attempts).to.equal(2);
      await resumed.settled(spec.id);
      await resumed.dispose();
    } finally {
      await worker.close();
    }
  });
});
