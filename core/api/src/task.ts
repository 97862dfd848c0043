/**
 * Tasks: labelled text data with a fixed, seeded, documented split, the metrics that score it, and
 * the head the model needs (classes or a regression target).
 */

export interface Example {
  text: string;
  /** Second text of a sentence-pair task. */
  pair?: string;
  /** Class index for classification, target value for regression. */
  label: number;
  /** Group key used to keep related examples in one split (the speech of a SOTU sentence). */
  group?: string;
}

export type MetricName = 'accuracy' | 'f1' | 'macro_f1' | 'mcc' | 'pearson' | 'spearman';

export type Metrics = Partial<Record<MetricName, number>> & { loss?: number };

export interface TaskInfo {
  /** Registered task name (`sentiment`, `spam`, `sotu-party`, `tsv`, `jsonl`). */
  readonly name: string;
  readonly type: 'classification' | 'regression';
  /** Number of classes (1 for regression). */
  readonly numClasses: number;
  readonly labelNames?: readonly string[];
  readonly pair: boolean;
  /** Metrics reported for this task; the first one selects checkpoints. */
  readonly metrics: readonly MetricName[];
  /** Human-readable description of the data and its split, recorded in result.json. */
  readonly description: string;
}

export type SplitName = 'train' | 'validation' | 'test';

export interface Task {
  readonly info: TaskInfo;
  /** Deterministic splits (the same options and seed give the same rows in the same order). */
  readonly splits: Readonly<Record<SplitName, readonly Example[]>>;
}
