/**
 * A minimal TrainingBackend for tests: ONNX Runtime in this thread, one session per key. Real runs
 * use @peftkit/plugin-onnxruntime (worker thread, provider selection, error cleaning).
 */
import type { BackendDescription, CompiledProgram, TrainingBackend } from '@peftkit/api';
import { type Graph, type TensorData, serialize } from '@peftkit/graph';
import ort from 'onnxruntime-node';

export class InProcessBackend implements TrainingBackend {
  private readonly programs = new Map<string, Promise<CompiledProgram>>();
  /** Number of graphs compiled (tests use it to check caching and folding). */
  compiled = 0;

  constructor(private readonly threads = 1) {}

  describe(): BackendDescription {
    return {
      name: 'in-process',
      runtime: `onnxruntime-node ${ort.env.versions.common}`,
      provider: 'cpu',
      available: ['cpu'],
      threads: this.threads,
    };
  }

  compile(key: string, build: () => Graph): Promise<CompiledProgram> {
    let p = this.programs.get(key);
    if (!p) {
      p = this.create(build());
      this.programs.set(key, p);
    }
    return p;
  }

  private async create(g: Graph): Promise<CompiledProgram> {
    this.compiled++;
    const m = serialize(g);
    const session = await ort.InferenceSession.create(m.model, {
      externalData: m.externalData.map((e) => ({ path: e.path, data: e.data })),
      intraOpNumThreads: this.threads,
      interOpNumThreads: 1,
    });
    return {
      inputs: session.inputNames,
      outputs: session.outputNames,
      async run(feeds, fetches) {
        const f: Record<string, ort.Tensor> = {};
        for (const [k, t] of Object.entries(feeds)) {
          // onnxruntime-node rejects typed arrays over a SharedArrayBuffer (the backbones' weights).
          const data = t.data.buffer instanceof SharedArrayBuffer ? t.data.slice() : t.data;
          f[k] = new ort.Tensor(t.dtype as 'float32', data as Float32Array, [...t.shape]);
        }
        const out = await session.run(f, [...fetches]);
        const res: Record<string, TensorData> = {};
        for (const [k, t] of Object.entries(out))
          res[k] = { dtype: t.type as TensorData['dtype'], shape: [...t.dims], data: t.data as Float32Array };
        return res;
      },
    };
  }

  async release(key: string): Promise<void> {
    this.programs.delete(key);
  }

  async dispose(): Promise<void> {
    this.programs.clear();
  }
}
