/**
 * One file of a hub repository into the cache, as huggingface_hub stores it:
 *
 *   blobs/<etag>                  the bytes, named by their hash (verified before the blob exists)
 *   blobs/<etag>.incomplete       a partial download, continued with an HTTP Range request
 *   snapshots/<commit>/<file>     a relative symlink to ../../blobs/<etag>
 *
 * LFS files are checked against their sha256, other files against their git blob sha1
 * (sha1("blob <size>\0" + bytes)); a mismatch deletes the partial file and is an error naming both
 * hashes. Concurrent peftkit processes fetching the same blob take turns through a lock file,
 * .locks/models--org--name/<etag>.peftkit.lock (peftkit's own name: huggingface_hub's Python
 * `filelock` locks <etag>.lock with flock(2), which Node cannot take).
 */
import { DataError, processAlive } from '@peftkit/api';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, symlink, copyFile, lstat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { FileMeta, HubClient } from './hub-http.js';

/** Attempts per file when the connection drops (each continues where the last stopped). */
const ATTEMPTS = 5;
const POLL_MS = 200;

export interface BlobTarget {
  /** models--org--name/ in the cache. */
  repoDir: string;
  /** .locks/models--org--name/ in the cache. */
  lockDir: string;
  commit: string;
  log?: (line: string) => void;
}

/** Fetch `file` (unless its blob is already there) and link it into the commit's snapshot. */
export async function fetchIntoCache(client: HubClient, target: BlobTarget, file: string): Promise<void> {
  if (file.split('/').some((part) => part === '' || part === '.' || part === '..') || file.includes('\\'))
    throw new DataError(
      `expected a file name inside the repository, found ${JSON.stringify(file)}`,
      target.repoDir,
    );
  const link = join(target.repoDir, 'snapshots', target.commit, file);
  if (existsSync(link)) return;
  const meta = await client.fileMeta(target.commit, file);
  const blob = join(target.repoDir, 'blobs', meta.etag);
  if (!existsSync(blob)) {
    await mkdir(dirname(blob), { recursive: true });
    await withLock(join(target.lockDir, `${meta.etag}.peftkit.lock`), file, target.log, async () => {
      if (existsSync(blob)) return; // another process finished it while this one waited
      await download(client, meta, blob, file, target.log);
    });
  }
  await mkdir(dirname(link), { recursive: true });
  try {
    await symlink(relative(dirname(link), blob), link);
  } catch (e) {
    // Where links cannot be made, huggingface_hub copies the blob into the snapshot; so does peftkit.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
    await copyFile(blob, link);
  }
}

async function download(
  client: HubClient,
  meta: FileMeta,
  blob: string,
  file: string,
  log?: (line: string) => void,
): Promise<void> {
  const partial = `${blob}.incomplete`;
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const start = existsSync(partial) ? (await stat(partial)).size : 0;
    if (meta.size !== undefined && start === meta.size) {
      lastError = undefined; // the last attempt ended just at the end: the file is whole
      break;
    }
    log?.(
      `downloading ${file}${meta.size !== undefined ? ` (${meta.size} bytes)` : ''}` +
        (start > 0 ? `, continuing at byte ${start}` : ''),
    );
    try {
      await appendBody(client, meta.url, partial, start, file);
      lastError = undefined;
      break;
    } catch (e) {
      if (e instanceof DataError) throw e; // an HTTP error: trying again would give the same answer
      lastError = e as Error;
      await new Promise((r) => setTimeout(r, POLL_MS * attempt));
    }
  }
  if (lastError)
    throw new DataError(
      `the download of ${file} was interrupted ${ATTEMPTS} times (${lastError.message}); ` +
        'the partial file is kept: run again to continue it',
      partial,
    );
  const size = (await stat(partial)).size;
  const got = await hashOf(partial, meta.lfs, size);
  if (got !== meta.etag || (meta.size !== undefined && size !== meta.size)) {
    await rm(partial, { force: true });
    throw new DataError(
      `checksum mismatch for ${file}: the hub names it ${meta.etag} (${meta.lfs ? 'sha256' : 'git blob sha1'}), ` +
        `the ${size} bytes received hash to ${got}${meta.size !== undefined ? ` (expected ${meta.size} bytes)` : ''}; ` +
        'nothing was kept, run again to download it anew',
      meta.url,
    );
  }
  await rename(partial, blob);
}

/** Append the body of `url` from byte `start` to `partial` (starting over if the server ignores Range). */
async function appendBody(
  client: HubClient,
  url: string,
  partial: string,
  start: number,
  file: string,
): Promise<void> {
  const res = await client.fileBody(url, start, file);
  if (res.status === 416) return; // nothing left to send: the partial file is whole (the hash decides)
  const resumed = start > 0 && res.status === 206;
  if (resumed && !(res.headers.get('content-range') ?? '').startsWith(`bytes ${start}-`))
    throw new DataError(
      `asked for bytes ${start}- and got ${res.headers.get('content-range') ?? 'no Content-Range'}`,
      url,
    );
  const out = await open(partial, resumed ? 'a' : 'w');
  try {
    if (!res.body) return;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) await out.write(chunk);
  } finally {
    await out.close();
  }
}

async function hashOf(file: string, lfs: boolean, size: number): Promise<string> {
  const h = createHash(lfs ? 'sha256' : 'sha1');
  if (!lfs) h.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

interface LockOwner {
  pid: number;
  host: string;
}

/** Run `fn` holding the lock file `lock`; waits while a live process holds it, takes over a dead one's. */
async function withLock(
  lock: string,
  file: string,
  log: ((line: string) => void) | undefined,
  fn: () => Promise<void>,
): Promise<void> {
  await mkdir(dirname(lock), { recursive: true });
  let told = false;
  for (;;) {
    try {
      const h = await open(lock, 'wx');
      await h.writeFile(JSON.stringify({ pid: process.pid, host: hostname() } satisfies LockOwner));
      await h.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = await readOwner(lock);
    if (owner && owner.host === hostname() && !processAlive(owner.pid)) {
      await rm(lock, { force: true }); // its process is gone: the lock is stale
      continue;
    }
    if (!told) log?.(`waiting for another download of ${file} (lock ${lock}) to finish`);
    told = true;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  try {
    await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

async function readOwner(lock: string): Promise<LockOwner | undefined> {
  try {
    if (!(await lstat(lock)).isFile()) return undefined;
    return JSON.parse(await readFile(lock, 'utf8')) as LockOwner;
  } catch {
    return undefined; // being written or just removed: look again on the next turn
  }
}
