/**
 * Validation of an architecture's module options (`architecture.modules[i].options`,
 * `architecture.targets[i].options`, inline or in an architecture file) against the registered
 * PEFT module type's options schema, with the repository's module types.
 */
import { ConfigError, type Contribution } from '@peftkit/api';
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigErrorList, loadPlugins, loadPreset, validateConfig, type Registry } from '../src/index.js';
import { caught } from './helpers.js';

/** The repository's module types, plus a toy backbone, task and backend to complete a preset. */
async function registryWithModules(): Promise<Registry> {
  const { registry, failures } = await loadPlugins({ builtins: ['@peftkit/plugin-peft-modules'] });
  expect(failures.map((f) => f.message)).to.deep.equal([]);
  const open = { type: 'object' };
  const toy = (kind: Contribution['kind'], name: string): Contribution =>
    ({
      kind,
      name,
      description: `toy ${kind}`,
      optionsSchema: open,
      create: () => ({}),
    }) as unknown as Contribution;
  const errors = registry.register(
    {
      name: 'toys',
      version: '0.0.0',
      origin: 'builtin',
      manifest: {
        apiVersion: '^0.1.0',
        module: 'toys.js',
        contributes: { backbone: ['toy'], task: ['toy-task'], 'training-backend': ['toy-backend'] },
      },
    },
    [toy('backbone', 'toy'), toy('task', 'toy-task'), toy('training-backend', 'toy-backend')],
  );
  expect(errors.map((e) => e.message)).to.deep.equal([]);
  return registry;
}

const HEAD = ['backbone: { name: toy }', 'task: { name: toy-task }', 'backend: { name: toy-backend }'];

describe('config validation: PEFT module options', () => {
  let registry: Registry;
  let dir: string;
  before(async () => {
    registry = await registryWithModules();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'peftkit-validate-'));
    mkdirSync(join(dir, 'presets'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Write presets/<name>.yaml (lines joined) and validate it. */
  const validate = (name: string, lines: string[]) => {
    writeFileSync(join(dir, 'presets', `${name}.yaml`), `${lines.join('\n')}\n`);
    return validateConfig(loadPreset(join(dir, 'presets', `${name}.yaml`), { cwd: dir }), registry);
  };
  const errorsOf = async (name: string, lines: string[]): Promise<ConfigError[]> => {
    const e = await caught(() => validate(name, lines));
    expect(e, e.message).to.be.instanceOf(ConfigErrorList);
    return [...(e as ConfigErrorList).errors];
  };
  const at = (errors: readonly ConfigError[], path: string): ConfigError => {
    const e = errors.find((x) => x.path === path);
    expect(e, `no error at ${path}; got:\n${errors.map((x) => x.message).join('\n')}`).to.not.equal(
      undefined,
    );
    return e!;
  };

  it('every repository module type declares an options schema the engine compiles', () => {
    const names = registry.names('peft-module');
    expect(names).to.include.members(['lora', 'adapter', 'prefix', 'lowrank-adapter', 'bitfit']);
    for (const n of names) expect(registry.moduleOptionsValidator(n), n).to.be.a('function');
    expect(registry.moduleOptionsValidator('no-such-type')).to.equal(undefined);
  });

  it('reports typos, wrong types, out-of-range values and bad enums with file:line, path, value and expectation', async () => {
    const file = join('presets', 'bad-options.yaml');
    const errors = await errorsOf('bad-options', [
      ...HEAD, // lines 1-3
      'architecture:', // 4
      '  modules:', // 5
      '    - type: lora', // 6
      '      point: layer.0.attn.q', // 7
      '      rank: 4', // 8
      '      options:', // 9
      '        alpah: 16', // 10
      '    - type: lora', // 11
      '      point: layer.0.attn.v', // 12
      '      rank: 4', // 13
      "      options: { alpha: '16' }", // 14
      '    - type: lora', // 15
      '      point: layer.1.attn.q', // 16
      '      rank: 4', // 17
      '      options:', // 18
      '        alpha: 0', // 19
      '  targets:', // 20
      '    - type: adapter', // 21
      "      targets: 'layer.*.ffn.sublayer'", // 22
      '      rank: 8', // 23
      '      options:', // 24
      '        activation: swish', // 25
    ]);
    expect(errors).to.have.length(4);
    const typo = at(errors, 'architecture.modules[0].options.alpah');
    expect(typo.message).to.equal(
      `${file}:10: architecture.modules[0].options.alpah: unknown key "alpah" (expected one of: alpha)\n` +
        '  hint: did you mean "alpha"?',
    );
    expect(at(errors, 'architecture.modules[1].options.alpha').message).to.equal(
      `${file}:14: architecture.modules[1].options.alpha: expected a number, got "16"`,
    );
    expect(at(errors, 'architecture.modules[2].options.alpha').message).to.equal(
      `${file}:19: architecture.modules[2].options.alpha: expected a number > 0, got 0`,
    );
    expect(at(errors, 'architecture.targets[0].options.activation').message).to.equal(
      `${file}:25: architecture.targets[0].options.activation: expected one of "relu", "gelu", "gelu_tanh", got "swish"`,
    );
  });

  it('checks the options in an architecture file, naming that file', async () => {
    writeFileSync(
      join(dir, 'arch.json'),
      JSON.stringify({
        modules: [
          { type: 'adapter', point: 'layer.0.ffn.sublayer', rank: 8, options: { activation: 'tanh' } },
          { type: 'bitfit', point: 'layer.0.attn.q', rank: null, options: { alpha: 1 } },
          { type: 'prefix', point: 'layer.0.attn.scores', rank: 4, options: { reparam: {} } },
        ],
      }),
    );
    const errors = await errorsOf('arch-file', [...HEAD, 'architecture: ../arch.json']);
    expect(errors.map((e) => e.message)).to.deep.equal([
      'arch.json: architecture.modules[0].options.activation: expected one of "relu", "gelu", "gelu_tanh", got "tanh"\n' +
        '  hint: did you mean "gelu_tanh"?',
      'arch.json: architecture.modules[1].options.alpha: unknown key "alpha" (no keys are accepted here)',
      'arch.json: architecture.modules[2].options.reparam.hidden: missing required key "hidden" (hidden width of the re-parameterisation MLP)',
    ]);
  });

  it('accepts valid options and leaves them as written (no schema defaults filled in)', () => {
    const config = validate('good-options', [
      ...HEAD,
      'architecture:',
      '  modules:',
      '    - { type: lora, point: layer.0.attn.q, rank: 4, options: { alpha: 16 } }',
      '    - { type: lora, point: layer.0.attn.v, rank: 4 }',
      '    - { type: lowrank-adapter, point: layer.0.ffn.sublayer, rank: 2, options: { reductionFactor: 32, init: glorot } }',
      '    - { type: prefix, point: layer.0.attn.scores, rank: 4, options: { style: concat, reparam: { hidden: 16 } } }',
      '  targets:',
      "    - { type: parallel-adapter, targets: 'layer.*.ffn.sublayer', rank: 8, options: { activation: gelu } }",
      "    - { type: bitfit, targets: 'layer.*.attn.q' }",
    ]);
    const a = config.architecture! as typeof config.architecture & { targets: Array<{ options?: object }> };
    expect(a.modules.map((m) => m.options)).to.deep.equal([
      { alpha: 16 },
      undefined,
      { reductionFactor: 32, init: 'glorot' },
      { style: 'concat', reparam: { hidden: 16 } },
    ]);
    expect(a.targets.map((t) => t.options)).to.deep.equal([{ activation: 'gelu' }, undefined]);
  });

  it('reports an unknown module type once, without checking its options', async () => {
    const errors = await errorsOf('unknown-type', [
      ...HEAD,
      'architecture:',
      '  modules:',
      '    - { type: lorra, point: layer.0.attn.q, rank: 4, options: { alpah: 1 } }',
    ]);
    expect(errors.map((e) => e.path)).to.deep.equal(['architecture.modules[0].type']);
    expect(errors[0]!.hint).to.equal('did you mean "lora"?');
  });

  it('refuses recipe dropout when the configuration is validated, naming the file and the phase', async () => {
    const errors = await errorsOf('dropout', [
      ...HEAD,
      'recipes:',
      '  search: { epochs: 2 }',
      '  retrain: { epochs: 2, dropout: 0.1 }',
    ]);
    const e = at(errors, 'recipes.retrain.dropout');
    expect(e.message).to.match(
      /presets\/dropout\.yaml:6: recipes\.retrain\.dropout: dropout 0\.1 is not supported yet \(expected 0\)/,
    );
    expect(errors.map((x) => x.path)).to.deep.equal(['recipes.retrain.dropout']);
  });
});
