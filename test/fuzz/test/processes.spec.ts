/**
 * What needs real processes: two concurrent resumes of one run (one runs it, the other is refused
 * naming the first; the run finishes once and its journal stays valid), Ctrl-C (exit 130, the
 * journal records it, the lock is released, the message says how to continue, and the resume
 * finishes the run), stale locks of dead processes, and the exit codes of the binary itself.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirLock, RunDir, componentBaseDirs, loadConfig, readJournal } from '@peftkit/engine';
import { CLI, HANG_PLUGIN, runCli, STACK_FRAME, tinyPreset } from './harness.js';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

async function until(check: () => boolean, what: string, seconds = 60): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A run directory created from the tiny preset that never started (as if killed at once). */
async function unstartedRun(dir: string, retrainEpochs: number): Promise<string> {
  tinyPreset(dir);
  const { config, origins } = await loadConfig({
    preset: './tiny.yaml',
    sets: [`recipes.retrain.epochs=${retrainEpochs}`],
    cwd: dir,
  });
  const run = RunDir.create(config.output.dir, config.output.name, config.seeds[0]!, config, new Date(), {
    command: 'search',
    baseDirs: componentBaseDirs((path) => origins.get(path)?.dir ?? dir),
  });
  return run.path;
}

const journalTypes = (run: string) => readJournal(join(run, 'journal.jsonl')).records.map((r) => r.type);

describe('fuzz: run directories under concurrent and interrupted processes', function () {
  this.timeout(120_000);
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'peftkit-fuzz-proc-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('two concurrent resumes of one run: one runs it, the other is refused naming it; the run finishes once', async () => {
    const run = await unstartedRun(tmp, 15);
    const args = ['search', '--resume', run, '--checkpoint-every', '0', '--reporter', 'quiet'];
    const [a, b] = await Promise.all([start(args, tmp).done, start(args, tmp).done]);
    const exits = [a, b].sort((x, y) => (x.code ?? 9) - (y.code ?? 9));
    expect(
      exits.map((e) => e.code),
      `${a.stderr}\n${b.stderr}`,
    ).to.deep.equal([0, 1]);
    expect(exits[1]!.stderr).to.match(
      /^error: .*: (the run directory .* is in use by process \d+ on .* \(peftkit search --resume\)|run .* has already finished)/,
    );
    expect(exits[1]!.stderr).not.to.match(STACK_FRAME);
    // Finished once: one result, a valid journal (strictly increasing seqs) with one run-end.
    expect(existsSync(join(run, 'result.json'))).to.equal(true);
    expect(journalTypes(run).filter((t) => t === 'run-end')).to.have.length(1);
    expect(existsSync(join(run, '.lock')), 'the lock is released').to.equal(false);
    const again = await runCli(['search', '--resume', run], tmp);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/has already finished \(result\.json exists\)/);
  });

  it('Ctrl-C stops a run with exit 130, journals it, releases the lock and says how to resume; the resume finishes it', async () => {
    tinyPreset(tmp);
    const p = start(
      [
        'search',
        '--preset',
        './tiny.yaml',
        '--set',
        'recipes.retrain.epochs=150',
        '--checkpoint-every',
        '0',
        '--reporter',
        'quiet',
      ],
      tmp,
    );
    const runs = join(tmp, 'runs');
    const ckpts = () => (existsSync(runs) ? readdirSync(runs).map((d) => join(runs, d, 'checkpoints')) : []);
    await until(() => ckpts().some((c) => existsSync(c) && readdirSync(c).length > 0), 'a checkpoint');
    p.child.kill('SIGINT');
    const exit = await p.done;
    const run = join(runs, readdirSync(runs)[0]!);
    expect(exit.code, exit.stderr).to.equal(130);
    expect(exit.stderr).to.contain(`interrupted; continue with:\n  peftkit search --resume ${run}\n`);
    expect(exit.stderr).not.to.match(STACK_FRAME);
    expect(journalTypes(run).at(-1)).to.equal('interrupted');
    expect(existsSync(join(run, '.lock'))).to.equal(false);
    expect(existsSync(join(run, 'result.json'))).to.equal(false);
    // Finish it faster than it began: only the resume's remaining epochs matter here.
    const resumed = await runCli(['search', '--resume', run, '--reporter', 'quiet'], tmp);
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(existsSync(join(run, 'result.json'))).to.equal(true);
    expect(journalTypes(run)).to.include.members(['interrupted', 'resume', 'run-end']);
  });

  it('takes over the lock of a process that is gone, and refuses a live holder naming it', async () => {
    const run = await unstartedRun(tmp, 1);
    const dead = spawnSync(process.execPath, ['-e', 'process.pid'], { encoding: 'utf8' });
    const deadPid = dead.pid!;
    const host = (await import('node:os')).hostname();
    writeFileSync(join(run, '.lock'), JSON.stringify({ pid: deadPid, host, since: '2026-01-01T00:00:00Z' }));
    const r = await runCli(['search', '--resume', run, '--reporter', 'quiet'], tmp);
    expect(r.code, r.stderr).to.equal(0);
    expect(existsSync(join(run, '.lock'))).to.equal(false);

    const lock = DirLock.acquire(tmp, 'comparison demo', 'peftkit compare');
    try {
      expect(() => DirLock.acquire(tmp, 'comparison demo')).to.throw(
        new RegExp(
          `the comparison demo is in use by process ${process.pid} on ${host} \\(peftkit compare\\)`,
        ),
      );
    } finally {
      lock.release();
    }
    DirLock.acquire(tmp, 'comparison demo').release();
  });

  it('the binary: usage errors exit 2, errors exit 1 (a JSON document under --json), a hanging plugin import is named', async () => {
    tinyPreset(tmp);
    const usage = spawnSync(process.execPath, [CLI, 'search', '--checkpoint-every', '-1'], {
      cwd: tmp,
      encoding: 'utf8',
    });
    expect(usage.status).to.equal(2);
    expect(usage.stderr).to.match(/^error: --checkpoint-every expects/);
    const json = spawnSync(process.execPath, [CLI, 'search', '--preset', 'nope', '--json'], {
      cwd: tmp,
      encoding: 'utf8',
    });
    expect(json.status).to.equal(1);
    expect((JSON.parse(json.stdout) as { error: { name: string } }).error.name).to.equal('ConfigError');
    writeFileSync(
      join(tmp, 'hang.yaml'),
      `extends: ./tiny.yaml\nplugins: [${JSON.stringify(HANG_PLUGIN)}]\n`,
    );
    const hang = spawnSync(process.execPath, [CLI, 'search', '--preset', './hang.yaml'], {
      cwd: tmp,
      encoding: 'utf8',
      env: { ...process.env, PEFTKIT_PLUGIN_IMPORT_TIMEOUT: '1' },
      timeout: 60_000,
    });
    expect(hang.status, hang.stderr).to.equal(1);
    expect(hang.stderr).to.match(
      /plugin peftkit-hang-plugin \(import\): importing .* did not finish within 1 s/,
    );
  });

  it('a reporter that throws is named (plugin and hook) once and switched off; the run finishes', async () => {
    tinyPreset(tmp);
    const r = await runCli(['search', '--preset', './tiny.yaml', '--reporter', 'fuzz-reporter'], tmp);
    expect(r.code, r.stderr).to.equal(0);
    const warnings = r.stderr.match(/^warning: .*$/gm) ?? [];
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(
      /plugin peftkit-fuzz-plugin \(reporter fuzz-reporter: onEvent\): fuzz-reporter cannot show run-start events \(reporter switched off/,
    );
    expect(
      readFileSync(join(tmp, 'runs', readdirSync(join(tmp, 'runs'))[0]!, 'result.json'), 'utf8'),
    ).to.contain('"trainableParams"');
  });
});
