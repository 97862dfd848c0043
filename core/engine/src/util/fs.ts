/**
 * Durable file writes: write a temporary file next to the target, fsync it, rename it over the
 * target, fsync the directory. A process killed at any moment leaves either the old or the new
 * content, never a mix.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

let counter = 0;

/** A temporary name in the target's directory (same filesystem, so rename is atomic). */
export function tempPathFor(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}.${Date.now()}.${counter++}.tmp`);
}

/** Write all of `data` to `fd`. */
export function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}

/** fsync a directory so that a rename inside it is durable (ignored where unsupported). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* some filesystems refuse to fsync directories; the rename is still atomic */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Write a file atomically and durably. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const tmp = tempPathFor(file);
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDir(dirname(file));
}

/** JSON with typed arrays as plain arrays and bigints as numbers (journal, result files). */
export function toJsonText(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
        return Array.from(v as unknown as ArrayLike<number | bigint>, (x) =>
          typeof x === 'bigint' ? Number(x) : x,
        );
      }
      if (typeof v === 'bigint') return Number(v);
      return v;
    },
    indent,
  );
}

/**
 * `mkdir -p` without `recursive: true`, which loops forever in Node under /proc (where mkdir
 * fails with ENOENT for every parent): create the missing directories from the nearest existing
 * ancestor down, one level at a time, so any failure is an error naming the directory.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let d = resolve(dir);
  while (!existsSync(d)) {
    missing.push(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}
