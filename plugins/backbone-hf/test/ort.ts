/** Test helper: run serialised graphs in ONNX Runtime (a dev dependency of this package only). */
import ort from 'onnxruntime-node';
import type { GraphRunner, TensorData } from '@peftkit/graph';

/** One session per serialised model and level (finite differences run the same model many times). */
const sessions = new WeakMap<object, Map<string, Promise<ort.InferenceSession>>>();

const ORT_TYPES: Record<string, string> = { float32: 'float32', int64: 'int64', bool: 'bool' };

/**
 * A runner at the given optimisation level. Note: from level 'basic' on, ONNX Runtime's
 * EliminateDropout rewrite removes Dropout nodes whose mask output is unused, even when
 * training_mode is true, so forward-only checks of dropout need level 'disabled'.
 */
export function ortRunner(level: 'disabled' | 'all' = 'all'): GraphRunner {
  return (model, feeds, fetches) => run(model, feeds, fetches, level);
}

export const runOrt: GraphRunner = ortRunner('all');

async function run(
  model: Parameters<GraphRunner>[0],
  feeds: Parameters<GraphRunner>[1],
  fetches: Parameters<GraphRunner>[2],
  level: 'disabled' | 'all',
): Promise<Record<string, TensorData>> {
  const byLevel = sessions.get(model) ?? new Map<string, Promise<ort.InferenceSession>>();
  sessions.set(model, byLevel);
  let pending = byLevel.get(level);
  if (!pending) {
    pending = ort.InferenceSession.create(model.model, {
      externalData: model.externalData.map((e) => ({ path: e.path, data: e.data })),
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: level,
    });
    byLevel.set(level, pending);
  }
  const session = await pending;
  {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) {
      // onnxruntime-node rejects typed arrays over a SharedArrayBuffer (the backbone's weights): copy those.
      const data = t.data.buffer instanceof SharedArrayBuffer ? t.data.slice() : t.data;
      ortFeeds[k] = new ort.Tensor(ORT_TYPES[t.dtype] as 'float32', data as Float32Array, [...t.shape]);
    }
    const out = await session.run(ortFeeds, [...fetches]);
    const res: Record<string, TensorData> = {};
    for (const [k, t] of Object.entries(out)) {
      res[k] = { dtype: t.type as TensorData['dtype'], shape: [...t.dims], data: t.data as Float32Array };
    }
    return res;
  }
}
