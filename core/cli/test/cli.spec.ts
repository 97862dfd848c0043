import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseYamlWithOrigins } from '@peftkit/engine';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const TOY = join(FIXTURES, 'plugins', 'toy');
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI as a child process, with the fixture plugin as the only built-in unless `builtins` is null. */
function peftkit(args: string[], opts: { cwd?: string; builtins?: string | null } = {}): Run {
  const env = { ...process.env };
  delete env.PEFTKIT_BUILTIN_PLUGINS;
  if (opts.builtins !== null) env.PEFTKIT_BUILTIN_PLUGINS = opts.builtins ?? TOY;
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd: opts.cwd ?? FIXTURES,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('peftkit CLI', function () {
  this.timeout(60_000);

  it('plugins list --json: only JSON on stdout, every plugin with its contributions', () => {
    const r = peftkit(['plugins', 'list', '--json']);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    const report = JSON.parse(r.stdout) as {
      plugins: Array<{
        name: string;
        version: string;
        contributions: Array<{ kind: string; name: string; description: string }>;
      }>;
      failures: unknown[];
    };
    expect(report.plugins.map((p) => `${p.name}@${p.version}`)).to.deep.equal([
      '@peftkit/engine@0.1.0',
      'fixture-cli-toy@0.3.0',
    ]);
    expect(report.plugins[1]!.contributions.map((c) => `${c.kind}/${c.name}`)).to.include.members([
      'backbone/toy',
      'training-backend/toy-backend',
    ]);
    expect(report.failures).to.deep.equal([]);
  });

  it('plugins list: a readable table, and failures listed with exit code 1', () => {
    const ok = peftkit(['plugins', 'list']);
    expect(ok.stdout).to.match(/^@peftkit\/engine 0\.1\.0 \(engine\)\n {2}reporter {2}jsonl/);
    expect(ok.stdout).to.match(/fixture-cli-toy 0\.3\.0 \(built-in\)\n {2}backbone +toy +Toy backbone/);
    const bad = peftkit(['plugins', 'list', '--json'], { builtins: `${TOY},${join(FIXTURES, 'nowhere')}` });
    expect(bad.code).to.equal(1);
    const report = JSON.parse(bad.stdout) as { failures: Array<{ plugin: string; message: string }> };
    expect(report.failures.map((f) => f.message)).to.deep.equal([
      `plugin ${join(FIXTURES, 'nowhere')} (discover): built-in plugin not found (is it installed?)`,
    ]);
  });

  it('presets list and presets show (YAML and JSON, with --set)', () => {
    const list = peftkit(['presets', 'list', '--json']);
    expect(list.code).to.equal(0);
    const presets = JSON.parse(list.stdout) as Array<{
      name: string;
      description?: string;
      extends?: string;
    }>;
    expect(presets.find((p) => p.name === 'demo')).to.include({ description: 'CLI demo preset' });
    expect(presets.find((p) => p.name === 'bad')).to.include({ extends: 'demo' });
    expect(peftkit(['presets', 'list']).stdout).to.match(/^bad +extends demo\ndemo +CLI demo preset/m);

    const show = peftkit([
      'presets',
      'show',
      'demo',
      '--json',
      '--set',
      'seeds=[1,2]',
      '--set',
      'strategy.options.lr=1e-3',
    ]);
    expect(show.stderr).to.equal('');
    const config = JSON.parse(show.stdout) as Record<string, unknown>;
    expect(config.seeds).to.deep.equal([1, 2]);
    expect(config.strategy).to.deep.equal({ name: 'toy-search', options: { lr: 0.001 } });
    expect(config.executor).to.deep.equal({ name: 'local', options: {} });
    expect((config.recipes as { search: { lr: number } }).search.lr).to.equal(3e-4);
    expect(config.output).to.deep.equal({ dir: 'runs', name: 'demo' });

    const yaml = peftkit(['presets', 'show', 'demo']);
    expect(parseYamlWithOrigins(yaml.stdout, 'stdout').value).to.deep.equal({
      ...config,
      seeds: [42],
      strategy: { name: 'toy-search', options: { lr: 0.5 } },
    });
    const raw = peftkit(['presets', 'show', 'bad', '--raw', '--json']);
    expect(JSON.parse(raw.stdout)).to.deep.include({ strategy: { name: 'toy-search', options: { lr: -2 } } });
  });

  it('prints configuration errors as "error: <message>" on stderr (under --json also as the JSON document on stdout), exit 1', () => {
    const r = peftkit(['presets', 'show', 'bad', '--json']);
    expect(r.code).to.equal(1);
    expect(JSON.parse(r.stdout)).to.deep.equal({
      error: {
        name: 'ConfigError',
        message: 'presets/bad.yaml:4: strategy.options.lr: expected a number > 0, got -2',
        file: 'presets/bad.yaml:4',
        path: 'strategy.options.lr',
      },
    });
    expect(r.stderr).to.equal(
      'error: presets/bad.yaml:4: strategy.options.lr: expected a number > 0, got -2\n',
    );
    const debug = peftkit(['presets', 'show', 'bad', '--debug']);
    expect(debug.stderr).to.match(/^error: presets\/bad\.yaml:4:/);
    expect(debug.stderr).to.match(/\n {4}at /);
  });

  it('rejects unknown commands and options (strict parsing) as usage errors, exit 2', () => {
    const cmd = peftkit(['plugins2', 'list']);
    expect(cmd.code).to.equal(2);
    expect(cmd.stderr).to.match(/^error: .*plugins/);
    expect(cmd.stderr).to.match(/run peftkit --help for usage/);
    const opt = peftkit(['presets', 'list', '--jsn']);
    expect(opt.code).to.equal(2);
    expect(opt.stderr).to.match(/^error: Unknown argument: jsn/);
    expect(peftkit(['--version']).stdout).to.equal('0.1.0\n');
  });

  it('doctor --json: environment, plugins and the configured backend', () => {
    const r = peftkit(['doctor', '--json', '--set', 'backend.name=toy-backend']);
    expect(r.stderr).to.equal('');
    // The toy backend describes itself but cannot compile graphs: the gradient self-check fails.
    expect(r.code).to.equal(1);
    const d = JSON.parse(r.stdout) as Record<string, Record<string, unknown>> & { node: string };
    expect(d.node).to.equal(process.version);
    expect(d.peftkit).to.deep.equal({ cli: '0.1.0', engine: '0.1.0', api: '0.1.0' });
    expect(d.cpu!.cores).to.be.a('number').above(0);
    expect(d.memory!.totalBytes).to.be.a('number').above(0);
    expect(d.plugins).to.deep.equal({ loaded: 2, contributions: 10, failures: [] });
    expect(d.backend).to.deep.include({
      ok: true,
      runtime: 'toy-runtime 9.9',
      available: ['cpu', 'toy'],
      threads: 3,
    });
    expect(d.backend.gradients).to.deep.include({ ok: false });
  });

  it('doctor reports a backend that fails on its own line, exit 1, still valid JSON', () => {
    const r = peftkit(['doctor', '--json', '--set', 'backend.name=broken-backend']);
    expect(r.code).to.equal(1);
    const d = JSON.parse(r.stdout) as { backend: { ok: boolean; error: string } };
    expect(d.backend).to.deep.include({
      ok: false,
      error: 'plugin fixture-cli-toy (create training-backend broken-backend): runtime library missing',
    });
    const text = peftkit(['doctor', '--set', 'backend.name=onnxrt']);
    expect(text.stdout).to.match(
      /\nbackend +error: .*unknown training-backend "onnxrt" \(registered: broken-backend, toy-backend\)/,
    );
  });

  it('works on the repository plugins: plugins list --json parses, doctor describes ONNX Runtime', () => {
    const list = peftkit(['plugins', 'list', '--json'], { builtins: null, cwd: ROOT });
    const report = JSON.parse(list.stdout) as { plugins: Array<{ name: string }> };
    expect(report.plugins.map((p) => p.name)).to.include('@peftkit/engine');
    const doctor = peftkit(['doctor', '--json'], { builtins: null, cwd: ROOT });
    const d = JSON.parse(doctor.stdout) as {
      backend: {
        ok: boolean;
        runtime?: string;
        available?: string[];
        error?: string;
        gradients?: { ok: boolean; passed: boolean; maxRelError: number; checks: unknown[] };
      };
    };
    expect(d.backend.ok, d.backend.error).to.equal(true);
    expect(d.backend.runtime).to.match(/^onnxruntime-node \d+\.\d+\.\d+/);
    expect(d.backend.available).to.include('cpu');
    // The gradient self-check ran on ONNX Runtime and agreed with finite differences.
    expect(d.backend.gradients!.ok).to.equal(true);
    expect(d.backend.gradients!.checks).to.have.length(4);
    expect(d.backend.gradients!.maxRelError).to.be.lessThan(1e-2);
    expect(doctor.code).to.equal(0);
  });
});
