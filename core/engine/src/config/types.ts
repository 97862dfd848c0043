/**
 * The run configuration: what a preset (plus `--set` overrides) resolves to once validated and
 * completed with defaults. docs/presets.md documents every field.
 */
import type { Architecture, BudgetSpec, ComponentRef, TrainRecipe } from '@peftkit/api';

export interface CompareStrategy {
  label: string;
  strategy: ComponentRef;
  space?: ComponentRef;
  /** Label of the strategy whose search compute this one is given (random search). */
  matchComputeOf?: string;
  recipes?: { search?: Partial<TrainRecipe>; retrain?: Partial<TrainRecipe> };
}

export interface CompareSpec {
  strategies: CompareStrategy[];
  tasks?: ComponentRef[];
  budgets?: BudgetSpec[];
}

export interface RunConfig {
  description?: string;
  /** Extra plugin packages or local plugin directories, resolved (absolute directories). */
  plugins: string[];
  backbone: ComponentRef;
  task: ComponentRef;
  /** Search space, for strategies that use one. */
  space?: ComponentRef;
  /** Its options may name collaborators, e.g. `{ importance: {name, options}, scheduler: {...} }`. */
  strategy?: ComponentRef;
  /** `{ params }` or `{ ratio }`, exactly one. */
  budget?: BudgetSpec;
  /**
   * Fixed architecture for `train`. A path in the preset (relative to the preset file) is read
   * and validated while the configuration is resolved, so the resolved value is always inline.
   */
  architecture?: Architecture;
  /**
   * `train` from a Hugging Face PEFT LoRA adapter directory (absolute once resolved; relative to the
   * preset in a preset): its modules are the architecture and its weights the starting point.
   */
  initAdapter?: string;
  /** Run seeds; each seed is one run. */
  seeds: number[];
  /** Complete recipes: the preset's fields over DEFAULT_RECIPE. */
  recipes: { search: TrainRecipe; retrain: TrainRecipe };
  backend: ComponentRef;
  executor: ComponentRef;
  /**
   * Memory limits: `passMiB`, activation memory of one pass; `limitMiB`, memory the process may use
   * (see Workbench).
   */
  memory?: { passMiB?: number; limitMiB?: number };
  /** Runs go to `<dir>/<name>-<YYYYMMDD-HHMMSS>-s<seed>/`; `dir` is relative to the working directory. */
  /** `tensorboard`: write `<run>/tensorboard/` event files (absent in older runs' config.json: on). */
  output: { dir: string; name: string; tensorboard?: boolean };
  /** The comparison grid of `peftkit compare` (strategies x tasks x budgets x seeds). */
  compare?: CompareSpec;
}

/**
 * Training recipe defaults, for both the search and the re-training recipes. Presets override
 * individual fields under `recipes.search` and `recipes.retrain`.
 */
export const DEFAULT_RECIPE: Readonly<TrainRecipe> = Object.freeze({
  epochs: 3,
  batchSize: 32,
  optimizer: 'adamw',
  lr: 3e-4,
  weightDecay: 1e-4,
  betas: [0.9, 0.999] as [number, number],
  eps: 1e-8,
  momentum: 0,
  schedule: 'linear',
  warmupRatio: 0,
  clipNorm: 2.0,
  evalEvery: 1,
  dropout: 0,
});

/** Defaults of the other optional fields. */
export const CONFIG_DEFAULTS = Object.freeze({
  seeds: [42] as readonly number[],
  backend: Object.freeze({ name: 'onnxruntime' }) as Readonly<ComponentRef>,
  executor: Object.freeze({ name: 'local' }) as Readonly<ComponentRef>,
  outputDir: 'runs',
  /** Run name when neither `output.name` nor a preset file gives one. */
  outputName: 'run',
});

/**
 * Configuration fields that name a component, and the extension kind each names. Their `options`
 * are validated against the component's schema.
 */
export const COMPONENT_FIELDS = [
  ['backbone', 'backbone'],
  ['task', 'task'],
  ['space', 'search-space'],
  ['strategy', 'search-strategy'],
  ['backend', 'training-backend'],
  ['executor', 'executor'],
] as const;
