/**
 * Options of the `onnxruntime` training backend: the JSON schema presets are validated against, and
 * the same checks for callers that construct the backend directly (tests, the benchmark).
 */
import { availableParallelism } from 'node:os';
import { ConfigError, type JsonSchema } from '@peftkit/api';

export type Provider = 'cpu' | 'cuda';
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';
export type OrtLogLevel = 'verbose' | 'info' | 'warning' | 'error' | 'fatal';

export interface OnnxRuntimeOptions {
  provider?: Provider;
  fallbackToCpu?: boolean;
  intraOpThreads?: number;
  interOpThreads?: number;
  graphOptimizationLevel?: GraphOptimizationLevel;
  allowSpinning?: boolean;
  memArena?: boolean;
  memPattern?: boolean;
  prepacking?: boolean;
  shareWeights?: boolean;
  cudaDeviceId?: number;
  logLevel?: OrtLogLevel;
}

export type ResolvedOptions = Required<OnnxRuntimeOptions>;

/** Default intra-op thread count: every core Node reports (2 on the reference machine). */
export function defaultIntraOpThreads(): number {
  return Math.max(1, availableParallelism());
}

export const optionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    provider: {
      type: 'string',
      enum: ['cpu', 'cuda'],
      default: 'cpu',
      description:
        'Execution provider. "cuda" needs the CUDA provider libraries, which the npm package of onnxruntime-node does not ship (the plugin README says how to install them).',
    },
    fallbackToCpu: {
      type: 'boolean',
      default: false,
      description:
        'When provider is "cuda" and the CUDA provider cannot be loaded, log a warning and run on the CPU instead of failing.',
    },
    intraOpThreads: {
      type: 'integer',
      minimum: 1,
      maximum: 1024,
      description:
        "Threads ONNX Runtime uses inside one operator (its pool plus the calling thread). Default: the number of CPUs Node reports (os.availableParallelism()), which is 2 on the reference machine; ONNX Runtime's own default is the number of physical cores.",
    },
    interOpThreads: {
      type: 'integer',
      minimum: 1,
      maximum: 1024,
      default: 1,
      description:
        'Threads for running independent operators in parallel. Sessions run sequentially, so this only matters above 1 with parallel execution, which peftkit does not use; keep 1.',
    },
    graphOptimizationLevel: {
      type: 'string',
      enum: ['disabled', 'basic', 'extended', 'all'],
      default: 'all',
      description:
        "ONNX Runtime graph optimisations: 'basic' folds constants and removes redundant nodes, 'extended' fuses (Gelu, LayerNorm, FusedMatMul for transposed operands), 'all' adds layout optimisations.",
    },
    allowSpinning: {
      type: 'boolean',
      default: true,
      description:
        "Let idle intra-op threads spin (busy-wait) for the next task instead of sleeping: faster small operators, at the cost of CPU time while waiting. Turn off when other work shares the cores (ONNX Runtime 'session.intra_op.allow_spinning').",
    },
    memArena: {
      type: 'boolean',
      default: true,
      description:
        "Use ONNX Runtime's CPU memory arena (reuses activation buffers between runs; the arena keeps its high-water mark allocated).",
    },
    memPattern: {
      type: 'boolean',
      default: false,
      description:
        "Plan activation buffers from the first run's allocation pattern (ONNX Runtime 'enable_mem_pattern'). Off by default: with the memory arena on, the planned block comes on top of the arena's cached buffers from the first run, which nearly doubled the activation memory of a training step (docs/benchmarks.md).",
    },
    prepacking: {
      type: 'boolean',
      default: false,
      description:
        "Let MatMul/Gemm kernels keep pre-packed copies of constant weights ('session.disable_prepacking' when off). Off by default: a training graph uses each frozen weight in a forward MatMul and a backward Gemm, and the packed copies cost about 1.5x the frozen linear weights; packing on the fly costs little when a step has hundreds of tokens. Turn on for small-batch inference.",
    },
    shareWeights: {
      type: 'boolean',
      default: true,
      description:
        'On the CPU, hold each frozen weight once for all programs: weights are graph inputs fed from one copy in the worker, instead of initializers that ONNX Runtime copies into every session (external data). A search holds a train and an evaluation program at once, so this saves a copy of the weights (415 MiB on a BERT-base); a train step with fed weights ran as fast as with initializers on a quiet machine (docs/benchmarks.md). CUDA sessions always keep their own copy on the GPU.',
    },
    cudaDeviceId: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description: 'GPU used when provider is "cuda".',
    },
    logLevel: {
      type: 'string',
      enum: ['verbose', 'info', 'warning', 'error', 'fatal'],
      default: 'fatal',
      description:
        "Severity from which ONNX Runtime writes its own log lines to stderr. Errors reach the caller as exceptions anyway, so the default 'fatal' keeps stderr clean; 'warning' shows ONNX Runtime's optimizer and provider notes (the environment part of this is process-wide and fixed by the first session created).",
    },
  },
};

type Prop = { type: string; enum?: string[]; minimum?: number; maximum?: number; default?: unknown };

/**
 * Validate `options` against the schema and fill in the defaults. Errors are ConfigErrors naming
 * the option and what was expected.
 */
export function resolveOptions(options: Readonly<Record<string, unknown>> = {}): ResolvedOptions {
  const props = optionsSchema.properties as Record<string, Prop>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    const prop = props[key];
    if (!prop) {
      throw new ConfigError(
        `unknown option; expected one of ${Object.keys(props).join(', ')}`,
        undefined,
        `training-backend onnxruntime: options.${key}`,
      );
    }
    if (value === undefined) continue;
    const where = `training-backend onnxruntime: options.${key}`;
    const found = `${typeof value} ${JSON.stringify(value)}`;
    if (prop.type === 'boolean' && typeof value !== 'boolean') {
      throw new ConfigError(`expected true or false, found ${found}`, undefined, where);
    }
    if (prop.type === 'string' && (typeof value !== 'string' || !prop.enum!.includes(value))) {
      throw new ConfigError(`expected one of ${prop.enum!.join(', ')}, found ${found}`, undefined, where);
    }
    if (prop.type === 'integer') {
      const ok =
        Number.isInteger(value) &&
        (prop.minimum === undefined || (value as number) >= prop.minimum) &&
        (prop.maximum === undefined || (value as number) <= prop.maximum);
      if (!ok) {
        throw new ConfigError(
          `expected an integer in [${prop.minimum ?? '-inf'}, ${prop.maximum ?? 'inf'}], found ${found}`,
          undefined,
          where,
        );
      }
    }
    out[key] = value;
  }
  for (const [key, prop] of Object.entries(props)) {
    if (out[key] === undefined && prop.default !== undefined) out[key] = prop.default;
  }
  out.intraOpThreads ??= defaultIntraOpThreads();
  return out as unknown as ResolvedOptions;
}
