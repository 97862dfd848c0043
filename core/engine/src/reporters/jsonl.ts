/** `jsonl` reporter: every event as one JSON line on stdout (typed arrays as plain arrays). */
import type { Reporter, RunEvent } from '@peftkit/api';
import { toJsonText } from '../util/fs.js';
import type { TextSink } from './format.js';

export class JsonlReporter implements Reporter {
  constructor(private readonly out: TextSink) {}

  onEvent(e: RunEvent): void {
    try {
      this.out.write(`${toJsonText(e)}\n`);
    } catch {
      /* a reporter must not throw */
    }
  }
}
