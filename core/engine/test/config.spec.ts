import { ConfigError, PluginError } from '@peftkit/api';
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigErrorList,
  DEFAULT_RECIPE,
  applyOverrides,
  formatPath,
  listPresets,
  loadConfig,
  loadResolvedConfig,
  loadPreset,
  parseOverride,
} from '../src/index.js';
import { caught, FIXTURES, plugin, PRESETS } from './helpers.js';

const lookup = { cwd: FIXTURES, presetDirs: [PRESETS] };
/** Written to a temporary directory by the tests that need it (prettier cannot format it). */
const BROKEN_YAML = 'backbone:\n  name: toy\n task: x\n';
/** No built-in plugins: the presets load the fixture plugin themselves. */
const load = (preset: string | undefined, sets: string[] = []) =>
  loadConfig({ ...lookup, preset, sets, builtins: [] });

/** The ConfigErrors of a failed load, one per problem. */
async function problems(preset: string | undefined, sets: string[] = []): Promise<ConfigError[]> {
  const e = await caught(() => load(preset, sets));
  expect(e, e.message).to.be.instanceOf(ConfigErrorList);
  return [...(e as ConfigErrorList).errors];
}

function find(errors: readonly ConfigError[], path: string): ConfigError {
  const e = errors.find((x) => x.path === path);
  expect(e, `no error at ${path}; got:\n${errors.map((x) => x.message).join('\n')}`).to.not.equal(undefined);
  return e!;
}

describe('presets: extends and overrides', () => {
  it('merges a multi-level extends chain: objects merge, arrays and scalars replace', async () => {
    const { config, source } = await load('grandchild');
    expect(source.files.map((f) => f.slice(PRESETS.length + 1))).to.deep.equal([
      'grandchild.yaml',
      'more/middle.yaml',
      'child.yaml',
      'base.yaml',
    ]);
    expect(config.description).to.equal('child preset');
    expect(config.backbone).to.deep.equal({ name: 'toy', options: { layers: 6 } });
    expect(config.task).to.deep.equal({ name: 'toy-task', options: { file: 'data.tsv' } });
    // rounds from child, lr from base, the collaborator from the schema default (with its defaults).
    expect(config.strategy).to.deep.equal({
      name: 'toy-search',
      options: { lr: 0.05, rounds: 7, importance: { name: 'toy-importance', options: { beta: 0.85 } } },
    });
    expect(config.seeds).to.deep.equal([9]);
    expect(config.budget).to.deep.equal({ ratio: 0.01 });
    expect(config.recipes.search).to.deep.equal({ ...DEFAULT_RECIPE, lr: 0.001, epochs: 5 });
    expect(config.recipes.retrain).to.deep.equal({ ...DEFAULT_RECIPE, batchSize: 8 });
    expect(config.backend).to.deep.equal({ name: 'toy-backend', options: { threads: 1 } });
    expect(config.executor).to.deep.equal({ name: 'local', options: {} });
    expect(config.output).to.deep.equal({ dir: 'runs', name: 'grandchild' });
    expect(config.plugins).to.deep.equal([plugin('good')]);
  });

  it("reloads a resolved configuration (a run's config.json) to the same value", async () => {
    const { config } = await load('grandchild');
    const dir = mkdtempSync(join(tmpdir(), 'peftkit-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config, null, 2));
    const again = await loadResolvedConfig(file, { cwd: dir, builtins: [] });
    expect(again.config).to.deep.equal(config);
    writeFileSync(file, JSON.stringify({ ...config, seeds: ['x'] }, null, 2));
    const e = await caught(() => loadResolvedConfig(file, { cwd: dir, builtins: [] }));
    rmSync(dir, { recursive: true, force: true });
    expect(e.message).to.match(/^config\.json:\d+: seeds\[0\]: expected an integer, got "x"/);
  });

  it('documents the recipe defaults it fills in', () => {
    expect(DEFAULT_RECIPE).to.deep.equal({
      epochs: 3,
      batchSize: 32,
      optimizer: 'adamw',
      lr: 3e-4,
      weightDecay: 1e-4,
      betas: [0.9, 0.999],
      eps: 1e-8,
      momentum: 0,
      schedule: 'linear',
      warmupRatio: 0,
      clipNorm: 2.0,
      evalEvery: 1,
      dropout: 0,
    });
  });

  it('records where each value was written, through extends', () => {
    const src = loadPreset('grandchild', lookup);
    const at = (p: (string | number)[]) => {
      const o = src.origins.get(p)!;
      return `${o.file.split('/').pop()}:${o.line}`;
    };
    expect(at(['backbone', 'options', 'layers'])).to.equal('middle.yaml:4');
    expect(at(['strategy', 'options', 'rounds'])).to.equal('child.yaml:5');
    expect(at(['strategy', 'options', 'lr'])).to.equal('base.yaml:16');
    expect(at(['seeds', 0])).to.equal('child.yaml:6');
    expect(at(['budget', 'ratio'])).to.equal('grandchild.yaml:3');
  });

  it('finds a preset given as a path without its extension', async () => {
    const { source } = await load(join(PRESETS, 'more', 'middle'));
    expect(source.files[0]).to.equal(join(PRESETS, 'more', 'middle.yaml'));
  });

  it('parses --set values as YAML scalars and flow collections', async () => {
    const { config, origins } = await load('child', [
      'strategy.options.lr=1e-3',
      'seeds=[1,2,3]',
      'budget.ratio=0.001',
      'description=hello world',
      'strategy.options.rounds=4',
      'recipes.search.clipNorm=null',
      'seeds[1]=5',
    ]);
    expect(config.strategy!.options!.lr).to.equal(0.001);
    expect(config.strategy!.options!.rounds).to.equal(4);
    expect(config.seeds).to.deep.equal([1, 5, 3]);
    expect(config.budget).to.deep.equal({ ratio: 0.001 });
    expect(config.description).to.equal('hello world');
    expect(config.recipes.search.clipNorm).to.equal(null);
    expect(origins.get(['strategy', 'options', 'lr'])!.file).to.equal('command line');
    expect(origins.get(['strategy', 'options'])!.file).to.not.equal('command line');
  });

  it('rejects malformed --set arguments', async () => {
    expect(() => parseOverride('strategy.options.lr')).to.throw(ConfigError, /expects path\.to\.field=value/);
    expect(() => parseOverride('a..b=1')).to.throw(ConfigError, /malformed segment/);
    expect(() => parseOverride('extends=base')).to.throw(ConfigError, /extends cannot be set/);
    const src = loadPreset('base', lookup);
    expect(() => applyOverrides(src, ['seeds.x=1'])).to.throw(ConfigError, /list of 3 items/);
    expect(() => applyOverrides(src, ['description.x=1'])).to.throw(
      ConfigError,
      /description is "base preset", not a mapping/,
    );
  });

  it('names the command line for a bad --set value, with path, value and expectation', async () => {
    const [e] = await problems('child', ['strategy.options.lr=abc']);
    expect(e!.message).to.equal('command line: strategy.options.lr: expected a number, got "abc"');
  });

  it('lists presets by file stem, reporting unreadable ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'peftkit-presets-'));
    writeFileSync(join(dir, 'broken.yaml'), BROKEN_YAML);
    const list = listPresets({ cwd: FIXTURES, presetDirs: [PRESETS, dir] });
    rmSync(dir, { recursive: true, force: true });
    expect(list.map((p) => p.name)).to.include.members(['base', 'child', 'grandchild', 'cycle-a', 'broken']);
    expect(list.find((p) => p.name === 'child')).to.include({ extends: 'base', description: 'child preset' });
    expect(list.find((p) => p.name === 'broken')!.error).to.match(/invalid YAML/);
  });
});

describe('presets: errors name the file, the path, the value and the expectation', () => {
  it('collects every problem: bad types, unknown keys (top level and plugin options), enums, nested components', async () => {
    const errors = await problems('bad-values');
    expect(errors).to.have.length(5);
    const file = join('presets', 'bad-values.yaml');
    const lr = find(errors, 'strategy.options.lr');
    expect(lr.message).to.equal(`${file}:4: strategy.options.lr: expected a number, got "fast"`);
    const lrr = find(errors, 'strategy.options.lrr');
    expect(lrr.message).to.match(
      /bad-values\.yaml:5: strategy\.options\.lrr: unknown key "lrr" \(expected one of: lr, rounds, importance\)/,
    );
    expect(lrr.hint).to.equal('did you mean "lr"?');
    const beta = find(errors, 'strategy.options.importance.options.beta');
    expect(beta.message).to.equal(
      `${file}:9: strategy.options.importance.options.beta: expected a number <= 1, got 2`,
    );
    const bogus = find(errors, 'bogus');
    expect(bogus.message).to.match(
      /bad-values\.yaml:10: bogus: unknown key "bogus" \(expected one of: description, plugins, backbone/,
    );
    const opt = find(errors, 'recipes.search.optimizer');
    expect(opt.message).to.match(
      /bad-values\.yaml:13: recipes\.search\.optimizer: expected one of "adamw", "adam", "sgd", got "adamw2"/,
    );
    expect(opt.hint).to.match(/^did you mean "adamw"/);
    expect(errors.every((e) => e instanceof ConfigError)).to.equal(true);
  });

  it('suggests registered names for unknown components', async () => {
    const errors = await problems('unknown-names');
    const bb = find(errors, 'backbone.name');
    expect(bb.message).to.match(
      /unknown-names\.yaml:3: backbone\.name: unknown backbone "toyy" \(registered: toy\)/,
    );
    expect(bb.hint).to.equal('did you mean "toy"?');
    const st = find(errors, 'strategy.name');
    expect(st.message).to.match(/unknown search-strategy "toy-serch" \(registered: explodes, toy-search\)/);
    expect(st.hint).to.equal('did you mean "toy-search"?');
  });

  it('reports plugin packages and directories that cannot be found', async () => {
    const errors = await problems('missing-plugin');
    expect(errors).to.have.length(3);
    const pkg = find(errors, 'plugins[1]');
    expect(pkg.message).to.match(
      /missing-plugin\.yaml:4: plugins\[1\]: plugin package "fixture-godo" is not installed \(expected an npm package/,
    );
    const dir = find(errors, 'plugins[2]');
    expect(dir.message).to.match(
      /missing-plugin\.yaml:5: plugins\[2\]: plugin directory "\.\/no-such-dir" not found \(expected a directory with a package\.json/,
    );
    const typo = find(errors, 'plugins[3]');
    expect(typo.message).to.match(/plugin directory "\.\.\/plugins\/godo" not found/);
    expect(typo.hint).to.equal('similar installed plugins: "../plugins/good"');
  });

  it('reports unknown presets in extends with a suggestion, and extends cycles', async () => {
    const e = (await caught(() => load('bad-extends'))) as ConfigError;
    expect(e).to.be.instanceOf(ConfigError);
    expect(e.message).to.match(/bad-extends\.yaml:1: extends: unknown preset "chil"/);
    expect(e.hint).to.match(/did you mean "child"/);
    const c = await caught(() => load('cycle-a'));
    expect(c.message).to.match(
      /extends cycle: presets\/cycle-a\.yaml → presets\/cycle-b\.yaml → presets\/cycle-a\.yaml/,
    );
    const top = (await caught(() => load('quikstart'))) as ConfigError;
    expect(top.message).to.match(/^command line: unknown preset "quikstart"/);
  });

  it('reports YAML syntax errors with the line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peftkit-presets-'));
    writeFileSync(join(dir, 'broken.yaml'), BROKEN_YAML);
    const e = await caught(() => loadConfig({ cwd: dir, presetDirs: [dir], preset: 'broken', builtins: [] }));
    rmSync(dir, { recursive: true, force: true });
    expect(e).to.be.instanceOf(ConfigError);
    expect(e.message).to.match(
      /^broken\.yaml:3: invalid YAML: All mapping items must start at the same column/,
    );
  });

  it('reads an architecture file and reports its problems in that file', async () => {
    const { config } = await load('with-arch');
    expect(config.architecture!.modules.map((m) => `${m.type}@${m.point}:${m.rank}`)).to.deep.equal([
      'lora@layer.0.attn.q:4',
      'lora@layer.1.attn.v:2',
    ]);
    const errors = await problems('bad-arch');
    const rank = find(errors, 'architecture.modules[0].rank');
    expect(rank.message).to.equal(
      'archs/bad.json: architecture.modules[0].rank: expected a number >= 1, got 0',
    );
    const type = find(errors, 'architecture.modules[0].type');
    expect(type.message).to.match(/archs\/bad\.json: .*unknown peft-module "lorra"/);
    expect(type.hint).to.equal('did you mean "lora"?');
  });

  it('reports missing required fields of a configuration given on the command line alone', async () => {
    const e = await caught(() =>
      loadConfig({ ...lookup, sets: ['backbone.name=toy'], builtins: [plugin('good')] }),
    );
    const errors = (e as ConfigErrorList).errors;
    expect(errors.map((x) => x.message)).to.include.members([
      'command line: task: missing required key "task" (task: {name, options})',
      'defaults: backend.name: unknown training-backend "onnxruntime" (registered: toy-backend)',
    ]);
  });

  it('rejects a budget with both params and ratio', async () => {
    const errors = await problems('child', ['budget={params: 100, ratio: 0.1}']);
    expect(find(errors, 'budget').message).to.match(
      /^command line: budget: expected at most 1 keys: exactly one of params .* or ratio .*, got \{"params":100,"ratio":0.1\}/,
    );
  });

  it('fails on plugin problems before validating', async () => {
    const e = await caught(() => loadConfig({ ...lookup, preset: 'child', builtins: [plugin('bad-api')] }));
    expect(e).to.be.instanceOf(PluginError);
  });

  it('formats paths readably', () => {
    expect(formatPath(['strategy', 'options', 'lr'])).to.equal('strategy.options.lr');
    expect(formatPath(['seeds', 1])).to.equal('seeds[1]');
    expect(formatPath(['options', 'lora@layer.0'])).to.equal('options["lora@layer.0"]');
  });
});
