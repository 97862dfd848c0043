/**
 * Run directories: `<output>/<name>-<YYYYMMDD-HHMMSS>-s<seed>/` holding
 *
 *   run.json        name, seed, creation time, engine version (marks the directory as a run)
 *   config.json     the resolved configuration
 *   journal.jsonl   the event journal
 *   checkpoints/    ckpt-<seq>.safetensors (latest and previous)
 *   result.json     the outcome, written when the run ends
 *   .lock           the process working in the directory (see lock.ts)
 *
 * Every file is written atomically except the journal, which is append-only.
 */
import { ConfigError, DataError } from '@peftkit/api';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { engineVersion } from '../util/paths.js';
import { makeDirs, toJsonText, writeFileAtomic } from '../util/fs.js';
import { CheckpointStore, type CheckpointInfo, type LoadedCheckpoint } from './checkpoint.js';
import { fingerprintMeta, type RunFingerprint } from './fingerprint.js';
import { Journal, readJournal, type JournalRead } from './journal.js';
import { DirLock, heldLocks } from './lock.js';

export interface RunInfo {
  name: string;
  seed: number;
  /** ISO time the directory was created. */
  createdAt: string;
  /** The same instant in ms since the epoch; journal `t` counts from it. */
  startedAt: number;
  /** Engine version that created the run. */
  peftkit: string;
  /** The command that started the run (`search` or `train`); resuming must use the same one. */
  command?: string;
  /**
   * Absolute directory each component's relative paths are resolved against (the directory of the
   * preset that set it), by top-level config field: resuming, evaluating and exporting use them.
   */
  baseDirs?: Record<string, string>;
  /**
   * ISO time of the run's first checkpoint: a resume that finds no checkpoint then knows that
   * checkpoints/ was deleted, rather than that the run stopped before its first one.
   */
  checkpointedAt?: string;
}

/** Run directories this process works in (locked), for an interrupt handler. */
const active = new Set<RunDir>();

/** What a new run directory records besides its configuration. */
export interface RunDirExtras {
  command?: string;
  baseDirs?: Record<string, string>;
}

/** `YYYYMMDD-HHMMSS` in local time. */
export function runStamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export class RunDir {
  readonly checkpoints: CheckpointStore;
  private journalWriter: Journal | undefined;
  private dirLock: DirLock | undefined;
  /** Saved with every checkpoint; set by the run before its first checkpoint. */
  fingerprint: RunFingerprint | undefined;

  private constructor(
    /** Absolute path of the directory. */
    readonly path: string,
    readonly info: RunInfo,
  ) {
    this.checkpoints = new CheckpointStore(join(path, 'checkpoints'));
  }

  /**
   * Create `<outputDir>/<name>-<stamp>-s<seed>/` (with `-2`, `-3`, ... appended when a run of the
   * same name and seed started in the same second) and write run.json and config.json.
   */
  static create(
    outputDir: string,
    name: string,
    seed: number,
    config: unknown,
    now = new Date(),
    extras: RunDirExtras = {},
  ): RunDir {
    if (!NAME_RE.test(name))
      throw new Error(`run name ${JSON.stringify(name)} must be letters, digits, ".", "_" or "-"`);
    if (!Number.isInteger(seed) || seed < 0)
      throw new Error(`run seed must be a non-negative integer, got ${seed}`);
    const parent = resolve(outputDir);
    const refuse = (e: unknown, what: string) =>
      new ConfigError(
        `cannot create ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); expected a writable directory`,
        undefined,
        'output.dir',
      );
    try {
      makeDirs(parent);
    } catch (e) {
      throw refuse(e, `the output directory ${parent}`);
    }
    const base = `${name}-${runStamp(now)}-s${seed}`;
    let path = '';
    for (let n = 1; ; n++) {
      path = join(parent, n === 1 ? base : `${base}-${n}`);
      try {
        mkdirSync(path); // fails if it exists: two runs never share a directory
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw refuse(e, `a run directory in ${parent}`);
      }
    }
    const info: RunInfo = {
      name,
      seed,
      createdAt: now.toISOString(),
      startedAt: now.getTime(),
      peftkit: engineVersion(),
      ...(extras.command ? { command: extras.command } : {}),
      ...(extras.baseDirs ? { baseDirs: extras.baseDirs } : {}),
    };
    writeFileAtomic(join(path, 'config.json'), `${toJsonText(config, 2)}\n`);
    writeFileAtomic(join(path, 'run.json'), `${JSON.stringify(info, null, 2)}\n`);
    return new RunDir(path, info);
  }

  /** Open an existing run directory (to resume it or read it). */
  static open(path: string): RunDir {
    const dir = resolve(path);
    if (!existsSync(dir)) throw new DataError('run directory not found', path);
    if (!statSync(dir).isDirectory()) throw new DataError('not a directory (expected a run directory)', path);
    const runFile = join(dir, 'run.json');
    if (!existsSync(runFile)) {
      throw new DataError(
        'not a peftkit run directory: it has no run.json (run directories are created by `peftkit search` and `peftkit train` under runs/)',
        path,
      );
    }
    let info: RunInfo;
    try {
      info = JSON.parse(readFileSync(runFile, 'utf8')) as RunInfo;
    } catch (e) {
      throw new DataError(`run.json is not valid JSON: ${(e as Error).message}`, runFile);
    }
    if (typeof info.name !== 'string' || !Number.isInteger(info.seed) || typeof info.startedAt !== 'number') {
      throw new DataError('run.json lacks name, seed or startedAt', runFile);
    }
    if (!existsSync(join(dir, 'config.json'))) throw new DataError('run directory has no config.json', path);
    return new RunDir(dir, info);
  }

  /**
   * Take the directory's exclusive lock (see lock.ts) until close(); a DataError names the process
   * that holds it. Locking twice is a no-op.
   */
  lock(command: string): void {
    if (this.dirLock) return;
    const resume = `peftkit ${this.info.command ?? 'search'} --resume ${this.path}`;
    this.dirLock = DirLock.acquire(this.path, `run directory ${this.id}`, command, { resume });
    active.add(this);
  }

  /** The directory name (`quickstart-20261128-160300-s42`). */
  get id(): string {
    return basename(this.path);
  }

  file(name: string): string {
    return join(this.path, name);
  }

  /** The resolved configuration the run was created with. */
  readConfig<T = unknown>(): T {
    const file = this.file('config.json');
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as T;
    } catch (e) {
      throw new DataError(`config.json is not valid JSON: ${(e as Error).message}`, file);
    }
  }

  /**
   * The journal, open for appending (created on first use). `truncateAfter` drops the records
   * after a checkpoint's seq when resuming from it.
   */
  journal(opts: { truncateAfter?: number; now?: () => number } = {}): Journal {
    if (!this.journalWriter) {
      this.journalWriter = Journal.open(this.file('journal.jsonl'), {
        startedAt: this.info.startedAt,
        ...opts,
      });
    }
    return this.journalWriter;
  }

  readJournal(): JournalRead {
    const file = this.file('journal.jsonl');
    return existsSync(file) ? readJournal(file) : { records: [], truncatedTail: false, intactBytes: 0 };
  }

  /** Checkpoint `state` at `seq` (default: the journal's last seq, flushed first). */
  saveCheckpoint(state: unknown, seq?: number): CheckpointInfo {
    if (seq === undefined) {
      const j = this.journal();
      j.sync();
      seq = j.lastSeq;
    } else {
      this.journalWriter?.sync();
    }
    const info = this.checkpoints.save(state, seq, this.fingerprint ? fingerprintMeta(this.fingerprint) : {});
    if (!this.info.checkpointedAt) {
      (this.info as RunInfo).checkpointedAt = info.savedAt;
      writeFileAtomic(this.file('run.json'), `${JSON.stringify(this.info, null, 2)}\n`);
    }
    return info;
  }

  loadCheckpoint<T = unknown>(): LoadedCheckpoint<T> | undefined {
    return this.checkpoints.load<T>();
  }

  /** Write result.json atomically (typed arrays become lists). */
  writeResult<T extends object>(result: T): void {
    writeFileAtomic(this.file('result.json'), `${toJsonText(result, 2)}\n`);
  }

  /** result.json, or undefined when the run has not finished. */
  readResult<T = unknown>(): T | undefined {
    const file = this.file('result.json');
    if (!existsSync(file)) return undefined;
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as T;
    } catch (e) {
      throw new DataError(`result.json is not valid JSON: ${(e as Error).message}`, file);
    }
  }

  close(): void {
    this.journalWriter?.close();
    this.journalWriter = undefined;
    this.dirLock?.release();
    this.dirLock = undefined;
    active.delete(this);
  }
}

/**
 * Stop the work of this process (on SIGINT, say): journal an `interrupted` record in every run it
 * works in, close the journals and release every lock (runs and comparisons). Returns the command
 * lines that continue the work, outermost (a comparison) first.
 */
export function interruptActiveRuns(reason: string): string[] {
  for (const d of [...active]) {
    try {
      d.journal().append({ type: 'interrupted', reason });
    } catch {
      /* the journal may be what failed; the lock is still released */
    }
  }
  const resumes = heldLocks()
    .map((l) => l.use.resume)
    .filter((r): r is string => r !== undefined);
  for (const d of [...active]) d.close();
  for (const l of heldLocks()) l.release();
  return resumes;
}
