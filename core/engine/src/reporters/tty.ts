/**
 * `tty` reporter: a progress bar on the last terminal line (phase, bar, done/total, elapsed time,
 * status), with other events printed above it. On a stream that is not a terminal it behaves like
 * `plain`.
 */
import type { ProgressEvent, Reporter, RunEvent } from '@peftkit/api';
import {
  FREQUENT_EVENTS,
  formatElapsed,
  formatEvent,
  isProgress,
  progressBar,
  type TextSink,
} from './format.js';
import { PlainReporter } from './plain.js';

export interface TtyOptions {
  verbose: boolean;
  /** Minimum milliseconds between redraws of the bar. */
  refreshMs: number;
}

export const TTY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    verbose: { type: 'boolean', default: false, description: 'also print per-step events' },
    refreshMs: {
      type: 'integer',
      minimum: 0,
      default: 100,
      description: 'minimum ms between redraws of the bar',
    },
  },
};

const CLEAR_LINE = '\r\x1b[2K';

export class TtyReporter implements Reporter {
  private current: ProgressEvent | undefined;
  private barShown = false;
  private lastDraw = -Infinity;
  private readonly fallback: PlainReporter | undefined;

  constructor(
    private readonly out: TextSink,
    private readonly opts: TtyOptions,
    private readonly now: () => number = Date.now,
  ) {
    if (!out.isTTY) this.fallback = new PlainReporter(out, { verbose: opts.verbose, intervalMs: 2000 }, now);
  }

  onEvent(e: RunEvent): void {
    if (this.fallback) return this.fallback.onEvent(e);
    try {
      if (isProgress(e)) {
        this.current = e;
        const t = this.now();
        if (e.done >= e.total || t - this.lastDraw >= this.opts.refreshMs) {
          this.lastDraw = t;
          this.draw();
        }
        return;
      }
      if (!this.opts.verbose && FREQUENT_EVENTS.has(e.type)) return;
      this.out.write(`${this.barShown ? CLEAR_LINE : ''}${formatEvent(e)}\n`);
      this.barShown = false;
      if (this.current && this.current.done < this.current.total) this.draw();
    } catch {
      /* a reporter must not throw */
    }
  }

  /** The bar line for the current progress, fitted to the terminal width. */
  barLine(): string {
    const e = this.current!;
    const columns = this.out.columns ?? 80;
    const pct = e.total > 0 ? Math.floor((100 * e.done) / e.total) : 0;
    const head = `${e.phase ?? 'run'} `;
    const tail = ` ${e.done}/${e.total} ${pct}%${typeof e.t === 'number' ? ` ${formatElapsed(e.t)}` : ''}${e.status ? ` ${e.status}` : ''}`;
    const width = Math.max(10, Math.min(30, columns - head.length - tail.length - 1));
    const line = head + progressBar(e.done, e.total, width) + tail;
    return line.length >= columns ? line.slice(0, columns - 1) : line;
  }

  private draw(): void {
    this.out.write(CLEAR_LINE + this.barLine());
    this.barShown = true;
  }

  close(): void {
    if (this.fallback) return;
    try {
      if (this.barShown) this.out.write('\n');
      this.barShown = false;
    } catch {
      /* ignore */
    }
  }
}
