/**
 * The worker thread that owns every ONNX Runtime session of one backend. `InferenceSession.create`
 * and `run` are synchronous native calls in onnxruntime-node (run is merely deferred with
 * setImmediate), so running them here keeps the main thread's event loop free.
 */
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { TensorData } from '@peftkit/graph';
import { diagnoseCuda, probeCuda } from './cuda.js';
import { cleanOrtMessage, messageOf } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { CompileResult, InitResult, Request, Response, RunResult } from './protocol.js';
import { sessionOptions } from './session-options.js';

const port = parentPort;
if (!port) throw new Error('worker.js runs as a worker thread of the onnxruntime backend');

let options: ResolvedOptions | undefined;

interface Program {
  session: ort.InferenceSession;
  /** Its frozen-weight inputs, fed from `weights` on every run. */
  weightFeeds: Record<string, ort.Tensor>;
}
const sessions = new Map<string, Program>();
/**
 * Frozen weights by id, one tensor each however many sessions take it (weights.ts). Stored and
 * dropped synchronously when a request arrives, so that requests interleaving at their awaits see
 * the order in which the caller sent them.
 */
const weights = new Map<number, ort.Tensor>();

function toOrt(name: string, t: TensorData): ort.Tensor {
  // onnxruntime-node rejects typed arrays over a SharedArrayBuffer ("Invalid argument"): copy those.
  const data = t.data.buffer instanceof SharedArrayBuffer ? t.data.slice() : t.data;
  try {
    return new ort.Tensor(t.dtype as 'float32', data as Float32Array, [...t.shape]);
  } catch (e) {
    throw new Error(`feed "${name}": ${messageOf(e)}`);
  }
}

/** Output tensors own fresh buffers; hand them over instead of copying them again. */
function fromOrt(t: ort.Tensor, transfer: ArrayBuffer[]): TensorData {
  let data = t.data as Float32Array;
  const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  if (!whole || data.buffer instanceof SharedArrayBuffer) data = data.slice();
  transfer.push(data.buffer as ArrayBuffer);
  return { dtype: t.type as TensorData['dtype'], shape: [...t.dims], data };
}

async function handle(req: Request, transfer: ArrayBuffer[]): Promise<unknown> {
  switch (req.op) {
    case 'init': {
      options = req.options;
      ort.env.logLevel = options.logLevel;
      const result: InitResult = {
        ortVersion: ort.env.versions.node ?? ort.env.versions.common,
        bundled: ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled })),
        cuda: req.probeCuda ? await probeCuda(options) : diagnoseCuda(),
      };
      return result;
    }
    case 'compile': {
      if (!options) throw new Error('worker used before init');
      for (const w of req.newWeights) weights.set(w.id, toOrt(`weight ${w.id}`, w.tensor));
      const weightFeeds: Record<string, ort.Tensor> = {};
      for (const r of req.weights) {
        const t = weights.get(r.id);
        if (!t) throw new Error(`weight input "${r.input}": weight ${r.id} is not held by the worker`);
        weightFeeds[r.input] = t;
      }
      const t0 = performance.now();
      const session = await ort.InferenceSession.create(req.model, {
        ...sessionOptions(options, req.provider),
        externalData: req.externalData.map((e) => ({ path: e.path, data: e.data })),
      });
      // ONNX Runtime copies in-memory external data into its own initializers, so the buffers
      // received here are not referenced after create (they are garbage once this returns).
      await sessions.get(req.key)?.session.release();
      sessions.set(req.key, { session, weightFeeds });
      const result: CompileResult = {
        inputs: [...session.inputNames],
        outputs: [...session.outputNames],
        createMs: performance.now() - t0,
      };
      return result;
    }
    case 'run': {
      const program = sessions.get(req.key);
      if (!program) throw new Error('the program was released');
      const feeds: Record<string, ort.Tensor> = { ...program.weightFeeds };
      for (const [name, t] of Object.entries(req.feeds)) feeds[name] = toOrt(name, t);
      const t0 = performance.now();
      const out = await program.session.run(feeds, req.fetches);
      const runMs = performance.now() - t0;
      const outputs: Record<string, TensorData> = {};
      for (const name of req.fetches) outputs[name] = fromOrt(out[name] as ort.Tensor, transfer);
      const result: RunResult = { outputs, runMs };
      return result;
    }
    case 'release': {
      for (const id of req.dropWeights) weights.delete(id);
      const program = sessions.get(req.key);
      sessions.delete(req.key);
      await program?.session.release();
      return null;
    }
    case 'dispose': {
      weights.clear();
      for (const p of sessions.values()) await p.session.release();
      sessions.clear();
      return null;
    }
  }
}

port.on('message', (req: Request) => {
  const transfer: ArrayBuffer[] = [];
  handle(req, transfer).then(
    (result) => port.postMessage({ id: req.id, ok: true, result } satisfies Response, transfer),
    (e: unknown) =>
      port.postMessage({
        id: req.id,
        ok: false,
        error: cleanOrtMessage(messageOf(e)),
      } satisfies Response),
  );
});
