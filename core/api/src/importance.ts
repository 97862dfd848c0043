/**
 * Importance estimators (extension point `importance-estimator`): turn per-module parameters and
 * gradients into a score per module. BIPEFT's sensitivity is one; plugins may add others.
 */

/** One module's tensors at one step. Arrays are read-only views; do not keep references. */
export interface ImportanceSample {
  readonly id: string;
  /** The module's parameter count at its full (largest) rank. */
  readonly size: number;
  readonly params: readonly Float32Array[];
  /** Gradients of the weight-batch loss, in the order of `params` (absent if not computed). */
  readonly weightGrads?: readonly Float32Array[];
  /** Gradients of the architecture-batch loss, in the order of `params`. */
  readonly archGrads?: readonly Float32Array[];
}

export interface ImportanceEstimator {
  /**
   * Update the scores with one iteration's samples. A module absent from `samples` (a pruned one)
   * is updated as if its raw score were 0.
   */
  observe(step: number, samples: readonly ImportanceSample[]): void;
  /** Current score of every module seen so far (higher is more important). */
  scores(): ReadonlyMap<string, number>;
  state(): unknown;
  restore(state: unknown): void;
}
