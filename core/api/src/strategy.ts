/**
 * Search strategies (extension point `search-strategy`) and the jobs they ask for.
 *
 * A strategy never calls a backend. The engine asks it for jobs, runs them through an executor and
 * tells it the results (ask/tell, as in Optuna): `start` once, then `ask` → run → `tell` until `ask`
 * returns null, then `outcome`. Because the strategy only exchanges plain data with the executor,
 * executors can vary (in-process now, distributed later) and `state()` after any `tell` is a
 * complete checkpoint of the search.
 *
 * Call order and invariants:
 *   1. `start(ctx, resumed?)`: exactly once. With `resumed`, continue from that state as if the run
 *      had never stopped (same future asks, same outcome).
 *   2. `ask()`: returns the next batch of jobs (run in any order, possibly in parallel) or null when
 *      the search is over. It is not called again before the batch has been told.
 *   3. `tell(results)`: the results of the last batch, in the order of the jobs.
 *   4. `state()`: may be called after `start` and after any `tell`; must be JSON-serialisable apart
 *      from typed arrays (which checkpoints store as binary).
 *   5. `outcome()`: after `ask` returned null.
 */
import type { BackboneInfo, AttachmentPoint } from './backbone.js';
import type { Budget } from './budget.js';
import type { ParamSpec } from './peft.js';
import type { Rng } from './rng.js';
import type { Architecture, ModuleTypes, SpaceDefinition } from './space.js';
import type { Metrics, TaskInfo } from './task.js';

/** Trainable tensors by full name (`lora@layer.0.attn.q/A`, `head/weight`). */
export type ParamSet = Record<string, Float32Array>;

/**
 * Data a job reads. `search.weight` and `search.arch` are the two seeded halves of the training
 * split that bi-level searches use for weight and architecture updates.
 */
export type DataSplit = 'train' | 'validation' | 'test' | 'search.weight' | 'search.arch';

export interface TrainRecipe {
  epochs: number;
  batchSize: number;
  optimizer: 'adamw' | 'adam' | 'sgd';
  lr: number;
  /** Learning rate of the task head, when it should differ from `lr`. */
  headLr?: number;
  weightDecay: number;
  betas: [number, number];
  eps: number;
  momentum: number;
  schedule: 'linear' | 'cosine' | 'constant';
  warmupRatio: number;
  /** Global gradient-norm clipping threshold (null: no clipping). */
  clipNorm: number | null;
  /** Evaluate on the selection split every this many epochs. */
  evalEvery: number;
  /** Dropout on PEFT branches and the backbone during training (0 disables it). */
  dropout: number;
  /** Stop after this many optimiser steps (for short trial runs). */
  maxSteps?: number;
  /**
   * Batch examples of similar length together (each epoch still visits every example once, in an
   * order drawn from the seed): less padding, so faster steps. Default true.
   */
  groupByLength?: boolean;
}

/** One module of a compiled program. */
export interface ProgramModule {
  type: string;
  point: string;
  /** Size the module's parameters are built at (r_max for a supernet member). */
  rank: number | null;
  options?: Record<string, unknown>;
  /** Multiply the module by an architecture gate fed each step. */
  gated?: boolean;
  /** Mask its rank components with a mask fed each step. */
  rankMasked?: boolean;
}

/**
 * A model program: the run's backbone and task head plus these modules. Programs with equal specs
 * share one compiled session; pruning and freezing produce smaller specs.
 */
export interface ProgramSpec {
  modules: ProgramModule[];
}

/** Train a fixed architecture from fresh initialisation (trials, re-training). */
export interface TrainJob {
  kind: 'train';
  /** Unique within the run; used in the journal and for resuming an interrupted job. */
  id: string;
  phase: 'search' | 'retrain';
  architecture: Architecture;
  recipe: TrainRecipe;
  train: DataSplit;
  /** Split for model selection (best epoch by the task's first metric); null: keep the last. */
  select: DataSplit | null;
  /** Additional splits to score with the selected model. */
  score: DataSplit[];
  seed: number;
  /** Return the selected model's parameters (for export and standalone evaluation). */
  keepParams?: boolean;
}

export interface TrainResult {
  kind: 'train';
  /** Metrics of the selected model per scored split (selection split included). */
  metrics: Partial<Record<DataSplit, Metrics>>;
  bestEpoch: number;
  steps: number;
  seconds: number;
  trainableParams: number;
  headParams: number;
  /** Mean training loss per epoch. */
  curve: number[];
  params?: ParamSet;
  /**
   * Per-example predictions of the selected model on each scored split, in the split's order (class
   * indices; regression: values), with the labels: what example-level statistics (bootstrap
   * intervals, paired tests) of a comparison are computed from.
   */
  predictions?: Partial<Record<DataSplit, SplitPredictions>>;
}

export interface SplitPredictions {
  predictions: number[];
  labels: number[];
}

/** One forward/backward pass of a program on one batch, at given parameters and gates. */
export interface GradientJob {
  kind: 'gradient';
  program: ProgramSpec;
  params: ParamSet;
  /** One value per gated module, in program order (gradient-carrying and detached copies). */
  gates?: Float32Array;
  gatesDetached?: Float32Array;
  /** Rank masks of rank-masked modules, concatenated in program order (each of length `rank`). */
  rankMasks?: Float32Array;
  rankMasksDetached?: Float32Array;
  split: DataSplit;
  indices: readonly number[];
  /** Which gradients to return (the loss is always returned). */
  want: { params?: boolean | readonly string[]; gates?: boolean; rankMasks?: boolean };
  /** Enable training-mode dropout with this per-step seed. */
  dropoutSeed?: number;
}

export interface GradientResult {
  kind: 'gradient';
  loss: number;
  grads: ParamSet;
  gateGrads?: Float32Array;
  rankMaskGrads?: Float32Array;
}

/** Score a program on a whole split. */
export interface EvaluateJob {
  kind: 'evaluate';
  program: ProgramSpec;
  params: ParamSet;
  gates?: Float32Array;
  gatesDetached?: Float32Array;
  rankMasks?: Float32Array;
  rankMasksDetached?: Float32Array;
  split: DataSplit;
  batchSize: number;
}

export interface EvaluateResult {
  kind: 'evaluate';
  metrics: Metrics;
}

export type Job = TrainJob | GradientJob | EvaluateJob;
export type JobResult = TrainResult | GradientResult | EvaluateResult;
export type ResultOf<J extends Job> = J extends TrainJob
  ? TrainResult
  : J extends GradientJob
    ? GradientResult
    : EvaluateResult;

/** Parameter arithmetic and initialisation shared by every strategy (one implementation). */
export interface ModuleToolkit {
  readonly types: ModuleTypes;
  point(name: string): AttachmentPoint;
  /** Exact trainable parameters of one module. */
  count(type: string, point: string, rank: number | null, options?: Record<string, unknown>): number;
  /** Exact trainable PEFT parameters of an architecture (task head excluded). */
  countArchitecture(arch: Architecture): number;
  /** Parameter specs with full names. */
  specs(type: string, point: string, rank: number | null, options?: Record<string, unknown>): ParamSpec[];
  /** Fresh initial parameters of a program (modules and task head), from `rng`. */
  init(program: ProgramSpec, rng: Rng): ParamSet;
  /** Cut a module's parameters from rank `from` down to its leading `to` components. */
  slice(
    params: ParamSet,
    type: string,
    point: string,
    from: number,
    to: number,
    options?: Record<string, unknown>,
  ): ParamSet;
}

export interface StrategyEvent {
  /** `step`, `round`, `prune`, `freeze`, `trial`, `epoch`, `stage`, or a strategy-specific type. */
  type: string;
  [key: string]: unknown;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

export interface SearchContext {
  readonly backbone: BackboneInfo;
  readonly task: TaskInfo;
  readonly space: SpaceDefinition;
  readonly budget: Budget;
  /** Run seed; derive every random stream from it (`rng` is already seeded with it). */
  readonly seed: number;
  readonly rng: Rng;
  /** Number of examples in each split. */
  readonly splitSizes: Readonly<Record<DataSplit, number>>;
  /**
   * Token count of each example of a split (what `recipe.groupByLength` groups batches by; see
   * `searchBatches`). Optional for hand-made contexts: without it batches are not grouped.
   */
  readonly splitLengths?: Readonly<Partial<Record<DataSplit, ArrayLike<number>>>>;
  readonly recipes: { readonly search: TrainRecipe; readonly retrain: TrainRecipe };
  readonly modules: ModuleToolkit;
  /** Record an event in the run journal (and show progress). */
  emit(event: StrategyEvent): void;
  readonly log: Logger;
}

export interface SearchOutcome {
  architecture: Architecture;
  /**
   * When the strategy already trained the final model (AdaLoRA, manual configurations trained
   * inside the search), its result; otherwise the engine re-trains `architecture` from scratch.
   */
  final?: TrainResult;
  /** Strategy-specific summary recorded in result.json. */
  summary?: Record<string, unknown>;
  /**
   * Set (to the reason) when the architecture deliberately ignores the budget (full fine-tuning):
   * the engine then warns instead of rejecting an architecture over the budget.
   */
  budgetIgnored?: string;
}

/** What a strategy can check before anything runs (a comparison calls it before its first cell). */
export interface StrategyCheckContext {
  readonly backbone: BackboneInfo;
  readonly task: TaskInfo;
  readonly space: SpaceDefinition;
  readonly budget: Budget;
  readonly modules: ModuleToolkit;
}

export interface SearchStrategy {
  /**
   * Optional: throw a ConfigError when this strategy cannot run on this space, task and budget
   * (a budget below the smallest module), without running anything. `compare` calls it for every
   * cell of its grid before the first cell runs, so such a cell fails in seconds, not hours in.
   */
  check?(ctx: StrategyCheckContext): void;
  start(ctx: SearchContext, resumed?: unknown): void;
  ask(): readonly Job[] | null;
  tell(results: readonly JobResult[]): void;
  state(): unknown;
  outcome(): SearchOutcome;
}
