/**
 * Hub ids resolved from a Hugging Face cache laid out as huggingface_hub lays it out (refs/,
 * snapshots/<commit>/ linking into blobs/), in a temporary HF_HUB_CACHE / HF_HOME.
 */
import { expect } from 'chai';
import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hubCacheDir, loadHfBackbone, resolveHubModel } from '../src/index.js';
import { makeCheckpoint, scratch } from './helpers.js';

const COMMIT = 'a'.repeat(40);

describe('hf backbone: hub ids from the Hugging Face cache', function () {
  this.timeout(60_000);
  const tmp = scratch();
  let cache = '';
  const saved = { HF_HOME: process.env.HF_HOME, HF_HUB_CACHE: process.env.HF_HUB_CACHE };
  before(async () => {
    const ck = join(tmp.dir, 'ck');
    await makeCheckpoint({ type: 'bert', out: ck, seed: 3 });
    cache = join(tmp.dir, 'hf-home', 'hub');
    const repo = join(cache, 'models--org--tiny-bert');
    const snapshot = join(repo, 'snapshots', COMMIT);
    mkdirSync(join(repo, 'blobs'), { recursive: true });
    mkdirSync(snapshot, { recursive: true });
    mkdirSync(join(repo, 'refs'), { recursive: true });
    writeFileSync(join(repo, 'refs', 'main'), `${COMMIT}\n`);
    // Files live in blobs/ under their hashes; the snapshot links to them.
    readdirSync(ck).forEach((f, i) => {
      const blob = join(repo, 'blobs', `blob${i}`);
      cpSync(join(ck, f), blob);
      symlinkSync(join('..', '..', 'blobs', `blob${i}`), join(snapshot, f));
    });
  });
  after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    tmp.cleanup();
  });

  it('finds the cache as huggingface_hub does: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache', () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/x', HF_HOME: '/y' })).to.equal('/x');
    expect(hubCacheDir({ HF_HOME: '/y' })).to.equal('/y/hub');
    expect(hubCacheDir({ XDG_CACHE_HOME: '/z' })).to.equal('/z/huggingface/hub');
  });

  it('loads org/name at main and at its commit, and names the hub id as the export source', async () => {
    process.env.HF_HOME = join(tmp.dir, 'hf-home');
    delete process.env.HF_HUB_CACHE;
    const b = await loadHfBackbone({ model: 'org/tiny-bert' });
    expect(b.externalSource).to.equal('org/tiny-bert');
    expect(b.info.modelType).to.equal('bert');
    expect(resolveHubModel('org/tiny-bert', COMMIT)).to.equal(
      join(cache, 'models--org--tiny-bert', 'snapshots', COMMIT),
    );
  });

  it('a model or revision not in the cache is a clear error that says peftkit does not download', async () => {
    process.env.HF_HUB_CACHE = cache;
    let err: Error | undefined;
    try {
      await loadHfBackbone({ model: 'org/missing' });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message)
      .to.contain('org/missing (revision main) is not in the Hugging Face cache')
      .and.contain('peftkit does not download models');
    expect(() => resolveHubModel('org/tiny-bert', 'v2')).to.throw(
      /revision v2\) is not in the Hugging Face cache/,
    );
    await loadHfBackbone({ model: 'org/tiny-bert', path: 'x' }).then(
      () => expect.fail('both path and model'),
      (e: Error) => expect(e.message).to.contain('exactly one of path'),
    );
    expect(() => resolveHubModel('../etc', 'main')).to.throw(/expected a hub id/);
  });
});
