/** The plugin module contributes the `use-lite` backbone, as its package.json declares. */
import { readFileSync } from 'node:fs';
import {
  CONTRIBUTION,
  type Contribution,
  type ContainerModuleLoadOptions,
  type CreateContext,
  type PluginManifest,
} from '@peftkit/api';
import { expect } from 'chai';
import plugin from '../src/plugin.js';

function contributions(): Contribution[] {
  const bound: Contribution[] = [];
  const bind = ((id: unknown) => {
    expect(id).to.equal(CONTRIBUTION);
    return { toConstantValue: (c: Contribution) => bound.push(c) };
  }) as unknown as ContainerModuleLoadOptions['bind'];
  void plugin.load({ bind } as ContainerModuleLoadOptions);
  return bound;
}

describe('use-lite plugin', () => {
  it('binds one backbone contribution named use-lite, matching package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      keywords: string[];
      peftkit: PluginManifest;
    };
    expect(pkg.keywords).to.include('peftkit-plugin');
    expect(pkg.peftkit.module).to.equal('./dist/src/plugin.js');
    const cs = contributions();
    expect(cs.map((c) => [c.kind, c.name])).to.deep.equal([['backbone', 'use-lite']]);
    expect(pkg.peftkit.contributes).to.deep.equal({ backbone: ['use-lite'] });
    expect(cs[0]!.optionsSchema).to.deep.include({ type: 'object', additionalProperties: false });
  });

  it('creates the loaded backbone, honouring maxLength', async () => {
    const [c] = contributions();
    const ctx = { baseDir: process.cwd() } as CreateContext;
    const a = (await c!.create({}, ctx)) as import('@peftkit/api').Backbone;
    const b = (await c!.create({ maxLength: 32 }, ctx)) as import('@peftkit/api').Backbone;
    expect(a.info.name).to.equal('use-lite');
    expect([a.info.maxLength, b.info.maxLength]).to.deep.equal([128, 32]);
    // Decoded once per process: both share the frozen tensors.
    expect(a.pretrained('pooler').weight).to.equal(b.pretrained('pooler').weight);
  });
});
