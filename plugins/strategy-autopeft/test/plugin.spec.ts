/**
 * The plugin entry, loaded by the engine's real plugin loader: it registers exactly what
 * package.json declares, its option schemas validate (unknown options are errors), and `create`
 * builds the strategy and the space.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import type { SearchSpace } from '@peftkit/api';
import { loadPlugins } from '@peftkit/engine';
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import { tinyBackbone } from '@peftkit/testing';
import { AutoPeftStrategy } from '../src/index.js';

const dir = fileURLToPath(new URL('../..', import.meta.url));
const log = { info() {}, warn() {}, debug() {} };
const types = { get: (n: string) => builtinModuleTypes[n]!, names: () => Object.keys(builtinModuleTypes) };

describe('AutoPEFT plugin registration', () => {
  it('registers the autopeft strategy and space and creates them', async () => {
    const { registry, failures } = await loadPlugins({ builtins: [dir] });
    expect(failures.map((f) => f.message)).to.deep.equal([]);
    expect(registry.names('search-strategy')).to.include('autopeft');
    expect(registry.names('search-space')).to.include('autopeft');
    const ctx = registry.context({ baseDir: dir, log });
    const s = await registry.create('search-strategy', { name: 'autopeft', options: { iterations: 2 } }, ctx);
    expect(s).to.be.instanceOf(AutoPeftStrategy);
    const space = (await registry.create('search-space', { name: 'autopeft' }, ctx)) as SearchSpace;
    const def = space.build(tinyBackbone().info, types);
    expect(def.candidates.length).to.equal(6); // 3 types × 2 layers
    expect(def.candidates.every((c) => c.ranks!.join() === '1,2,4,8,16,32')).to.equal(true);
  });

  it('rejects misspelled options', async () => {
    const { registry } = await loadPlugins({ builtins: [dir] });
    const ctx = registry.context({ baseDir: dir, log });
    try {
      await registry.create('search-strategy', { name: 'autopeft', options: { initialDesign: 3 } }, ctx);
      expect.fail('should throw');
    } catch (e) {
      expect((e as Error).message).to.match(/initialDesign/);
    }
  });
});
