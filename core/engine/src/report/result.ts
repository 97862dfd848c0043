/** result.json: what a finished run records. docs/architecture.md describes every field. */
import type { BackendDescription, Metrics } from '@peftkit/api';

export interface ResultModule {
  /** `<type>@<point>` */
  id: string;
  type: string;
  point: string;
  /** Transformer layer of the point (absent for embeddings, pooler). */
  layer?: number;
  rank: number | null;
  params: number;
  options?: Record<string, unknown>;
}

export interface RunResult {
  peftkit: string;
  command: 'search' | 'train';
  preset: string | null;
  strategy: string;
  space: string | null;
  task: { name: string; description: string; metrics: string[]; sizes: Record<string, number> };
  backbone: { name: string; modelType: string; params: number };
  seed: number;
  budget: { params: number; ratio: number } | null;
  /** Trainable PEFT parameters of the found configuration (what the budget bounds). */
  trainableParams: number;
  /** Task-head parameters, always trained, not counted against the budget. */
  headParams: number;
  architecture: { modules: ResultModule[] };
  metrics: { validation: Metrics; test: Metrics };
  bestEpoch: number;
  timings: { searchSeconds: number; retrainSeconds: number; totalSeconds: number };
  /** Work the search did: gradient jobs (one batch forward-backward each), trial steps, evaluations. */
  searchCompute: { gradientJobs: number; trainSteps: number; evaluateJobs: number; trainJobs: number };
  peakRssMB: number;
  backend: BackendDescription;
  /** Strategy-specific summary (rounds, trials, curves). */
  search: Record<string, unknown> | null;
  finishedAt: string;
}
