/**
 * Exclusive locks on run and comparison directories: `<dir>/.lock` holds the pid, host and start
 * time of the process working in the directory, so a second `--resume` of the same run (or a
 * comparison resumed twice) stops with a message naming the holder instead of interleaving two
 * journals. The lock file is created with O_EXCL; a lock whose process is gone (same host, pid not
 * alive) is stale and is taken over. Locks are released when the work ends, and on exit.
 */
import { DataError, processAlive } from '@peftkit/api';
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = '.lock';

export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** What holds it (`peftkit search --resume`, `peftkit compare`). */
  command?: string;
}

/** What to tell the user about a lock released on an interrupt. */
export interface LockUse {
  /** The command line that continues the work (`peftkit compare --resume DIR`). */
  resume?: string;
}

const held = new Set<DirLock>();
let exitHookInstalled = false;

function readHolder(file: string): LockHolder | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof v.pid === 'number' && typeof v.host === 'string') return v as LockHolder;
  } catch {
    /* unreadable: handled by the caller */
  }
  return undefined;
}

function justCreated(file: string): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs < 2000;
  } catch {
    return false;
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function describe(h: LockHolder): string {
  return `process ${h.pid} on ${h.host}${h.command ? ` (${h.command})` : ''} since ${h.since}`;
}

export class DirLock {
  private released = false;

  private constructor(
    readonly dir: string,
    readonly file: string,
    readonly holder: LockHolder,
    readonly use: LockUse,
  ) {}

  /**
   * Take the lock on `dir` (a run or comparison directory, named `what` in errors). Throws a
   * DataError naming the holder when a live process holds it.
   */
  static acquire(dir: string, what: string, command?: string, use: LockUse = {}): DirLock {
    const file = join(dir, LOCK_FILE);
    const me: LockHolder = {
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
      ...(command ? { command } : {}),
    };
    for (let attempt = 0; attempt < 5; attempt++) {
      let fd: number;
      try {
        fd = openSync(file, 'wx');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const h = readHolder(file);
        // An unreadable lock just created is another process between creating and writing it.
        if (!h && justCreated(file)) {
          if (attempt < 4) {
            sleepMs(100);
            continue;
          }
          throw new DataError(`the ${what} is being locked by another process (${file})`, dir);
        }
        const ours = h?.host === me.host && h.pid === me.pid;
        const live =
          h !== undefined &&
          (ours ? [...held].some((l) => l.file === file) : h.host !== me.host || processAlive(h.pid));
        if (h && live) {
          throw new DataError(
            `the ${what} is in use by ${describe(h)}; wait for it to finish` +
              (h.host === me.host ? '' : `, or, if that process no longer runs on ${h.host}, delete ${file}`),
            dir,
          );
        }
        // Stale (its process is gone), unreadable (a writer killed mid-write) or our own: take it over.
        DirLock.removeStale(file, h);
        continue;
      }
      try {
        const text = JSON.stringify(me);
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
      const lock = new DirLock(dir, file, me, use);
      held.add(lock);
      installExitHook();
      return lock;
    }
    throw new DataError(`could not lock the ${what}: other processes keep taking it`, dir);
  }

  /**
   * Remove a stale lock file: rename it aside (only one contender's rename succeeds), and put it
   * back when what was renamed is not the stale lock seen (another process took the lock meanwhile).
   */
  private static removeStale(file: string, seen: LockHolder | undefined): void {
    const aside = `${file}.stale.${process.pid}`;
    try {
      renameSync(file, aside);
    } catch {
      return; // someone else removed it first
    }
    const got = readHolder(aside);
    if (seen && got && (got.pid !== seen.pid || got.since !== seen.since)) {
      try {
        linkSync(aside, file);
      } catch {
        /* a third process locked it meanwhile; the retry reads that one */
      }
    }
    try {
      unlinkSync(aside);
    } catch {
      /* already gone */
    }
  }

  /** Release the lock (only if this process still holds it). */
  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this);
    const h = readHolder(this.file);
    if (h && h.pid === this.holder.pid && h.since === this.holder.since && h.host === this.holder.host) {
      try {
        unlinkSync(this.file);
      } catch {
        /* already removed */
      }
    }
  }
}

/** Locks this process holds now (for an interrupt handler that releases them before exiting). */
export function heldLocks(): DirLock[] {
  return [...held];
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const l of [...held]) l.release();
  });
}
