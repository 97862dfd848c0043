/**
 * The plugin entry, loaded by the engine's real plugin loader: it registers exactly what
 * package.json declares, its option schemas validate (unknown options are errors), and `create`
 * builds the strategy and the spaces.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import type { SearchSpace } from '@peftkit/api';
import { loadPlugins } from '@peftkit/engine';
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import { tinyBackbone } from '@peftkit/testing';
import { S3DeltaStrategy } from '../src/index.js';

const dir = fileURLToPath(new URL('../..', import.meta.url));
const log = { info() {}, warn() {}, debug() {} };
const types = { get: (n: string) => builtinModuleTypes[n]!, names: () => Object.keys(builtinModuleTypes) };

describe('S3Delta plugin registration', () => {
  it('registers the s3delta strategy and the s3pet-m / s3pet-l spaces and creates them', async () => {
    const { registry, failures } = await loadPlugins({ builtins: [dir] });
    expect(failures.map((f) => f.message)).to.deep.equal([]);
    expect(registry.names('search-strategy')).to.include('s3delta');
    expect(registry.names('search-space')).to.include.members(['s3pet-m', 's3pet-l']);
    const ctx = registry.context({ baseDir: dir, log });
    const s = await registry.create(
      'search-strategy',
      { name: 's3delta', options: { firstOrder: true } },
      ctx,
    );
    expect(s).to.be.instanceOf(S3DeltaStrategy);
    const m = (await registry.create('search-space', { name: 's3pet-m' }, ctx)) as SearchSpace;
    const info = tinyBackbone().info;
    expect(m.build(info, types).candidates.length).to.equal(36);
    const l = (await registry.create(
      'search-space',
      { name: 's3pet-l', options: { rank: 2 } },
      ctx,
    )) as SearchSpace;
    expect(l.build(info, types).candidates.every((c) => c.ranks!.join() === '2')).to.equal(true);
  });

  it('rejects misspelled options', async () => {
    const { registry } = await loadPlugins({ builtins: [dir] });
    const ctx = registry.context({ baseDir: dir, log });
    try {
      await registry.create('search-strategy', { name: 's3delta', options: { firstorder: true } }, ctx);
      expect.fail('should throw');
    } catch (e) {
      expect((e as Error).message).to.match(/firstorder/);
    }
  });
});
