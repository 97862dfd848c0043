/**
 * The `__NAME__` reporter: counts each run's events by type and writes one summary line per run at
 * its `run-end` (to stderr, or the stream given), with the run's first validation metric.
 */
import type { JsonSchema, Reporter, RunEvent } from '@peftkit/api';

export const __CLASS__OptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {},
};

/** Where the lines go (process.stderr, or a test's collector). */
export interface LineSink {
  write(text: string): unknown;
}

export class __CLASS__ implements Reporter {
  private counts = new Map<string, number>();

  constructor(private readonly out: LineSink = process.stderr) {}

  onEvent(event: RunEvent): void {
    try {
      if (event.type === 'run-start') this.counts.clear();
      this.counts.set(event.type, (this.counts.get(event.type) ?? 0) + 1);
      if (event.type === 'run-end') this.out.write(`${this.summary(event)}\n`);
    } catch {
      // A reporter never throws: a broken stream must not stop the run.
    }
  }

  /** `__NAME__: <run> 1 run-start, 5 step, 1 run-end | validation accuracy 0.8125`. */
  summary(end: RunEvent): string {
    const counts = [...this.counts].map(([type, n]) => `${n} ${type}`).join(', ');
    const validation = end.validation as Record<string, number> | undefined;
    const first = validation ? Object.entries(validation)[0] : undefined;
    return `__NAME__: ${String(end.run ?? 'run')} ${counts}${first ? ` | validation ${first[0]} ${first[1].toFixed(4)}` : ''}`;
  }
}
