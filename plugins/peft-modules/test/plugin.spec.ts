/**
 * The plugin entry: its container module contributes exactly the module types package.json
 * declares, each `create` returns the type object, and every type has an options schema.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import {
  CONTRIBUTION,
  type Contribution,
  type ContainerModuleLoadOptions,
  type CreateContext,
} from '@peftkit/api';
import plugin from '../src/plugin.js';
import { builtinModuleTypes, moduleOptionsSchemas } from '../src/index.js';

const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  keywords: string[];
  peftkit: { module: string; contributes: Record<string, string[]> };
};

function contributions(): Contribution[] {
  const out: Contribution[] = [];
  const bind = (id: symbol) => {
    expect(id).to.equal(CONTRIBUTION);
    return { toConstantValue: (c: Contribution) => out.push(c) };
  };
  void plugin.load({ bind } as unknown as ContainerModuleLoadOptions);
  return out;
}

describe('plugin registration', () => {
  it('contributes the peft-module types that package.json declares', () => {
    const cs = contributions();
    expect(cs.every((c) => c.kind === 'peft-module')).to.equal(true);
    expect(cs.map((c) => c.name)).to.deep.equal(manifest.peftkit.contributes['peft-module']);
    expect(Object.keys(manifest.peftkit.contributes)).to.deep.equal(['peft-module']);
    expect(manifest.keywords).to.include('peftkit-plugin');
    expect(manifest.peftkit.module).to.equal('./dist/src/plugin.js');
  });

  it('create() returns the module type; options are per module instance, not per contribution', async () => {
    for (const c of contributions()) {
      expect(c.optionsSchema).to.deep.equal({ type: 'object', properties: {}, additionalProperties: false });
      const t = await c.create({}, {} as CreateContext);
      expect(t).to.equal(builtinModuleTypes[c.name]);
      expect((t as { name: string }).name).to.equal(c.name);
      expect(c.description).to.be.a('string').and.not.equal('');
    }
  });

  it('every type exports an options schema that rejects unknown options', () => {
    expect(Object.keys(moduleOptionsSchemas).sort()).to.deep.equal(Object.keys(builtinModuleTypes).sort());
    for (const s of Object.values(moduleOptionsSchemas)) {
      expect(s.type).to.equal('object');
      expect(s.additionalProperties).to.equal(false);
    }
  });
});
