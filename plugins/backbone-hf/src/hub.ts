/**
 * Hub ids (`org/name`) in the Hugging Face cache that Python users already have, in
 * huggingface_hub's layout, downloaded into it when missing:
 *
 *   $HF_HUB_CACHE (else $HF_HOME/hub, else ~/.cache/huggingface/hub)
 *     models--org--name/refs/<revision>          the commit hash a branch or tag points to
 *     models--org--name/snapshots/<commit>/...   the files of that commit (links into blobs/)
 *     models--org--name/blobs/<etag>             the files' bytes, named by their hash
 *
 * A revision found in the cache with the files the loader reads is used without any request (a
 * branch is not checked for newer commits: pin the revision to a commit for exact runs). Otherwise
 * the files are downloaded (hub-http.ts, hub-blob.ts), unless HF_HUB_OFFLINE is set.
 */
import { ConfigError, DataError, HF_TOKENIZER_FILES } from '@peftkit/api';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fetchIntoCache } from './hub-blob.js';
import { envFlag, type Fetch, HubClient } from './hub-http.js';

/** The hub cache directory, as huggingface_hub chooses it. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface', 'hub');
}

const MODEL_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;
const COMMIT = /^[0-9a-f]{40}$/;

const INDEX = 'model.safetensors.index.json';

export interface HubOptions {
  env?: NodeJS.ProcessEnv;
  /** Progress lines (what is downloaded). */
  log?: (line: string) => void;
  fetch?: Fetch;
}

/**
 * The snapshot directory of `model` at `revision` (a branch, tag or commit hash): from the cache,
 * or downloaded into it.
 */
export async function resolveHubModel(
  model: string,
  revision = 'main',
  opts: HubOptions = {},
): Promise<string> {
  const env = opts.env ?? process.env;
  if (!MODEL_ID.test(model) || model.includes('..'))
    throw new ConfigError(
      `expected a hub id like "org/name", found ${JSON.stringify(model)}`,
      undefined,
      'model',
    );
  if (revision.includes('..') || revision.startsWith('/'))
    throw new ConfigError(
      `expected a branch, tag or commit, found ${JSON.stringify(revision)}`,
      undefined,
      'revision',
    );
  const cache = hubCacheDir(env);
  const folder = `models--${model.replace('/', '--')}`;
  const repoDir = join(cache, folder);
  const cached = cachedCommit(repoDir, revision);
  if (cached && missingFiles(join(repoDir, 'snapshots', cached)).length === 0)
    return join(repoDir, 'snapshots', cached);
  if (envFlag(env.HF_HUB_OFFLINE))
    throw new ConfigError(
      `${model} (revision ${revision}) is not in the Hugging Face cache ${cache}` +
        (cached
          ? ` (snapshot ${cached} lacks ${missingFiles(join(repoDir, 'snapshots', cached)).join(', ')})`
          : '') +
        ' and HF_HUB_OFFLINE is set, so peftkit does not download it',
      undefined,
      'model',
      'unset HF_HUB_OFFLINE to download it, fetch it on a machine that is online (huggingface-cli download ' +
        `${model}${revision === 'main' ? '' : ` --revision ${revision}`}) into this cache, or give its directory as path`,
    );
  return download(model, revision, repoDir, join(cache, '.locks', folder), opts);
}

/** The commit `revision` names in the cache (a commit hash names itself), if known there. */
function cachedCommit(repoDir: string, revision: string): string | undefined {
  if (COMMIT.test(revision)) return revision;
  const ref = join(repoDir, 'refs', revision);
  return existsSync(ref) ? readFileSync(ref, 'utf8').trim() : undefined;
}

/** The files the loader needs that a snapshot lacks (shards as its index lists them). */
function missingFiles(snapshot: string): string[] {
  const missing = ['config.json', 'tokenizer.json'].filter((f) => !existsSync(join(snapshot, f)));
  if (existsSync(join(snapshot, 'model.safetensors'))) return missing;
  if (!existsSync(join(snapshot, INDEX))) return [...missing, 'model.safetensors'];
  return [...missing, ...shardsOf(join(snapshot, INDEX)).filter((s) => !existsSync(join(snapshot, s)))];
}

function shardsOf(index: string): string[] {
  try {
    const map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, unknown> })
      .weight_map;
    return [...new Set(Object.values(map ?? {}).filter((s): s is string => typeof s === 'string'))].sort();
  } catch (e) {
    throw new DataError(`not a safetensors index: ${(e as Error).message}`, index);
  }
}

async function download(
  model: string,
  revision: string,
  repoDir: string,
  lockDir: string,
  opts: HubOptions,
): Promise<string> {
  const client = new HubClient(model, revision, opts.env ?? process.env, opts.fetch);
  const info = await client.repoInfo();
  const has = new Set(info.files);
  const where = client.resolveUrl(info.sha, '');
  for (const need of ['config.json', 'tokenizer.json'])
    if (!has.has(need))
      throw new DataError(`${model} has no ${need}, which peftkit's hf backbone reads`, where);
  const weights = has.has('model.safetensors') ? ['model.safetensors'] : has.has(INDEX) ? [INDEX] : [];
  if (weights.length === 0)
    throw new DataError(
      `${model} has no model.safetensors${has.has('pytorch_model.bin') ? ' (only pytorch_model.bin, which peftkit does not read)' : ''}; ` +
        'peftkit reads safetensors weights only',
      where,
    );
  const files = ['config.json', ...HF_TOKENIZER_FILES.filter((f) => has.has(f)), ...weights];
  opts.log?.(`${model} (revision ${revision}, commit ${info.sha}) into ${repoDir}: ${files.join(', ')}`);
  const target = { repoDir, lockDir, commit: info.sha, log: opts.log };
  for (const f of files) await fetchIntoCache(client, target, f);
  const snapshot = join(repoDir, 'snapshots', info.sha);
  if (weights[0] === INDEX)
    for (const shard of shardsOf(join(snapshot, INDEX))) {
      if (!has.has(shard))
        throw new DataError(`${INDEX} lists the shard ${shard}, which ${model} does not have`, where);
      await fetchIntoCache(client, target, shard);
    }
  // The ref last: a branch or tag names a commit in the cache once its files are all there.
  if (revision !== info.sha) {
    const ref = join(repoDir, 'refs', revision);
    await mkdir(dirname(ref), { recursive: true });
    await writeFile(ref, info.sha);
  }
  return snapshot;
}
