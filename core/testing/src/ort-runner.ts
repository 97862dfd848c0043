/**
 * Run IR graphs directly in ONNX Runtime (in-process, one session per graph object), for tests and
 * gradient checks. Production code goes through a TrainingBackend instead.
 */
import {
  type Graph,
  type GraphRunner,
  type SerializedModel,
  type TensorData,
  serialize,
} from '@peftkit/graph';
import ort from 'onnxruntime-node';

const sessions = new WeakMap<object, Promise<ort.InferenceSession>>();

function session(model: SerializedModel, key: object): Promise<ort.InferenceSession> {
  let s = sessions.get(key);
  if (!s) {
    s = ort.InferenceSession.create(model.model, {
      externalData: model.externalData.map((e) => ({ path: e.path, data: e.data })),
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    sessions.set(key, s);
  }
  return s;
}

async function run(s: ort.InferenceSession, feeds: Record<string, TensorData>, fetches: readonly string[]) {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) {
    // onnxruntime-node rejects typed arrays over a SharedArrayBuffer (the backbones' weights): copy those.
    const data = t.data.buffer instanceof SharedArrayBuffer ? t.data.slice() : t.data;
    ortFeeds[k] = new ort.Tensor(t.dtype as 'float32', data as Float32Array, [...t.shape]);
  }
  const out = await s.run(ortFeeds, [...fetches]);
  const res: Record<string, TensorData> = {};
  for (const [k, t] of Object.entries(out)) {
    res[k] = { dtype: t.type as TensorData['dtype'], shape: [...t.dims], data: t.data as Float32Array };
  }
  return res;
}

/** A GraphRunner for gradCheck. */
export const ortRunner: GraphRunner = async (model, feeds, fetches) =>
  run(await session(model, model), feeds, fetches);

const graphModels = new WeakMap<Graph, SerializedModel>();

/** Serialise `g` once and run it. */
export async function runGraph(
  g: Graph,
  feeds: Record<string, TensorData>,
  fetches: readonly string[],
): Promise<Record<string, TensorData>> {
  let m = graphModels.get(g);
  if (!m) {
    m = serialize(g);
    graphModels.set(g, m);
  }
  return run(await session(m, g), feeds, fetches);
}
