/**
 * The local executor: runs jobs one after another in this process (ONNX Runtime itself runs in the
 * backend's worker thread, so the event loop stays free for progress reporting). Train jobs can be
 * checkpointed at epoch ends through `trainHooks`.
 */
import type { Executor, Job, JobResult, RunEvent } from '@peftkit/api';
import { runEvaluateJob, runGradientJob } from './jobs.js';
import { type TrainHooks, runTrainJob } from './trainer.js';
import type { Workbench } from './workbench.js';

export class LocalExecutor implements Executor {
  constructor(
    private readonly wb: Workbench,
    /** Per-job checkpoint hooks for long train jobs (the orchestrator provides them). */
    private readonly trainHooks: (jobId: string) => Omit<TrainHooks, 'onEvent'> = () => ({}),
  ) {}

  async run(jobs: readonly Job[], onEvent: (e: RunEvent) => void): Promise<JobResult[]> {
    const results: JobResult[] = [];
    for (const job of jobs) {
      switch (job.kind) {
        case 'train':
          results.push(await runTrainJob(this.wb, job, { ...this.trainHooks(job.id), onEvent }));
          break;
        case 'gradient':
          results.push(await runGradientJob(this.wb, job));
          break;
        case 'evaluate':
          results.push(await runEvaluateJob(this.wb, job));
          break;
        default:
          throw new Error(`unknown job kind ${(job as { kind: string }).kind}`);
      }
    }
    return results;
  }

  async dispose(): Promise<void> {}
}
