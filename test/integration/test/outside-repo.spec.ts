/**
 * peftkit as an outsider gets it: `npm run pack`'s tarballs installed into an empty directory
 * outside the repository, one plugin of every extension kind scaffolded there by `peftkit plugin
 * new --from <tarballs>`, then built, tested and run with its smoke preset; and the packed CLI's
 * own presets and built-in plugins (not the repository's) running a shortened quickstart.
 *
 * To stay within CI time, the scaffolded packages share one install: the directory is an npm
 * workspace root holding them (one `npm install --prefer-offline` from the npm cache), `tsc -b`
 * builds them all in one process, one mocha process runs all their specs (and one package runs
 * its own `npm run build && npm test`). Each package's `npm run smoke` runs separately.
 */
import { expect } from 'chai';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXTENSION_KINDS } from '@peftkit/api';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const REPO_CLI = join(ROOT, 'core/cli/bin/peftkit.js');

/** The environment of a user's shell: without the npm variables `npm test` sets for the repository. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    const keep = ['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig'].includes(
      k.toLowerCase(),
    );
    if (!k.toLowerCase().startsWith('npm_') || keep) env[k] = v;
  }
  delete env.PEFTKIT_BUILTIN_PLUGINS;
  env.ONNXRUNTIME_NODE_INSTALL = 'skip'; // onnxruntime-node's postinstall would download CUDA libraries
  return env;
}

function run(cmd: string, args: readonly string[], cwd: string, timeout = 300_000): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env: userEnv(), encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} (in ${cwd}) failed with ${r.status ?? r.signal}:\n${r.stdout?.slice(-4000)}\n${r.stderr?.slice(-4000)}`,
    );
  }
  return r;
}

/** The plugin of each kind: `<kind>-example` (names are lower-case kebab-case). */
const KINDS = EXTENSION_KINDS.map((kind) => ({ kind, name: `my-${kind}` }));

describe('peftkit outside the repository (packed tarballs, scaffolded plugins)', function () {
  this.timeout(900_000);
  let tmp: string;
  let ws: string;
  let packs: string;
  let peftkit: string;

  before(() => {
    tmp = realpathSync(mkdtempSync(join(tmpdir(), 'peftkit-outside-')));
    expect(tmp.startsWith(ROOT)).to.equal(false);
    packs = join(tmp, 'packs');
    run(process.execPath, [join(ROOT, 'tools/pack/pack.mjs'), '--out', packs], ROOT);
    ws = join(tmp, 'project');
    mkdirSync(join(ws, 'plugins'), { recursive: true });
    for (const { kind, name } of KINDS) {
      run(
        process.execPath,
        [REPO_CLI, 'plugin', 'new', name, '--kind', kind, '--dir', `plugins/${name}`, '--from', packs],
        ws,
      );
    }
    // One install for all: a workspace root whose overrides send every @peftkit package to its tarball.
    const overrides = JSON.parse(
      readFileSync(join(ws, 'plugins', KINDS[0]!.name, 'package.json'), 'utf8'),
    ).overrides;
    writeFileSync(
      join(ws, 'package.json'),
      JSON.stringify(
        {
          name: 'outside',
          private: true,
          type: 'module',
          workspaces: ['plugins/*'],
          dependencies: { peftkit: overrides.peftkit },
          overrides,
        },
        null,
        2,
      ),
    );
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], ws, 600_000);
    peftkit = join(ws, 'node_modules/peftkit/bin/peftkit.js');
  });

  after(() => {
    if (tmp && !process.env.PEFTKIT_KEEP_OUTSIDE) rmSync(tmp, { recursive: true, force: true });
  });

  it('installs the packed CLI with its presets and built-in plugins from the tarballs, not the repository', () => {
    expect(existsSync(peftkit)).to.equal(true);
    const presets = JSON.parse(
      run(process.execPath, [peftkit, 'presets', 'list', '--json'], ws).stdout,
    ) as Array<{ name: string; file: string }>;
    const quickstart = presets.find((p) => p.name === 'quickstart');
    expect(resolve(ws, quickstart!.file)).to.equal(
      join(ws, 'node_modules/@peftkit/engine/presets/quickstart.yaml'),
    );
    const plugins = JSON.parse(run(process.execPath, [peftkit, 'plugins', 'list', '--json'], ws).stdout) as {
      plugins: Array<{ name: string; dir?: string; origin: string }>;
      failures: unknown[];
    };
    expect(plugins.failures).to.deep.equal([]);
    const builtins = plugins.plugins.filter((p) => p.origin === 'builtin');
    expect(builtins.map((p) => p.name)).to.include.members([
      '@peftkit/plugin-bipeft',
      '@peftkit/plugin-use-lite',
      '@peftkit/plugin-tasks',
    ]);
    for (const p of builtins) expect(p.dir!.startsWith(join(ws, 'node_modules')), p.dir).to.equal(true);
  });

  it('builds every scaffolded plugin and passes its conformance and value tests', () => {
    run(join(ws, 'node_modules/.bin/tsc'), ['-b', ...KINDS.map((k) => `plugins/${k.name}`)], ws);
    const specs = KINDS.flatMap((k) =>
      readdirSync(join(ws, 'plugins', k.name, 'dist/test'))
        .filter((f) => f.endsWith('.spec.js'))
        .map((f) => join('plugins', k.name, 'dist/test', f)),
    );
    expect(specs).to.have.length(2 * KINDS.length);
    const r = run(
      join(ws, 'node_modules/.bin/mocha'),
      ['--timeout', '120000', '--reporter', 'dot', ...specs],
      ws,
    );
    expect(r.stdout).to.match(/\d+ passing/);
    expect(r.stdout).not.to.match(/failing/);
    // One package as its README says, with its own scripts and mocha configuration.
    const one = join(ws, 'plugins', KINDS[0]!.name);
    run('npm', ['run', 'build'], one);
    expect(run('npm', ['test'], one).stdout).to.match(/passing/);
  });

  for (const { kind, name } of KINDS) {
    it(`runs the ${kind} plugin's smoke preset, and loads its full preset`, () => {
      const dir = join(ws, 'plugins', name);
      const r = run('npm', ['run', 'smoke', '--silent', '--', '--json', '--checkpoint-every', '600'], dir);
      const runs = JSON.parse(r.stdout) as Array<{ dir: string }>;
      expect(runs).to.have.length(1);
      const journal = readFileSync(join(runs[0]!.dir, 'journal.jsonl'), 'utf8');
      expect(journal).to.include('"run-end"');
      if (kind === 'reporter')
        expect(r.stderr).to.match(new RegExp(`${name}: \\S+ 1 run-start, .*1 run-end`));
      if (kind === 'training-backend')
        expect(r.stderr).to.match(new RegExp(`${name}: \\d+ programs compiled`));
      if (kind === 'executor') expect(r.stderr).to.match(new RegExp(`${name}: \\d+ jobs in [\\d.]+ s`));
      // The full-size preset (USE-lite + sentiment) resolves: plugin loaded, options validated.
      run(process.execPath, [peftkit, 'presets', 'show', `./presets/${name}.yaml`], dir);
    });
  }

  it('runs the quickstart preset with the packed CLI (shortened with --set) in an empty directory', () => {
    // Shortened for CI: one epoch of at most 4 steps in the search and in the re-training.
    const sets = [
      'recipes.search.epochs=1',
      'recipes.search.maxSteps=4',
      'recipes.retrain.epochs=1',
      'recipes.retrain.maxSteps=4',
      'strategy.options.pruneBeginEpoch=0',
      'strategy.options.scheduler.options.rounds=2',
      'strategy.options.scheduler.options.lastRounds=1',
    ];
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    const r = run(
      process.execPath,
      [peftkit, 'search', '--preset', 'quickstart', ...sets.flatMap((s) => ['--set', s])],
      empty,
    );
    expect(r.stdout).to.match(/bipeft on sentiment \(use-lite\), seed 42/);
    expect(r.stdout).to.match(/test: +accuracy \d/);
  });
});
