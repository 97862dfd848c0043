/**
 * Per-instance module options: every type declares a complete, closed options schema (what the
 * engine validates presets against), and the module code checks the same rules again, naming the
 * option, so a program built without the engine cannot silently use a misspelled or invalid one.
 */
import { ConfigError, type AttachmentPoint, type JsonSchema } from '@peftkit/api';
import { expect } from 'chai';
import { builtinModuleTypes, lora, moduleOptionsSchemas } from '../src/index.js';
import { toolkit } from './harness.js';

/** Every object node of a schema, with its path. */
function objectNodes(s: JsonSchema, path = '(root)'): Array<[string, JsonSchema]> {
  const out: Array<[string, JsonSchema]> = [];
  if (s.type === 'object') out.push([path, s]);
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  for (const [k, v] of Object.entries(props)) out.push(...objectNodes(v, `${path}.${k}`));
  return out;
}

function thrown(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return e as ConfigError;
  }
  expect.fail('expected a ConfigError');
}

const point = { name: 'layer.0.attn.q', kind: 'linear', inFeatures: 2, outFeatures: 3 } as AttachmentPoint;

describe('module options', () => {
  it('every type declares its options schema, closed at every level and typed', () => {
    for (const [name, type] of Object.entries(builtinModuleTypes)) {
      expect(type.optionsSchema, name).to.equal(moduleOptionsSchemas[name]);
      for (const [path, node] of objectNodes(type.optionsSchema!)) {
        expect(node.additionalProperties, `${name} ${path}`).to.equal(false);
        for (const [k, p] of Object.entries((node.properties ?? {}) as Record<string, JsonSchema>)) {
          expect(p.type, `${name} ${path}.${k} has a type`).to.be.a('string');
          expect(p.description, `${name} ${path}.${k} is described`).to.be.a('string');
        }
      }
    }
    expect(moduleOptionsSchemas.lora!.properties).to.deep.include({
      alpha: {
        type: 'number',
        exclusiveMinimum: 0,
        description: 'scaling numerator: the update is scaled by alpha / rank (default: the rank, scaling 1)',
      },
    });
  });

  it('LoRA rejects a misspelled option, a non-number alpha and alpha <= 0, naming the option', () => {
    const frozen = { dtype: 'float32' as const, shape: [2, 3], data: new Float32Array(6) };
    const params = { A: new Float32Array(4), B: new Float32Array(6) };
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ alpah: 16 }, 'lora module options', /unknown option "alpah"; lora takes alpha/],
      [{ alpha: '16' }, 'lora module options.alpha', /got "16", expected a number > 0/],
      [{ alpha: 0 }, 'lora module options.alpha', /got 0, expected a number > 0/],
      [{ alpha: -2 }, 'lora module options.alpha', /got -2, expected a number > 0/],
      [{ alpha: null }, 'lora module options.alpha', /got null, expected a number > 0/],
    ];
    for (const [options, path, message] of cases) {
      for (const f of [
        () => lora.params(point, 2, options),
        () => lora.merge!(point, 2, options, params, 'weight', frozen),
        () => toolkit.count('lora', 'layer.0.attn.q', 2, options),
      ]) {
        const e = thrown(f);
        expect(e.path, JSON.stringify(options)).to.equal(path);
        expect(e.message).to.match(message);
      }
    }
  });

  it('LoRA scales the update by alpha / rank (default: the rank)', () => {
    const frozen = { dtype: 'float32' as const, shape: [2, 3], data: new Float32Array(6) };
    // A = [[1, 0], [0, 1]] (in 2 x r 2), B = [[1, 2, 3], [4, 5, 6]] (r 2 x out 3): A·B = B.
    const params = { A: Float32Array.from([1, 0, 0, 1]), B: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    const merged = (options: Record<string, unknown>) =>
      Array.from(lora.merge!(point, 2, options, params, 'weight', frozen)!.data as Float32Array);
    expect(merged({})).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(merged({ alpha: 4 })).to.deep.equal([2, 4, 6, 8, 10, 12]);
    expect(merged({ alpha: 1 })).to.deep.equal([0.5, 1, 1.5, 2, 2.5, 3]);
  });

  it('the other types check their options at run time too', () => {
    const sublayer = toolkit.point('layer.0.ffn.sublayer');
    const bad = thrown(() => builtinModuleTypes.adapter!.params(sublayer, 4, { activation: 'swish' }));
    expect(bad.path).to.equal('adapter module options.activation');
    expect(bad.message).to.match(/got "swish", expected relu \| gelu \| gelu_tanh/);
    const extra = thrown(() => builtinModuleTypes.bitfit!.params(point, null, { alpha: 1 }));
    expect(extra.message).to.match(/unknown option "alpha"; bitfit takes no options/);
    const rf = thrown(() =>
      builtinModuleTypes['lowrank-adapter']!.params(sublayer, 2, { reductionFactor: 0 }),
    );
    expect(rf.path).to.equal('lowrank-adapter module options.reductionFactor');
  });
});
