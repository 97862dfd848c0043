/**
 * A run's TensorBoard log, `<run>/tensorboard/`: the scalars of every journal record as it is
 * journaled (wall time = the record's time), so `tensorboard --logdir runs/` shows a running search.
 *
 * A resumed run replays the records up to its checkpoint into a fresh event file (the records
 * after the checkpoint are written again by the continuation), so the log holds each step once,
 * as an uninterrupted run's would.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { JournalRecord } from '../run/journal.js';
import { EventFileWriter } from './event-file.js';
import { scalarsOf } from './scalars.js';

export class TensorboardLog {
  private constructor(
    private readonly writer: EventFileWriter,
    private readonly startedAt: number,
  ) {}

  /** Start the log in `dir` (replacing event files a previous process left), replaying `records`. */
  static open(dir: string, startedAt: number, records: readonly JournalRecord[] = []): TensorboardLog {
    try {
      for (const f of readdirSync(dir)) if (f.includes('tfevents')) rmSync(join(dir, f));
    } catch {
      /* no directory yet */
    }
    const log = new TensorboardLog(new EventFileWriter(dir, startedAt / 1000), startedAt);
    for (const r of records) log.add(r);
    return log;
  }

  add(record: JournalRecord): void {
    const s = scalarsOf(record);
    if (s) this.writer.write((this.startedAt + record.t) / 1000, s.step, s.values);
  }

  close(): void {
    this.writer.close();
  }
}
