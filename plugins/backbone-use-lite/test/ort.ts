/** Test helper: build the USE-lite encoder graph once and run padded batches in ONNX Runtime. */
import type { EncoderHooks } from '@peftkit/api';
import { type TensorData, Graph, serialize, tensor } from '@peftkit/graph';
import { identityHooks } from '@peftkit/nn';
import ort from 'onnxruntime-node';
import type { UseLiteBackbone } from '../src/index.js';

function toOrt(t: TensorData): ort.Tensor {
  // onnxruntime-node rejects typed arrays over a SharedArrayBuffer (the backbone's weights): copy those.
  const data = t.data.buffer instanceof SharedArrayBuffer ? t.data.slice() : t.data;
  return new ort.Tensor(t.dtype as 'float32', data as Float32Array, [...t.shape]);
}

/** ids [B, T] (padded with padId) and mask [B, T] for a batch of token-id rows. */
export function padBatch(
  rows: readonly (readonly number[])[],
  padId: number,
): { ids: TensorData; mask: TensorData } {
  const b = rows.length;
  const t = Math.max(1, ...rows.map((r) => r.length));
  const ids = new Array<number>(b * t).fill(padId);
  const mask = new Array<number>(b * t).fill(0);
  rows.forEach((row, i) =>
    row.forEach((id, j) => {
      ids[i * t + j] = id;
      mask[i * t + j] = 1;
    }),
  );
  return { ids: tensor('int64', [b, t], ids), mask: tensor('float32', [b, t], mask) };
}

export async function session(g: Graph): Promise<ort.InferenceSession> {
  const model = serialize(g);
  return ort.InferenceSession.create(model.model, {
    externalData: model.externalData.map((e) => ({ path: e.path, data: e.data })),
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
}

export async function runBatch(
  s: ort.InferenceSession,
  rows: readonly (readonly number[])[],
  padId: number,
  outputs: readonly string[],
): Promise<Record<string, Float32Array>> {
  const { ids, mask } = padBatch(rows, padId);
  const out = await s.run({ ids: toOrt(ids), mask: toOrt(mask) }, [...outputs]);
  return Object.fromEntries(outputs.map((o) => [o, out[o]!.data as Float32Array]));
}

/** The encoder with identity hooks: one embedding per row of token ids. */
export async function ortEmbedder(
  backbone: UseLiteBackbone,
  hooks: (g: Graph) => EncoderHooks = identityHooks,
): Promise<(rows: readonly (readonly number[])[]) => Promise<Float32Array[]>> {
  const g = new Graph('use-lite');
  const ids = g.input('ids', 'int64', ['B', 'T']);
  const mask = g.input('mask', 'float32', ['B', 'T']);
  g.output(backbone.encode(g, { ids, mask }, hooks(g), { train: false }), 'embedding');
  const s = await session(g);
  const width = backbone.info.pooledSize;
  return async (rows) => {
    const { embedding } = await runBatch(s, rows, backbone.tokenizer.padId, ['embedding']);
    return rows.map((_, i) => embedding!.slice(i * width, (i + 1) * width));
  };
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
