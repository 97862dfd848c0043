import { API_VERSION, ConfigError, PluginError, type CreateContext } from '@peftkit/api';
import { expect } from 'chai';
import { join } from 'node:path';
import {
  BUILTIN_PLUGIN_PACKAGES,
  BUILTINS_ENV,
  builtinPluginRefs,
  editDistance,
  loadPlugins,
  scanWorkspacePlugins,
  workspaceRoot,
  UnexpectedPluginError,
  type Registry,
} from '../src/index.js';
import { caught, plugin } from './helpers.js';

const silent = { info() {}, warn() {}, debug() {} };
const ctxOf = (r: Registry): CreateContext => r.context({ baseDir: '/base', log: silent });

async function failuresOf(...names: string[]): Promise<{ registry: Registry; failures: PluginError[] }> {
  return loadPlugins({ builtins: [plugin('good'), ...names.map(plugin)] });
}

describe('plugins: loading and registration', () => {
  it('registers the engine reporters and a well-formed plugin, attributing each contribution', async () => {
    const { registry, failures } = await loadPlugins({ builtins: [plugin('good')] });
    expect(failures).to.deep.equal([]);
    expect(registry.plugins().map((p) => [p.name, p.version, p.origin])).to.deep.equal([
      ['@peftkit/engine', '0.1.0', 'engine'],
      ['fixture-good', '1.2.3', 'builtin'],
    ]);
    expect(registry.names('reporter')).to.deep.equal(['jsonl', 'plain', 'quiet', 'tty']);
    expect(registry.list('reporter').every((c) => c.plugin.name === '@peftkit/engine')).to.equal(true);
    expect(registry.get('backbone', 'toy').plugin.name).to.equal('fixture-good');
    expect(registry.list().map((c) => c.kind)).to.deep.equal([
      'backbone',
      'task',
      'peft-module',
      'importance-estimator',
      'search-strategy',
      'search-strategy',
      'training-backend',
      'reporter',
      'reporter',
      'reporter',
      'reporter',
      'executor',
    ]);
  });

  it('reports an unknown name with the registered ones and a suggestion', async () => {
    const { registry } = await loadPlugins({ builtins: [plugin('good')] });
    const e = (await caught(() => registry.get('search-strategy', 'toy-serch'))) as ConfigError;
    expect(e).to.be.instanceOf(ConfigError);
    expect(e.message).to.equal(
      'unknown search-strategy "toy-serch" (registered: explodes, toy-search)\n  hint: did you mean "toy-search"?',
    );
  });

  it('creates components with schema defaults and resolves collaborators through the context', async () => {
    const { registry } = await loadPlugins({ builtins: [plugin('good')] });
    const s = (await registry.create(
      'search-strategy',
      { name: 'toy-search', options: { rounds: 5 } },
      ctxOf(registry),
    )) as unknown as {
      options: Record<string, unknown>;
      importance: { options: Record<string, unknown> };
    };
    expect(s.options).to.deep.equal({
      lr: 0.01,
      rounds: 5,
      importance: { name: 'toy-importance', options: { beta: 0.85 } },
    });
    expect(s.importance).to.deep.equal({ kind: 'toy-importance', options: { beta: 0.85 } });
    const t = (await registry.create('task', { name: 'toy-task' }, ctxOf(registry))) as unknown as {
      baseDir: string;
    };
    expect(t.baseDir).to.equal('/base');
  });

  it('validates options when creating, naming the component, path, value and expectation', async () => {
    const { registry } = await loadPlugins({ builtins: [plugin('good')] });
    const e = (await caught(() =>
      registry.create(
        'search-strategy',
        { name: 'toy-search', options: { lr: -1, extra: true } },
        ctxOf(registry),
      ),
    )) as ConfigError;
    expect(e).to.be.instanceOf(ConfigError);
    expect(e.message).to.match(/search-strategy "toy-search": options\.lr: expected a number > 0, got -1/);
    expect(e.message).to.match(/search-strategy "toy-search": options\.extra: unknown key "extra"/);
    const nested = await caught(() =>
      registry.create(
        'search-strategy',
        { name: 'toy-search', options: { importance: { name: 'toy-importanse' } } },
        ctxOf(registry),
      ),
    );
    expect(nested.message).to.match(
      /options\.importance\.name: unknown importance-estimator "toy-importanse"/,
    );
    expect(nested.message).to.match(/did you mean "toy-importance"/);
  });

  it('loads a plugin built against its own copies of inversify and @peftkit/api', async () => {
    const { registry, failures } = await failuresOf('foreign-inversify');
    expect(failures).to.deep.equal([]);
    expect(registry.get('reporter', 'foreign').plugin.name).to.equal('fixture-foreign-inversify');
    expect(registry.get('backbone', 'toy').plugin.name).to.equal('fixture-good'); // no id clash
    // Its ConfigError (another copy of the class) is still recognised: placed under the options.
    const e = (await caught(() =>
      registry.create('reporter', { name: 'foreign', options: { level: -1 } }, ctxOf(registry), {
        path: ['reporters', 0],
      }),
    )) as ConfigError;
    expect(e).to.be.instanceOf(ConfigError);
    expect(e.message).to.match(/reporters\[0\]\.options\.level: got -1, expected >= 0/);
  });

  it('wraps a plain Error thrown by create as an unexpected error naming plugin and hook', async () => {
    const { registry } = await loadPlugins({ builtins: [plugin('good')] });
    const e = (await caught(() =>
      registry.create('search-strategy', { name: 'explodes' }, ctxOf(registry)),
    )) as UnexpectedPluginError;
    expect(e).to.be.instanceOf(UnexpectedPluginError);
    // A bug, not a problem with the input: still a PluginError naming the plugin and the hook.
    expect(e).to.be.instanceOf(PluginError);
    expect(e.plugin).to.equal('fixture-good');
    expect(e.hook).to.equal('create search-strategy explodes');
    expect(e.message).to.equal('plugin fixture-good (create search-strategy explodes): boom in create');
    expect((e.cause as Error).message).to.equal('boom in create');
  });

  const cases: Array<[string, RegExp[]]> = [
    ['no-manifest', [/^plugin fixture-no-manifest \(manifest\): package\.json has no "peftkit" manifest/]],
    [
      'bad-api',
      [
        /^plugin fixture-bad-api \(manifest\): requires @peftkit\/api \^2\.0\.0, but this peftkit provides API 0\.1\.0/,
      ],
    ],
    [
      'undeclared',
      [
        /^plugin fixture-undeclared \(register\): binds reporter "sneaky", which package\.json does not declare/,
        /^plugin fixture-undeclared \(register\): package\.json declares reporter "declared" .* but the module does not bind it/,
      ],
    ],
    [
      'unknown-kind',
      [
        /^plugin fixture-unknown-kind \(register\): contribution "typo" has unknown extension kind "search-strateg" \(did you mean "search-strategy"\?\)/,
      ],
    ],
    [
      'duplicate',
      [/^plugin fixture-duplicate \(register\): backbone "toy" is already registered by plugin fixture-good/],
    ],
    [
      'bad-name',
      [/^plugin fixture-bad-name \(register\): reporter "Bad_Name": name is not lower-case kebab-case/],
    ],
    [
      'bad-schema',
      [/^plugin fixture-bad-schema \(register\): reporter "odd": optionsSchema is not a valid JSON Schema/],
    ],
    [
      'no-default',
      [/^plugin fixture-no-default \(import\): \.\/plugin\.js must default-export a ContainerModule/],
    ],
    [
      'old-inversify',
      [
        /^plugin fixture-old-inversify \(import\): \.\/plugin\.js default-exports a ContainerModule of an incompatible inversify \(6 or older.*ContainerModule that @peftkit\/api exports/,
      ],
    ],
    [
      'not-built',
      [
        /^plugin fixture-not-built \(import\): module \.\/dist\/src\/plugin\.js \(peftkit\.module\) not found .*is the plugin built\?/,
      ],
    ],
  ];
  for (const [fixture, patterns] of cases) {
    it(`rejects plugin fixture "${fixture}" with a PluginError naming it`, async () => {
      const { registry, failures } = await failuresOf(fixture);
      expect(failures.map((f) => f.message)).to.have.length(patterns.length);
      patterns.forEach((p, i) => expect(failures[i]!.message).to.match(p));
      expect(failures.every((f) => f instanceof PluginError && f.plugin === `fixture-${fixture}`)).to.equal(
        true,
      );
      // Registration is all or nothing: the failed plugin contributed nothing.
      expect(registry.plugins().map((p) => p.name)).to.deep.equal(['@peftkit/engine', 'fixture-good']);
      expect(registry.get('backbone', 'toy').description).to.equal('Toy backbone');
    });
  }

  it('loads a directory named twice only once', async () => {
    const { registry, failures } = await loadPlugins({
      builtins: [plugin('good')],
      extra: [{ ref: './good', dir: plugin('good'), origin: 'config' }],
    });
    expect(failures).to.deep.equal([]);
    expect(registry.plugins()).to.have.length(2);
  });

  it('checks the API version against the manifest range', () => {
    expect(API_VERSION).to.equal('0.1.0');
  });
});

describe('plugins: built-in discovery', () => {
  it('finds the repository plugins by scanning plugins/*/package.json, matching the explicit list', () => {
    const root = workspaceRoot();
    expect(root, 'tests run from the repository').to.be.a('string');
    const scanned = scanWorkspacePlugins(root!);
    expect(scanned.map((p) => p.name).sort()).to.deep.equal([...BUILTIN_PLUGIN_PACKAGES].sort());
    expect(scanned.every((p) => p.dir.startsWith(join(root!, 'plugins')))).to.equal(true);
  });

  it('can be replaced by an option or PEFTKIT_BUILTIN_PLUGINS', () => {
    expect(builtinPluginRefs(undefined, { [BUILTINS_ENV]: '' }).refs).to.deep.equal([]);
    const fromEnv = builtinPluginRefs(undefined, {
      [BUILTINS_ENV]: ` ${plugin('good')} , ${plugin('bad-api')}`,
    });
    expect(fromEnv.refs.map((r) => r.dir)).to.deep.equal([plugin('good'), plugin('bad-api')]);
    const byName = builtinPluginRefs(['@peftkit/plugin-tasks', 'not-a-package-at-all'], {});
    expect(byName.refs.map((r) => r.ref)).to.deep.equal(['@peftkit/plugin-tasks']);
    expect(byName.errors[0]!.message).to.equal(
      'plugin not-a-package-at-all (discover): built-in plugin not found (is it installed?)',
    );
  });

  it('measures edit distance with transpositions', () => {
    expect(editDistance('strategy', 'stratgey')).to.equal(1);
    expect(editDistance('lora', 'lorra')).to.equal(1);
    expect(editDistance('', 'abc')).to.equal(3);
  });
});
