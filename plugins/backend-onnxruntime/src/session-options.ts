/** ONNX Runtime session options from the backend's options. */
import type { InferenceSession } from 'onnxruntime-node';
import type { Provider, ResolvedOptions } from './options.js';

export function sessionOptions(o: ResolvedOptions, provider: Provider): InferenceSession.SessionOptions {
  return {
    executionProviders: provider === 'cuda' ? [{ name: 'cuda', deviceId: o.cudaDeviceId }] : ['cpu'],
    intraOpNumThreads: o.intraOpThreads,
    interOpNumThreads: o.interOpThreads,
    executionMode: 'sequential',
    graphOptimizationLevel: o.graphOptimizationLevel,
    enableCpuMemArena: o.memArena,
    enableMemPattern: o.memPattern,
    logSeverityLevel: LOG_LEVELS[o.logLevel],
    // Session configuration entries (onnxruntime_session_options_config_keys.h), flattened by the
    // binding to `session.intra_op.allow_spinning` and so on.
    extra: {
      session: {
        intra_op: { allow_spinning: o.allowSpinning ? '1' : '0' },
        inter_op: { allow_spinning: o.allowSpinning ? '1' : '0' },
        disable_prepacking: o.prepacking ? '0' : '1',
      },
    },
  };
}

const LOG_LEVELS = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 } as const;
