/**
 * Hub ids: resolved from a Hugging Face cache laid out as huggingface_hub lays it out (refs/,
 * snapshots/<commit>/ linking into blobs/), and downloaded into it from a loopback stand-in for the
 * hub (@peftkit/testing's startHubServer) when missing: resumable, checksum-verified, HF_TOKEN and
 * HF_HUB_OFFLINE respected, one download per file under concurrency.
 */
import { expect } from 'chai';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { type HubServer, startHubServer } from '@peftkit/testing';
import { hubCacheDir, loadHfBackbone, resolveHubModel } from '../src/index.js';
import { makeCheckpoint, scratch } from './helpers.js';

const COMMIT = 'a'.repeat(40);

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

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
    expect(await resolveHubModel('org/tiny-bert', COMMIT)).to.equal(
      join(cache, 'models--org--tiny-bert', 'snapshots', COMMIT),
    );
  });

  it('offline, a model or revision not in the cache is an error naming the id, the revision and the cache', async () => {
    const env = { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' };
    const err = await rejection(resolveHubModel('org/missing', 'main', { env }));
    expect(err.message)
      .to.contain(`org/missing (revision main) is not in the Hugging Face cache ${cache}`)
      .and.contain('HF_HUB_OFFLINE is set');
    expect((await rejection(resolveHubModel('org/tiny-bert', 'v2', { env }))).message).to.match(
      /revision v2\) is not in the Hugging Face cache/,
    );
    expect((await rejection(loadHfBackbone({ model: 'org/tiny-bert', path: 'x' }))).message).to.contain(
      'exactly one of path',
    );
    expect((await rejection(resolveHubModel('../etc', 'main', { env }))).message).to.contain(
      'expected a hub id',
    );
  });
});

describe('hf backbone: hub downloads into the cache (loopback hub)', function () {
  this.timeout(60_000);
  const tmp = scratch();
  const REPO = 'org/tiny-bert';
  let hub: HubServer;
  let ck = '';
  let n = 0;
  /** A fresh cache per test, the hub's endpoint, no token. */
  const fresh = (extra: NodeJS.ProcessEnv = {}) => ({
    HF_HUB_CACHE: join(tmp.dir, `cache${++n}`),
    HF_ENDPOINT: hub.endpoint,
    HF_HOME: join(tmp.dir, 'no-home'),
    ...extra,
  });
  const repoDir = (env: NodeJS.ProcessEnv) => join(env.HF_HUB_CACHE!, 'models--org--tiny-bert');

  before(async () => {
    ck = join(tmp.dir, 'ck');
    await makeCheckpoint({ type: 'bert', out: ck, seed: 5 });
    hub = await startHubServer({ [REPO]: ck });
  });
  beforeEach(() => {
    hub.requests.length = 0;
    hub.token = undefined;
    hub.dropAfter.clear();
    hub.corrupt.clear();
  });
  after(async () => {
    await hub?.close();
    tmp.cleanup();
  });

  it("downloads what the loader reads into huggingface_hub's layout, and a second run makes no request", async () => {
    const env = fresh();
    const lines: string[] = [];
    const snapshot = await resolveHubModel(REPO, 'main', { env, log: (l) => lines.push(l) });
    const commit = hub.commit(REPO);
    expect(snapshot).to.equal(join(repoDir(env), 'snapshots', commit));
    expect(readFileSync(join(repoDir(env), 'refs', 'main'), 'utf8')).to.equal(commit);
    const files = readdirSync(snapshot).sort();
    expect(files).to.include.members(['config.json', 'model.safetensors', 'tokenizer.json']);
    expect(lines[0]).to.contain(`commit ${commit}`).and.contain('config.json, tokenizer.json');
    for (const f of files) {
      // Relative links into blobs/<etag>, the bytes the hub serves.
      expect(readlinkSync(join(snapshot, f))).to.match(/^\.\.\/\.\.\/blobs\/[0-9a-f]{40,64}$/);
      expect(readFileSync(join(snapshot, f)).equals(hub.bytes(REPO, f))).to.equal(true);
    }
    hub.requests.length = 0;
    expect(await resolveHubModel(REPO, 'main', { env })).to.equal(snapshot);
    expect(await resolveHubModel(REPO, commit, { env })).to.equal(snapshot);
    expect(hub.requests, 'requests of the second run').to.deep.equal([]);
  });

  it('continues a dropped download with a Range request, and the blob has the exact bytes', async () => {
    const env = fresh();
    const size = hub.bytes(REPO, 'model.safetensors').length;
    hub.dropAfter.set('model.safetensors', 3000);
    const snapshot = await resolveHubModel(REPO, 'main', { env });
    const ranges = hub.requests.filter((r) => r.headers.range).map((r) => `${r.url} ${r.headers.range}`);
    expect(
      ranges,
      JSON.stringify(hub.requests.map((r) => `${r.method} ${r.url} ${r.headers.range}`)),
    ).to.have.length(1);
    expect(ranges[0]).to.match(/^\/lfs\/[0-9a-f]{64} bytes=3000-$/);
    expect(size).to.be.greaterThan(3000);
    expect(
      readFileSync(join(snapshot, 'model.safetensors')).equals(hub.bytes(REPO, 'model.safetensors')),
    ).to.equal(true);
    expect(readdirSync(join(repoDir(env), 'blobs')).filter((f) => f.endsWith('.incomplete'))).to.deep.equal(
      [],
    );
  });

  it('a file whose bytes do not hash to its etag is an error naming it and both hashes, and leaves no blob', async () => {
    const env = fresh();
    // config.json is fetched first, model.safetensors last (once the others are in the cache).
    for (const file of ['config.json', 'model.safetensors']) {
      hub.corrupt.clear();
      hub.corrupt.add(file);
      const err = await rejection(resolveHubModel(REPO, 'main', { env }));
      const algo = file === 'config.json' ? 'git blob sha1' : 'sha256';
      expect(err.message).to.match(
        new RegExp(
          `checksum mismatch for ${file}: the hub names it [0-9a-f]{40,64} \\(${algo}\\), the \\d+ bytes received hash to [0-9a-f]{40,64}`,
        ),
      );
      const blobs = readdirSync(join(repoDir(env), 'blobs'));
      const etag = /names it ([0-9a-f]+)/.exec(err.message)![1]!;
      expect(
        blobs.filter((b) => b.startsWith(etag)),
        `${file}: no blob or partial file`,
      ).to.deep.equal([]);
      expect(existsSync(join(repoDir(env), 'refs', 'main'))).to.equal(false);
    }
    hub.corrupt.clear();
    await resolveHubModel(REPO, 'main', { env });
  });

  it('a gated model: 401 without a token explains HF_TOKEN; with HF_TOKEN it downloads; the token is never shown', async () => {
    hub.token = 'hf_secret_token_123';
    const err = await rejection(resolveHubModel(REPO, 'main', { env: fresh() }));
    expect(err.message)
      .to.contain('cannot download org/tiny-bert (revision main): HTTP 401 GatedRepo')
      .and.contain('gated or private')
      .and.contain('set HF_TOKEN');
    const wrong = await rejection(
      resolveHubModel(REPO, 'main', { env: fresh({ HF_TOKEN: 'hf_wrong_456' }) }),
    );
    expect(wrong.message).to.contain('the token that was sent').and.not.contain('hf_wrong_456');
    const env = fresh({ HF_TOKEN: 'hf_secret_token_123' });
    hub.requests.length = 0;
    await resolveHubModel(REPO, 'main', { env });
    // Every request went with the token (the loopback storage is on the hub's origin; storage on
    // another origin, as the real hub's LFS redirects, gets none).
    expect(hub.requests.map((r) => r.headers.authorization)).to.satisfy((a: unknown[]) =>
      a.every((h) => h === 'Bearer hf_secret_token_123'),
    );
    // The token file of huggingface-cli login works too.
    const home = join(tmp.dir, 'home-with-token');
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, 'token'), 'hf_secret_token_123\n');
    await resolveHubModel(REPO, 'main', { env: fresh({ HF_HOME: home }) });
  });

  it('unknown models, revisions and an unreachable hub are errors that say which', async () => {
    expect((await rejection(resolveHubModel('org/nope', 'main', { env: fresh() }))).message).to.contain(
      'cannot download org/nope (revision main): HTTP 401 RepoNotFound',
    );
    expect((await rejection(resolveHubModel(REPO, 'v9', { env: fresh() }))).message).to.contain(
      'HTTP 404 RevisionNotFound',
    );
    const closed = fresh({ HF_ENDPOINT: 'http://127.0.0.1:9' });
    expect((await rejection(resolveHubModel(REPO, 'main', { env: closed }))).message)
      .to.contain('cannot reach the Hugging Face hub to download org/tiny-bert (revision main)')
      .and.contain('HF_HUB_OFFLINE=1');
  });

  it('two concurrent loads of one model download each file once (a lock file guards the blob)', async () => {
    const env = fresh();
    const [a, b] = await Promise.all([
      resolveHubModel(REPO, 'main', { env }),
      resolveHubModel(REPO, 'main', { env }),
    ]);
    expect(a).to.equal(b);
    const gets = hub.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/lfs/'));
    expect(gets).to.have.length(1);
    expect(readdirSync(join(env.HF_HUB_CACHE, '.locks', 'models--org--tiny-bert'))).to.deep.equal([]);
  });

  it('the hf backbone loads a downloaded model, equal to the same checkpoint given as path', async () => {
    const env = fresh();
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const lines: string[] = [];
      const fromHub = await loadHfBackbone({ model: REPO, log: (l) => lines.push(l) });
      const fromDir = await loadHfBackbone({ path: ck });
      expect(fromHub.externalSource).to.equal(REPO);
      expect(fromHub.tokenizer.encode('the river rose').ids).to.deep.equal(
        fromDir.tokenizer.encode('the river rose').ids,
      );
      expect(fromHub.info).to.deep.equal(fromDir.info);
      expect(lines.some((l) => l.startsWith('downloading model.safetensors'))).to.equal(true);
    } finally {
      for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
