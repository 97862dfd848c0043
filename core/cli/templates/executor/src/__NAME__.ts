/**
 * The `__NAME__` executor: runs each job in this process through `ctx.runLocal`, one after another,
 * timing it; on dispose it logs the jobs of each kind and their total time.
 */
import type {
  Executor,
  ExecutorContext,
  ExecutorFactory,
  Job,
  JobResult,
  JsonSchema,
  Logger,
  RunEvent,
} from '@peftkit/api';

export const __CLASS__OptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {},
};

/** Seconds since some fixed point (a parameter so that tests can control the clock). */
export type Clock = () => number;

const wallClock: Clock = () => performance.now() / 1000;

/** `__NAME__: 3 jobs in 2.5 s (gradient 2: 0.5 s, evaluate 1: 2.0 s)`, kinds in the order first run. */
export function summary(times: ReadonlyMap<string, { jobs: number; seconds: number }>): string {
  let jobs = 0;
  let seconds = 0;
  const parts: string[] = [];
  for (const [kind, t] of times) {
    jobs += t.jobs;
    seconds += t.seconds;
    parts.push(`${kind} ${t.jobs}: ${t.seconds.toFixed(1)} s`);
  }
  return `__NAME__: ${jobs} jobs in ${seconds.toFixed(1)} s (${parts.join(', ')})`;
}

export class __CLASS__ implements ExecutorFactory {
  constructor(
    private readonly log?: Logger,
    private readonly clock: Clock = wallClock,
  ) {}

  open(ctx: ExecutorContext): Executor {
    const { clock, log } = this;
    const times = new Map<string, { jobs: number; seconds: number }>();
    return {
      async run(jobs: readonly Job[], onEvent: (event: RunEvent) => void): Promise<JobResult[]> {
        const results: JobResult[] = [];
        for (const job of jobs) {
          const start = clock();
          results.push(await ctx.runLocal(job, onEvent)); // a failing job rejects the batch
          const t = times.get(job.kind) ?? { jobs: 0, seconds: 0 };
          times.set(job.kind, { jobs: t.jobs + 1, seconds: t.seconds + (clock() - start) });
        }
        return results;
      },
      async dispose(): Promise<void> {
        log?.info(summary(times));
      },
    };
  }
}
