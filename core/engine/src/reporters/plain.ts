/** `plain` reporter: one line per event, progress lines at most every `intervalMs`. */
import type { Reporter, RunEvent } from '@peftkit/api';
import { FREQUENT_EVENTS, formatEvent, isProgress, type TextSink } from './format.js';

export interface PlainOptions {
  /** Also print per-step events. */
  verbose: boolean;
  /** Minimum milliseconds between two progress lines of the same phase (the last one always shows). */
  intervalMs: number;
}

export const PLAIN_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    verbose: { type: 'boolean', default: false, description: 'also print per-step events' },
    intervalMs: {
      type: 'integer',
      minimum: 0,
      default: 2000,
      description: 'minimum ms between progress lines',
    },
    stream: { enum: ['stdout', 'stderr'], default: 'stderr', description: 'where lines go' },
  },
};

export class PlainReporter implements Reporter {
  private lastProgressAt = -Infinity;
  private lastPhase: unknown;

  constructor(
    private readonly out: TextSink,
    private readonly opts: PlainOptions,
    private readonly now: () => number = Date.now,
  ) {}

  onEvent(e: RunEvent): void {
    try {
      if (isProgress(e)) {
        const t = this.now();
        const final = e.done >= e.total;
        if (!final && e.phase === this.lastPhase && t - this.lastProgressAt < this.opts.intervalMs) return;
        this.lastProgressAt = t;
        this.lastPhase = e.phase;
      } else if (!this.opts.verbose && FREQUENT_EVENTS.has(e.type)) {
        return;
      }
      this.out.write(`${formatEvent(e)}\n`);
    } catch {
      /* a reporter must not throw (a closed pipe, say) */
    }
  }
}
