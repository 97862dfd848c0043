/**
 * Hub ids (`org/name`) resolved from the Hugging Face cache that Python users already have, in
 * huggingface_hub's layout:
 *
 *   $HF_HUB_CACHE (else $HF_HOME/hub, else ~/.cache/huggingface/hub)
 *     models--org--name/refs/<revision>          the commit hash a branch or tag points to
 *     models--org--name/snapshots/<commit>/...   the files of that commit (links into blobs/)
 *
 * peftkit does not download: a model that is not in the cache is a clear error that says how to
 * fetch it (huggingface-cli, or transformers' from_pretrained, fill the same cache).
 */
import { ConfigError } from '@peftkit/api';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The hub cache directory, as huggingface_hub chooses it. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface', 'hub');
}

const MODEL_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

/** The snapshot directory of `model` at `revision` (a branch, tag or commit hash) in the cache. */
export function resolveHubModel(
  model: string,
  revision = 'main',
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (!MODEL_ID.test(model) || model.includes('..'))
    throw new ConfigError(
      `expected a hub id like "org/name", found ${JSON.stringify(model)}`,
      undefined,
      'model',
    );
  const cache = hubCacheDir(env);
  const repo = join(cache, `models--${model.replace('/', '--')}`);
  const fetchHint = `download it first (huggingface-cli download ${model}${revision === 'main' ? '' : ` --revision ${revision}`}, or transformers' from_pretrained), or give its directory as path`;
  let commit = revision;
  if (!/^[0-9a-f]{40}$/.test(revision)) {
    const ref = join(repo, 'refs', revision);
    if (!existsSync(ref))
      throw new ConfigError(
        `${model} (revision ${revision}) is not in the Hugging Face cache ${cache}: peftkit does not download models; ${fetchHint}`,
        undefined,
        'model',
      );
    commit = readFileSync(ref, 'utf8').trim();
  }
  const snapshot = join(repo, 'snapshots', commit);
  if (!existsSync(join(snapshot, 'config.json')))
    throw new ConfigError(
      `${model} at ${commit} has no config.json in the Hugging Face cache (${snapshot}); ${fetchHint}`,
      undefined,
      'model',
    );
  return snapshot;
}
