/**
 * The local executor: runs jobs one after another in this process (ONNX Runtime itself runs in the
 * backend's worker thread, so the event loop stays free for progress reporting).
 */
import type { Executor, ExecutorFactory, Job, JobResult, JobRunner, RunEvent } from '@peftkit/api';
import { runEvaluateJob, runGradientJob } from './jobs.js';
import { type TrainHooks, runTrainJob } from './trainer.js';
import { Workbench } from './workbench.js';

/** The job runner over a workbench; `trainHooks` checkpoints long train jobs at epoch ends. */
export function workbenchRunner(
  wb: Workbench,
  trainHooks: (jobId: string) => Omit<TrainHooks, 'onEvent'> = () => ({}),
): JobRunner {
  return async (job, onEvent) => {
    switch (job.kind) {
      case 'train':
        return runTrainJob(wb, job, { ...trainHooks(job.id), onEvent });
      case 'gradient':
        return runGradientJob(wb, job);
      case 'evaluate':
        return runEvaluateJob(wb, job);
      default:
        throw new Error(`unknown job kind ${(job as { kind: string }).kind}`);
    }
  };
}

export class LocalExecutor implements Executor {
  private readonly runner: JobRunner;

  constructor(runner: JobRunner | Workbench) {
    this.runner = runner instanceof Workbench ? workbenchRunner(runner) : runner;
  }

  async run(jobs: readonly Job[], onEvent: (e: RunEvent) => void): Promise<JobResult[]> {
    const results: JobResult[] = [];
    for (const job of jobs) results.push(await this.runner(job, onEvent));
    return results;
  }

  async dispose(): Promise<void> {}
}

/** The `local` executor contribution's factory. */
export const localExecutorFactory: ExecutorFactory = {
  open: (ctx) => new LocalExecutor(ctx.runLocal),
};
