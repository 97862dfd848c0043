/**
 * Training backends (extension point `training-backend`): compile IR graphs and run them. A backend
 * knows nothing about models or optimisers; peftkit builds forward and backward graphs itself
 * (@peftkit/graph) and keeps trainable state in TypeScript, so a backend is only "compile + run".
 */
import type { Graph, TensorData } from '@peftkit/graph';

export interface CompiledProgram {
  /** Input names the program expects. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /**
   * Run once. Feeds are read, not kept; only the requested outputs are returned (keep fetches to
   * small tensors: losses, logits, parameter gradients).
   */
  run(
    feeds: Readonly<Record<string, TensorData>>,
    fetches: readonly string[],
  ): Promise<Record<string, TensorData>>;
}

export interface BackendDescription {
  name: string;
  /** Runtime and version (`onnxruntime-node 1.30.0`). */
  runtime: string;
  /** Execution provider actually in use (`cpu`, `cuda`). */
  provider: string;
  /** Execution providers this runtime can load on this machine. */
  available: string[];
  threads: number;
  /**
   * True when every compiled program uses one copy of the frozen weights that the backend holds
   * once (the first program brings it), instead of a copy per program. The workbench's memory
   * check counts a copy of the weights for a program only where it brings one.
   */
  sharesWeights?: boolean;
}

export interface TrainingBackend {
  describe(): BackendDescription;
  /**
   * Compile the graph `build()` returns, or reuse the program compiled earlier under `key` (the key
   * must identify the graph structure; `build` is only called on a miss).
   */
  compile(key: string, build: () => Graph): Promise<CompiledProgram>;
  /** Forget a compiled program (pruned supernets free their old sessions). */
  release(key: string): Promise<void>;
  dispose(): Promise<void>;
}
