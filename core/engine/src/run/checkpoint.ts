/**
 * Checkpoints: one safetensors file per checkpoint, `ckpt-<seq>.safetensors`, holding the state's
 * typed arrays as tensors and the rest as JSON in the header metadata, with the journal seq the
 * state corresponds to. A checkpoint is written to a temporary file, fsynced, renamed into place
 * (atomic) and the directory fsynced; only then are older checkpoints beyond `keep` deleted. A kill
 * at any moment therefore leaves the previous checkpoint, the new one, or both, all intact.
 */
import { DataError, decodeSafetensors, encodeSafetensors } from '@peftkit/api';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, writeAll } from '../util/fs.js';
import { decodeState, encodeState } from '@peftkit/runtime';

export interface CheckpointInfo {
  /** Journal seq the state corresponds to. */
  seq: number;
  file: string;
  savedAt: string;
}

export interface LoadedCheckpoint<T = unknown> extends CheckpointInfo {
  state: T;
  /** Further metadata saved with the state (the run's fingerprint). */
  meta: Record<string, string>;
  /** Newer checkpoint files that could not be read (with why), skipped in favour of this one. */
  skipped: Array<{ file: string; error: string }>;
}

/** Points in a save where tests simulate a crash (the hook throws). */
export type CheckpointStep = 'write' | 'write-partial' | 'fsync' | 'rename' | 'prune';

export interface CheckpointStoreOptions {
  /** Checkpoints kept (the latest and the previous by default). */
  keep?: number;
  /** Called before each step of a save; tests throw from it to simulate a kill at that point. */
  beforeStep?: (step: CheckpointStep) => void;
}

const FILE_RE = /^ckpt-(\d+)\.safetensors$/;
const TEMP_RE = /^\.ckpt-\d+\.safetensors\..*\.tmp$/;
const FORMAT = 'peftkit-checkpoint/1';

export class CheckpointStore {
  private readonly keep: number;
  private readonly beforeStep: (step: CheckpointStep) => void;

  constructor(
    readonly dir: string,
    opts: CheckpointStoreOptions = {},
  ) {
    this.keep = Math.max(1, opts.keep ?? 2);
    this.beforeStep = opts.beforeStep ?? (() => {});
  }

  /** Existing checkpoints, newest first. */
  list(): CheckpointInfo[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .map((f) => ({ f, m: FILE_RE.exec(f) }))
      .filter((x) => x.m !== null)
      .map((x) => ({ seq: Number(x.m![1]), file: join(this.dir, x.f), savedAt: '' }))
      .sort((a, b) => b.seq - a.seq);
  }

  /** Save `state` as the checkpoint at journal seq `seq`. */
  save(state: unknown, seq: number, meta: Record<string, string> = {}): CheckpointInfo {
    if (!Number.isInteger(seq) || seq < 0)
      throw new Error(`checkpoint seq must be a non-negative integer, got ${seq}`);
    mkdirSync(this.dir, { recursive: true });
    this.removeTemps();
    const savedAt = new Date().toISOString();
    const { json, tensors } = encodeState(state);
    const bytes = encodeSafetensors(tensors, {
      ...meta,
      format: FORMAT,
      seq: String(seq),
      savedAt,
      state: json,
    });
    const name = `ckpt-${String(seq).padStart(9, '0')}.safetensors`;
    const file = join(this.dir, name);
    const tmp = join(this.dir, `.${name}.${process.pid}.${Date.now()}.tmp`);

    this.beforeStep('write');
    const fd = openSync(tmp, 'w');
    try {
      const half = bytes.length >> 1;
      writeAll(fd, bytes.subarray(0, half));
      this.beforeStep('write-partial');
      writeAll(fd, bytes.subarray(half));
      this.beforeStep('fsync');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.beforeStep('rename');
    renameSync(tmp, file);
    fsyncDir(this.dir);
    this.beforeStep('prune');
    for (const old of this.list().slice(this.keep)) unlinkSync(old.file);
    return { seq, file, savedAt };
  }

  /**
   * Load the newest readable checkpoint (undefined when there is none). A newer file that cannot
   * be read is skipped and reported; when none can be read, a DataError names each file.
   */
  load<T = unknown>(): LoadedCheckpoint<T> | undefined {
    const files = this.list();
    if (files.length === 0) return undefined;
    const skipped: Array<{ file: string; error: string }> = [];
    for (const c of files) {
      try {
        const { state, seq, savedAt, meta } = readCheckpoint(c.file);
        return { state: state as T, seq, savedAt, meta, file: c.file, skipped };
      } catch (e) {
        skipped.push({ file: c.file, error: (e as Error).message });
      }
    }
    throw new DataError(`no readable checkpoint: ${skipped.map((s) => s.error).join('; ')}`, this.dir);
  }

  /** Temporary files of an interrupted save. */
  private removeTemps(): void {
    for (const f of readdirSync(this.dir)) if (TEMP_RE.test(f)) unlinkSync(join(this.dir, f));
  }
}

/** Read one checkpoint file. */
export function readCheckpoint(file: string): {
  state: unknown;
  seq: number;
  savedAt: string;
  meta: Record<string, string>;
} {
  const decoded = decodeSafetensors(readFileSync(file), file);
  const m = decoded.metadata;
  if (m.format !== FORMAT)
    throw new DataError(`not a peftkit checkpoint (metadata format is ${JSON.stringify(m.format)})`, file);
  const seq = Number(m.seq);
  if (!Number.isInteger(seq) || seq < 0)
    throw new DataError(`checkpoint metadata seq is ${JSON.stringify(m.seq)}`, file);
  if (typeof m.state !== 'string') throw new DataError('checkpoint metadata has no state', file);
  const { format: _f, seq: _s, savedAt, state, ...meta } = m;
  return { state: decodeState(state, decoded.tensors, file), seq, savedAt: savedAt ?? '', meta };
}
