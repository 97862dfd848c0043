/**
 * Messages between the backend (main thread) and the worker thread that owns the ONNX Runtime
 * sessions. Tensors travel as plain {dtype, shape, data}; typed arrays over a SharedArrayBuffer are
 * shared, other buffers are handed over in the transfer list (see backend.ts for who copies what).
 */
import type { TensorData } from '@peftkit/graph';
import type { ResolvedOptions } from './options.js';
import type { NewWeight, WeightRef } from './weights.js';

export interface CudaProbe {
  /** The CUDA provider library loaded and a session could be created with it. */
  loads: boolean;
  /** Why not (cleaned ORT message and missing files or libraries); empty when it loads. */
  reason: string;
  /** Folder the provider libraries must be copied into. */
  binDir: string;
}

export interface InitResult {
  ortVersion: string;
  /** onnxruntime-node's listSupportedBackends(): what the package carries. */
  bundled: { name: string; bundled: boolean }[];
  cuda: CudaProbe;
}

export interface ExternalBlob {
  path: string;
  data: Uint8Array;
}

export type Request =
  | { op: 'init'; id: number; options: ResolvedOptions; probeCuda: boolean }
  | {
      op: 'compile';
      id: number;
      key: string;
      provider: 'cpu' | 'cuda';
      model: Uint8Array;
      externalData: ExternalBlob[];
      /** Frozen weights fed from the worker's store on every run (see weights.ts). */
      weights: WeightRef[];
      /** Weights the store does not hold yet; stored before the session is created. */
      newWeights: NewWeight[];
    }
  | { op: 'run'; id: number; key: string; feeds: Record<string, TensorData>; fetches: string[] }
  /** Release a program's session (if any) and drop weights no program uses any more. */
  | { op: 'release'; id: number; key: string; dropWeights: number[] }
  | { op: 'dispose'; id: number };

export interface CompileResult {
  inputs: string[];
  outputs: string[];
  /** Milliseconds spent in InferenceSession.create. */
  createMs: number;
}

export interface RunResult {
  outputs: Record<string, TensorData>;
  /** Milliseconds spent in session.run inside the worker (excludes message passing). */
  runMs: number;
}

export type Response =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string; ortMessage?: string };
