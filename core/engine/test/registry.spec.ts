/**
 * What Registry.create makes of the errors a component's create throws: ConfigErrors about an
 * option are placed at `<path>.options.<option>` with the preset file and line; errors naming their
 * own file pass unchanged; anything that is not a PeftkitError stays an unexpected error.
 */
import {
  ConfigError,
  DataError,
  PeftkitError,
  PluginError,
  type Contribution,
  type CreateContext,
} from '@peftkit/api';
import { expect } from 'chai';
import { ConfigErrorList, Registry, UnexpectedPluginError, parseYamlWithOrigins } from '../src/index.js';
import { bareMessage, parsePath } from '../src/config/relocate.js';
import { caught } from './helpers.js';

class OtherError extends PeftkitError {
  override name = 'OtherError';
}

const BACKBONES: Record<string, () => never> = {
  'too-long': () => {
    throw new ConfigError('expected an integer in [3, 512], found 1024', undefined, 'maxLength', 'use 512');
  },
  'prefixed-path': () => {
    throw new ConfigError('expected a probability, found 2', undefined, 'options.dropout');
  },
  'free-path': () => {
    throw new ConfigError('unknown option', undefined, 'backbone toy: options.x');
  },
  'no-path': () => {
    throw new ConfigError('the checkpoint is incomplete');
  },
  'own-file': () => {
    throw new ConfigError('unsupported model_type "gpt2"', 'ckpt/config.json', 'model_type');
  },
  list: () => {
    throw new ConfigErrorList([
      new ConfigError('expected an integer, found 1.5', undefined, 'layers[1].width'),
      new ConfigError('bad weights', 'ckpt/model.safetensors'),
    ]);
  },
  data: () => {
    throw new DataError('weight "w" is missing', 'ckpt/model.safetensors');
  },
  other: () => {
    throw new OtherError('the runtime refused the model');
  },
  crash: () => {
    throw new TypeError("Cannot read properties of undefined (reading 'hidden')");
  },
  'throws-string': () => {
    throw 'a string';
  },
};

function registry(): Registry {
  const r = new Registry();
  const schema = {
    type: 'object',
    additionalProperties: false,
    properties: { maxLength: { type: 'integer' }, dropout: { type: 'number' } },
  };
  const contributions: Contribution[] = Object.entries(BACKBONES).map(
    ([name, create]) =>
      ({
        kind: 'backbone',
        name,
        description: 'test backbone',
        optionsSchema: schema,
        create,
      }) as Contribution,
  );
  const errors = r.register(
    {
      name: 'fixture-throws',
      version: '0.0.0',
      origin: 'builtin',
      manifest: { apiVersion: '^0.1.0', module: 'x.js', contributes: { backbone: Object.keys(BACKBONES) } },
    },
    contributions,
  );
  expect(errors.map((e) => e.message)).to.deep.equal([]);
  return r;
}

const silent = { info() {}, warn() {}, debug() {} };
const ctxOf = (r: Registry): CreateContext => r.context({ baseDir: '/base', log: silent });

/** Origins of a small preset: `backbone` on line 2, its maxLength on line 5, compare tasks below. */
const PRESET = parseYamlWithOrigins(
  [
    '# a preset', // 1
    'backbone:', // 2
    '  name: too-long', // 3
    '  options:', // 4
    '    maxLength: 1024', // 5
    'compare:', // 6
    '  tasks:', // 7
    '    - name: a', // 8
    '    - name: too-long', // 9
    '      options: { maxLength: 1024 }', // 10
  ].join('\n'),
  'presets/long.yaml',
  '/presets',
).origins;

describe('registry: errors thrown by a component create', () => {
  it('places a ConfigError about an option at <path>.options.<option>, naming the file and line', async () => {
    const r = registry();
    const e = (await caught(() =>
      r.create('backbone', { name: 'too-long', options: { maxLength: 1024 } }, ctxOf(r), {
        path: ['backbone'],
        origins: PRESET,
      }),
    )) as ConfigError;
    expect(e).to.be.instanceOf(ConfigError);
    expect(e).to.not.be.instanceOf(PluginError);
    expect(e.file).to.equal('presets/long.yaml:5');
    expect(e.path).to.equal('backbone.options.maxLength');
    expect(e.hint).to.equal('use 512');
    expect(e.message).to.equal(
      'presets/long.yaml:5: backbone.options.maxLength: expected an integer in [3, 512], found 1024\n  hint: use 512',
    );
    expect((e.cause as ConfigError).path).to.equal('maxLength');
  });

  it('uses any path the caller gives (a compare task), falling back to the closest recorded origin', async () => {
    const r = registry();
    const e = (await caught(() =>
      r.create('backbone', { name: 'too-long', options: { maxLength: 1024 } }, ctxOf(r), {
        path: ['compare', 'tasks', 1],
        origins: PRESET,
      }),
    )) as ConfigError;
    expect(e.message).to.match(
      /^presets\/long\.yaml:10: compare\.tasks\[1\]\.options\.maxLength: expected an integer/,
    );
    // An option the preset does not write: the line of its component.
    const d = (await caught(() =>
      r.create('backbone', { name: 'prefixed-path' }, ctxOf(r), { path: ['backbone'], origins: PRESET }),
    )) as ConfigError;
    expect(d.message).to.equal(
      'presets/long.yaml:4: backbone.options.dropout: expected a probability, found 2',
    );
  });

  it('without a location, names the component (as option validation does)', async () => {
    const r = registry();
    const e = await caught(() =>
      r.create('backbone', { name: 'too-long', options: { maxLength: 1024 } }, ctxOf(r)),
    );
    expect(e).to.be.instanceOf(ConfigError);
    expect(e.message).to.equal(
      'backbone "too-long": options.maxLength: expected an integer in [3, 512], found 1024\n  hint: use 512',
    );
    const where = await caught(() =>
      r.create('backbone', { name: 'too-long' }, ctxOf(r), { path: ['backbone'], where: 'command line' }),
    );
    expect(where.message).to.match(/^command line: backbone\.options\.maxLength: /);
  });

  it('keeps free-form and missing paths readable', async () => {
    const r = registry();
    const loc = { path: ['backbone'], origins: PRESET };
    const free = await caught(() => r.create('backbone', { name: 'free-path' }, ctxOf(r), loc));
    expect(free.message).to.equal(
      'presets/long.yaml:4: backbone.options: backbone toy: options.x: unknown option',
    );
    const none = await caught(() => r.create('backbone', { name: 'no-path' }, ctxOf(r), loc));
    expect(none.message).to.equal('presets/long.yaml:4: backbone.options: the checkpoint is incomplete');
  });

  it('reports invalid options at the location too', async () => {
    const r = registry();
    const e = (await caught(() =>
      r.create('backbone', { name: 'too-long', options: { maxLength: 'long' } }, ctxOf(r), {
        path: ['backbone'],
        origins: PRESET,
      }),
    )) as ConfigErrorList;
    expect(e).to.be.instanceOf(ConfigErrorList);
    expect(e.message).to.equal(
      'presets/long.yaml:5: backbone.options.maxLength: expected an integer, got "long"',
    );
  });

  it('passes errors that name their own file unchanged; relocates each error of a list', async () => {
    const r = registry();
    const loc = { path: ['backbone'], origins: PRESET };
    const own = await caught(() => r.create('backbone', { name: 'own-file' }, ctxOf(r), loc));
    expect(own).to.be.instanceOf(ConfigError);
    expect(own.message).to.equal('ckpt/config.json: model_type: unsupported model_type "gpt2"');
    const data = await caught(() => r.create('backbone', { name: 'data' }, ctxOf(r), loc));
    expect(data).to.be.instanceOf(DataError);
    expect(data.message).to.equal('ckpt/model.safetensors: weight "w" is missing');
    const list = (await caught(() =>
      r.create('backbone', { name: 'list' }, ctxOf(r), loc),
    )) as ConfigErrorList;
    expect(list).to.be.instanceOf(ConfigErrorList);
    expect(list.errors.map((x) => x.message)).to.deep.equal([
      'presets/long.yaml:4: backbone.options.layers[1].width: expected an integer, found 1.5',
      'ckpt/model.safetensors: bad weights',
    ]);
  });

  it('wraps other PeftkitErrors in a PluginError naming the plugin, hook and location', async () => {
    const r = registry();
    const e = (await caught(() =>
      r.create('backbone', { name: 'other' }, ctxOf(r), { path: ['backbone'], origins: PRESET }),
    )) as PluginError;
    expect(e).to.be.instanceOf(PluginError);
    expect(e.message).to.equal(
      'plugin fixture-throws (create backbone other): the runtime refused the model (presets/long.yaml:2: backbone)',
    );
    expect(e.cause).to.be.instanceOf(OtherError);
  });

  it('leaves a TypeError (or anything not a PeftkitError) unexpected, naming the plugin, with the original as cause', async () => {
    const r = registry();
    const e = (await caught(() =>
      r.create('backbone', { name: 'crash' }, ctxOf(r), { path: ['backbone'], origins: PRESET }),
    )) as UnexpectedPluginError;
    expect(e).to.be.instanceOf(UnexpectedPluginError);
    // A bug, not a problem with the input: still a PluginError naming the plugin and the hook.
    expect(e).to.be.instanceOf(PluginError);
    expect(e.plugin).to.equal('fixture-throws');
    expect(e.hook).to.equal('create backbone crash');
    expect(e.message).to.equal(
      "plugin fixture-throws (create backbone crash): Cannot read properties of undefined (reading 'hidden')",
    );
    expect(e.cause).to.be.instanceOf(TypeError);
    const s = await caught(() => r.create('backbone', { name: 'throws-string' }, ctxOf(r)));
    expect(s).to.be.instanceOf(UnexpectedPluginError);
    expect(s.message).to.equal('plugin fixture-throws (create backbone throws-string): a string');
  });
});

describe('registry: error relocation helpers', () => {
  it('parses the paths formatPath writes, and nothing else', () => {
    expect(parsePath('maxLength')).to.deep.equal(['maxLength']);
    expect(parsePath('layers[2].width')).to.deep.equal(['layers', 2, 'width']);
    expect(parsePath('options["lora@layer.0.attn.q"].alpha')).to.deep.equal([
      'options',
      'lora@layer.0.attn.q',
      'alpha',
    ]);
    expect(parsePath('backbone toy: options.x')).to.equal(undefined);
    expect(parsePath('a..b')).to.equal(undefined);
    expect(parsePath('')).to.equal(undefined);
  });

  it('recovers the message a ConfigError was given', () => {
    expect(bareMessage(new ConfigError('bad', 'f.yaml:3', 'a.b', 'try c'))).to.equal('bad');
    expect(bareMessage(new ConfigError('bad: really'))).to.equal('bad: really');
  });
});
