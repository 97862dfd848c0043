/**
 * Parameter budgets and the budget scheduler (extension point `budget-scheduler`): the part of a
 * search that turns the budget into decisions during the search (BIPEFT: when to start pruning,
 * how many modules to remove per round, which ranks to freeze, when to stop).
 */

/** A budget as written in a preset: an absolute count or a fraction of the backbone parameters. */
export interface BudgetSpec {
  params?: number;
  ratio?: number;
}

export interface Budget {
  /** Maximum trainable PEFT parameters of the found configuration (task heads excluded). */
  readonly params: number;
  /** `params` as a fraction of the backbone's parameters. */
  readonly ratio: number;
  readonly backboneParams: number;
}

export function resolveBudget(spec: BudgetSpec, backboneParams: number): Budget {
  if ((spec.params === undefined) === (spec.ratio === undefined)) {
    throw new Error(
      'a budget needs exactly one of `params` (absolute count) or `ratio` (fraction of the backbone)',
    );
  }
  const params = spec.params ?? Math.floor(spec.ratio! * backboneParams);
  if (!Number.isFinite(params) || params <= 0) throw new Error(`budget must be positive, got ${params}`);
  return { params, ratio: params / backboneParams, backboneParams };
}

/** What the scheduler knows about one candidate module at a step. */
export interface ModuleStatus {
  readonly id: string;
  /** Parameters at the module's largest candidate rank (n_j). */
  readonly fullSize: number;
  /**
   * Expected size at the current rank distribution: Σ_k w_jk · (exact parameter count at rank R_k)
   * (n_j for unranked). BIPEFT's released code approximates it by n_j · Σ_k w_jk R_k / r_max.
   */
  readonly rankedSize: number;
  /**
   * Exact parameter count at the rank the module would be derived with now: its frozen rank, else
   * the argmax of its rank logits (fullSize for unranked modules). Absent: rankedSize stands in.
   * Schedulers that must land within the budget count the last rounds with it, so that the size they
   * drive to the budget is the size of the architecture the strategy derives.
   */
  readonly derivedSize?: number;
  /**
   * Exact parameter count at each of the module's candidate ranks, in the candidate's order (ranked
   * modules only). A scheduler that lands within the budget may set a survivor to a smaller one of
   * these ranks instead of pruning it (`ScheduleDecision.lower`).
   */
  readonly rankSizes?: readonly number[];
  /** Probability that the module is on (softmax of its binary logits). */
  readonly onProbability: number;
  /** Current importance score (higher is more important). */
  readonly importance: number;
  readonly pruned: boolean;
  readonly rankFrozen: boolean;
  /** Rank logits (ranked modules only); the scheduler may keep a history of them. */
  readonly rankLogits?: Float32Array;
}

export interface ScheduleInput {
  readonly step: number;
  readonly epoch: number;
  readonly budget: number;
  readonly modules: readonly ModuleStatus[];
}

export interface ScheduleDecision {
  /** Modules to remove permanently. */
  readonly prune: readonly string[];
  /** Ranked modules whose rank choice is frozen from now on (at argmax of their logits). */
  readonly freeze: readonly string[];
  /**
   * Survivors set (and frozen) to a smaller candidate rank: index into the candidate's ranks, below
   * the one the module would be derived with. Applied after `freeze`.
   */
  readonly lower?: readonly { readonly id: string; readonly rankIndex: number }[];
  /** The schedule is complete: the search may stop. */
  readonly finished: boolean;
  /** Expected trainable parameters before this decision, as the scheduler counts them. */
  readonly expectedParams: number;
  /** Details for the journal (trigger similarity, round number, Δ). */
  readonly event?: Readonly<Record<string, unknown>>;
}

export interface BudgetScheduler {
  /**
   * Called after every weight step once pruning may begin (the strategy decides when that is).
   * Returns what to prune and freeze now. Must be deterministic given its inputs and state.
   */
  decide(input: ScheduleInput): ScheduleDecision;
  /** Expected trainable parameters of the current distribution, as this scheduler counts them. */
  expectedParams(modules: readonly ModuleStatus[]): number;
  state(): unknown;
  restore(state: unknown): void;
}
