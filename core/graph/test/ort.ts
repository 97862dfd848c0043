/** Test helper: run serialised graphs in ONNX Runtime (a dev dependency of this package only). */
import ort from 'onnxruntime-node';
import type { GraphRunner, SerializedModel, TensorData } from '../src/index.js';

const sessions = new WeakMap<SerializedModel, Promise<ort.InferenceSession>>();

const ORT_TYPES: Record<string, string> = {
  float32: 'float32',
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
  bool: 'bool',
  uint8: 'uint8',
  int8: 'int8',
};

export const runOrt: GraphRunner = async (model, feeds, fetches) => {
  let s = sessions.get(model);
  if (!s) {
    s = ort.InferenceSession.create(model.model, {
      externalData: model.externalData.map((e) => ({ path: e.path, data: e.data })),
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    sessions.set(model, s);
  }
  const session = await s;
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds))
    ortFeeds[k] = new ort.Tensor(ORT_TYPES[t.dtype] as 'float32', t.data as Float32Array, [...t.shape]);
  const out = await session.run(ortFeeds, [...fetches]);
  const res: Record<string, TensorData> = {};
  for (const [k, t] of Object.entries(out)) {
    res[k] = { dtype: t.type as TensorData['dtype'], shape: [...t.dims], data: t.data as Float32Array };
  }
  return res;
};
