/**
 * The run journal: an append-only JSON-lines file, one record per event, each with a sequence
 * number `seq` (1, 2, 3, ...) and `t`, milliseconds since the run started. A process killed
 * mid-write leaves at most a truncated last line, which the reader tolerates and the writer cuts
 * off before appending; a bad line anywhere else is reported with its line number.
 */
import { DataError, type RunEvent } from '@peftkit/api';
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { toJsonText, writeFileAtomic } from '../util/fs.js';

export interface JournalRecord extends RunEvent {
  seq: number;
  t: number;
}

export interface JournalRead {
  records: JournalRecord[];
  /** The last line was cut short (the writer was killed mid-line); it is not in `records`. */
  truncatedTail: boolean;
  /** Length in bytes of the intact part of the file. */
  intactBytes: number;
}

/** Read a journal. Throws a DataError naming the file and line of any corrupt line but a truncated last one. */
export function readJournal(file: string): JournalRead {
  if (!existsSync(file)) throw new DataError('journal not found', file);
  const bytes = readFileSync(file);
  const records: JournalRecord[] = [];
  const bad: Array<{ line: number; why: string }> = [];
  let start = 0;
  let line = 0;
  let truncatedTail = false;
  let intactBytes = 0;
  let lastSeq = 0;
  while (start < bytes.length) {
    line++;
    const nl = bytes.indexOf(0x0a, start);
    const end = nl < 0 ? bytes.length : nl;
    const text = bytes.subarray(start, end).toString('utf8');
    const next = nl < 0 ? bytes.length : nl + 1;
    const isLast = next >= bytes.length;
    if (text.trim() === '') {
      if (nl >= 0) intactBytes = next;
      start = next;
      continue;
    }
    const why = checkRecord(text, lastSeq);
    if (typeof why === 'string') {
      // Only an unterminated final line can be the remains of an interrupted write.
      if (isLast && nl < 0) truncatedTail = true;
      else bad.push({ line, why });
    } else {
      records.push(why);
      lastSeq = why.seq;
      intactBytes = next;
    }
    start = next;
  }
  if (bad.length > 0) {
    const first = bad[0]!;
    const more =
      bad.length > 1
        ? ` (also corrupt: lines ${bad
            .slice(1)
            .map((b) => b.line)
            .join(', ')})`
        : '';
    throw new DataError(`corrupt journal record: ${first.why}${more}`, file, first.line);
  }
  return { records, truncatedTail, intactBytes };
}

function checkRecord(text: string, lastSeq: number): JournalRecord | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'expected a JSON object';
  const r = v as Record<string, unknown>;
  if (!Number.isInteger(r.seq) || (r.seq as number) <= lastSeq) {
    return `expected an integer seq above ${lastSeq}, got ${JSON.stringify(r.seq)}`;
  }
  if (typeof r.t !== 'number') return `expected a number t, got ${JSON.stringify(r.t)}`;
  if (typeof r.type !== 'string') return `expected a string type, got ${JSON.stringify(r.type)}`;
  return r as JournalRecord;
}

export interface JournalOptions {
  /** Wall-clock start of the run (ms since the epoch); `t` counts from it. */
  startedAt: number;
  /** Keep only the records up to this seq (resuming from a checkpoint taken at that seq). */
  truncateAfter?: number;
  now?: () => number;
}

export class Journal {
  private fd: number | undefined;
  private seq: number;
  private readonly now: () => number;

  private constructor(
    readonly file: string,
    private readonly startedAt: number,
    lastSeq: number,
    now: () => number,
  ) {
    this.seq = lastSeq;
    this.now = now;
    this.fd = openSync(file, 'a');
  }

  /** Open for appending, creating the file, or repairing and continuing an existing one. */
  static open(file: string, opts: JournalOptions): Journal {
    let lastSeq = 0;
    if (existsSync(file)) {
      const read = readJournal(file);
      let records = read.records;
      if (opts.truncateAfter !== undefined) {
        records = records.filter((r) => r.seq <= opts.truncateAfter!);
        writeFileAtomic(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      } else {
        if (read.truncatedTail) truncateSync(file, read.intactBytes);
        // A complete last record written without its newline: end it before appending.
        if (endsWithoutNewline(file)) appendFileSync(file, '\n');
      }
      lastSeq = records.length > 0 ? records[records.length - 1]!.seq : 0;
    }
    return new Journal(file, opts.startedAt, lastSeq, opts.now ?? Date.now);
  }

  /** Seq of the last record written (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Append one event; returns the record as written. */
  append(event: RunEvent): JournalRecord {
    if (this.fd === undefined) throw new Error(`journal ${this.file} is closed`);
    const { seq: _s, t: _t, ...rest } = event as JournalRecord;
    const record = {
      seq: this.seq + 1,
      t: Math.max(0, this.now() - this.startedAt),
      ...rest,
    } as JournalRecord;
    const line = Buffer.from(`${toJsonText(record)}\n`, 'utf8');
    let done = 0;
    while (done < line.length) done += writeSync(this.fd, line, done, line.length - done);
    this.seq = record.seq;
    return record;
  }

  /** Flush to disk (before a checkpoint refers to `lastSeq`). */
  sync(): void {
    if (this.fd !== undefined) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

function endsWithoutNewline(file: string): boolean {
  const bytes = readFileSync(file);
  return bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a;
}
