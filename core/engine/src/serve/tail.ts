/**
 * Follow an append-only JSON-lines file (a run journal): read what exists, then only the bytes
 * appended since (the file's size is checked; its contents are never read twice). A line is
 * delivered once it is complete; a truncated or unparsable line is skipped, as the journal's own
 * reader does with a killed writer's last line.
 */
import { closeSync, openSync, readSync, statSync, unwatchFile, watchFile } from 'node:fs';

export class JsonlTail {
  private offset = 0;
  private partial: Buffer = Buffer.alloc(0);
  private closed = false;
  private readonly listener = () => this.readNew();

  constructor(
    readonly file: string,
    private readonly onRecords: (records: Record<string, unknown>[]) => void,
    intervalMs = 250,
  ) {
    this.readNew();
    watchFile(file, { interval: intervalMs, persistent: false }, this.listener);
  }

  /** Read the bytes appended since the last read (also called by the watcher). */
  readNew(): void {
    if (this.closed) return;
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch {
      return; // not there yet
    }
    if (size < this.offset) {
      // Rewritten shorter (a resumed run cut its journal back): start over.
      this.offset = 0;
      this.partial = Buffer.alloc(0);
    }
    if (size === this.offset) return;
    const buf = Buffer.alloc(size - this.offset);
    const fd = openSync(this.file, 'r');
    try {
      let done = 0;
      while (done < buf.length) {
        const n = readSync(fd, buf, done, buf.length - done, this.offset + done);
        if (n === 0) break;
        done += n;
      }
      this.offset += done;
      // Split on bytes, so that a character cut between two reads is joined before decoding.
      const bytes = Buffer.concat([this.partial, buf.subarray(0, done)]);
      const end = bytes.lastIndexOf(0x0a) + 1;
      this.partial = Buffer.from(bytes.subarray(end));
      const lines = bytes.subarray(0, end).toString('utf8').split('\n');
      const records: Record<string, unknown>[] = [];
      for (const l of lines) {
        if (!l.trim()) continue;
        try {
          const v = JSON.parse(l) as unknown;
          if (v && typeof v === 'object' && !Array.isArray(v)) records.push(v as Record<string, unknown>);
        } catch {
          /* a corrupt line: the journal reader reports it; the dashboard shows the rest */
        }
      }
      if (records.length > 0) this.onRecords(records);
    } finally {
      closeSync(fd);
    }
  }

  close(): void {
    this.closed = true;
    unwatchFile(this.file, this.listener);
  }
}
