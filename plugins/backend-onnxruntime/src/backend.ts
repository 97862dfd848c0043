/**
 * The `onnxruntime` training backend: IR graphs are serialised (frozen weights as in-memory external
 * data) and compiled into ONNX Runtime sessions that live in one worker thread, so that ONNX
 * Runtime's synchronous create/run never block the caller's event loop.
 *
 * What crosses the thread boundary, and what it costs:
 * - Frozen weights (on the CPU, `shareWeights`, the default) are graph inputs that the worker feeds
 *   from one copy per weight however many programs use it (weights.ts): the first program that
 *   needs a weight sends it (a SharedArrayBuffer is shared and copied in the worker, other buffers
 *   are copied once here and transferred); it is dropped when its last program is released.
 * - Otherwise (`shareWeights: false`, and always on CUDA) they are external data, sent with each
 *   compile, and ONNX Runtime copies them into every session's initializers. The built-in
 *   backbones keep their weights in SharedArrayBuffers, which are shared with the worker as they
 *   are (ONNX Runtime accepts shared external data): no copy is made before ONNX Runtime's own.
 * - Feeds: the caller keeps its parameter arrays, and onnxruntime-node rejects tensors over a
 *   SharedArrayBuffer, so every feed is copied once (main thread: `slice()` + transfer; shared
 *   buffers are copied in the worker instead). docs/benchmarks.md has the measured cost per MB.
 * - Outputs: ONNX Runtime returns fresh buffers, which the worker transfers back without a copy.
 */
import type { BackendDescription, CompiledProgram, Logger, TrainingBackend } from '@peftkit/api';
import {
  type DType,
  type Dim,
  type Graph,
  type TensorData,
  evalDim,
  serialize,
  shapeToString,
  termsOf,
} from '@peftkit/graph';
import { cudaInstallHelp } from './cuda.js';
import { BackendError } from './errors.js';
import { type OnnxRuntimeOptions, type Provider, type ResolvedOptions, resolveOptions } from './options.js';
import type { CompileResult, CudaProbe, ExternalBlob, InitResult, RunResult } from './protocol.js';
import { type WeightRef, WeightRegistry } from './weights.js';
import { WorkerClient, WorkerError } from './worker-client.js';

export interface OnnxRuntimeDescription extends BackendDescription {
  interOpThreads: number;
  /** onnxruntime-node's listSupportedBackends(): providers the installed package carries. */
  bundled: string[];
  /** Result of the (cached) probe of the CUDA provider. */
  cuda: { loads: boolean; reason: string };
  options: ResolvedOptions;
}

/** Timings of the last run of a program, for benchmarks. */
export interface RunTiming {
  /** session.run inside the worker. */
  runMs: number;
  /** From the call to the resolved result on the caller's thread (copies and messages included). */
  totalMs: number;
}

const consoleLogger: Logger = {
  info: (m) => console.error(m),
  warn: (m) => console.error(`warning: ${m}`),
  debug: () => {},
};

// The CUDA probe creates a session on the GPU, so it runs once per process and is shared.
let cudaProbe: Promise<CudaProbe> | undefined;

interface InputSpec {
  name: string;
  dtype: DType;
  shape: readonly Dim[];
}

function isShared(a: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}

/** A private copy of exactly the view's bytes, in its own transferable buffer. */
function ownCopy<T extends ArrayBufferView & { slice(): T }>(a: T): T {
  return a.slice();
}

export class OnnxRuntimeBackend implements TrainingBackend {
  private readonly programs = new Map<string, Promise<OrtProgram>>();
  private readonly weights = new WeightRegistry();
  private disposed = false;

  /** Start the worker, probe the providers, and resolve `provider` (failing or falling back). */
  static async create(
    options: OnnxRuntimeOptions | Readonly<Record<string, unknown>> = {},
    log: Logger = consoleLogger,
  ): Promise<OnnxRuntimeBackend> {
    const resolved = resolveOptions(options as Record<string, unknown>);
    const worker = new WorkerClient();
    try {
      const first = cudaProbe === undefined;
      const init = worker.request<InitResult>({ op: 'init', options: resolved, probeCuda: first });
      if (first) {
        const probe = init.then((r) => r.cuda);
        cudaProbe = probe;
        // A failed start must not poison the cache for later backends.
        probe.catch(() => {
          if (cudaProbe === probe) cudaProbe = undefined;
        });
      }
      const [info, cuda] = await Promise.all([init, cudaProbe!]);
      let provider: Provider = resolved.provider;
      if (provider === 'cuda' && !cuda.loads) {
        const why = `provider "cuda" was requested, but ONNX Runtime cannot load its CUDA execution provider: ${cuda.reason}.`;
        if (!resolved.fallbackToCpu) {
          throw new BackendError(`onnxruntime: ${why}\n${cudaInstallHelp(cuda.binDir, info.ortVersion)}`);
        }
        log.warn(`onnxruntime: ${why} Running on the CPU instead (fallbackToCpu is set).`);
        provider = 'cpu';
      }
      return new OnnxRuntimeBackend(worker, resolved, provider, info, cuda);
    } catch (e) {
      await worker.terminate();
      if (e instanceof WorkerError)
        throw new BackendError(`onnxruntime: starting the backend failed: ${e.message}`);
      throw e;
    }
  }

  private constructor(
    private readonly worker: WorkerClient,
    readonly options: ResolvedOptions,
    readonly provider: Provider,
    private readonly info: InitResult,
    private readonly cuda: CudaProbe,
  ) {}

  describe(): OnnxRuntimeDescription {
    const available = ['cpu', ...(this.cuda.loads ? ['cuda'] : [])];
    return {
      name: 'onnxruntime',
      runtime: `onnxruntime-node ${this.info.ortVersion}`,
      provider: this.provider,
      available,
      threads: this.options.intraOpThreads,
      sharesWeights: this.options.shareWeights && this.provider === 'cpu',
      interOpThreads: this.options.interOpThreads,
      bundled: this.info.bundled.filter((b) => b.bundled).map((b) => b.name),
      cuda: { loads: this.cuda.loads, reason: this.cuda.reason },
      options: { ...this.options },
    };
  }

  compile(key: string, build: () => Graph): Promise<CompiledProgram> {
    if (this.disposed) return Promise.reject(new BackendError('onnxruntime: the backend was disposed'));
    let p = this.programs.get(key);
    if (!p) {
      const compiling = this.compileNew(key, build);
      p = compiling;
      this.programs.set(key, compiling);
      // A failed compile is not cached: the next call builds again.
      compiling.catch(() => {
        if (this.programs.get(key) === compiling) this.programs.delete(key);
      });
    }
    return p;
  }

  /** Keys of the programs compiled (or compiling) now. */
  keys(): string[] {
    return [...this.programs.keys()];
  }

  private async compileNew(key: string, build: () => Graph): Promise<OrtProgram> {
    const g = build();
    if (g.outputs.length === 0)
      throw new BackendError(`onnxruntime: program "${key}": the graph has no outputs`);
    const shared = this.options.shareWeights && this.provider === 'cpu';
    const { model, externalData, weightInputs } = serialize(g, {
      frozenWeights: shared ? 'inputs' : 'external-data',
    });
    const transfer: ArrayBuffer[] = [];
    const send = <T extends ArrayBufferView & { slice(): T }>(data: T): T => {
      if (isShared(data)) return data;
      const copy = ownCopy(data);
      transfer.push(copy.buffer as ArrayBuffer);
      return copy;
    };
    const blobs: ExternalBlob[] = externalData.map((e) => ({ path: e.path, data: send(e.data) }));
    const { refs, fresh } = this.weights.acquire(weightInputs);
    const newWeights = fresh.map((w) => ({
      id: w.id,
      tensor: { ...w.tensor, data: send(w.tensor.data as Float32Array) },
    }));
    const modelCopy = ownCopy(model);
    transfer.push(modelCopy.buffer as ArrayBuffer);
    let res: CompileResult;
    try {
      res = await this.worker.request<CompileResult>(
        {
          op: 'compile',
          key,
          provider: this.provider,
          model: modelCopy,
          externalData: blobs,
          weights: refs,
          newWeights,
        },
        transfer,
        `compiling program "${key}"`,
      );
    } catch (e) {
      await this.releaseInWorker(key, refs);
      throw new BackendError(`onnxruntime: program "${key}": compile failed: ${(e as Error).message}`);
    }
    const inputs = g.inputs.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape }));
    return new OrtProgram(this.worker, key, inputs, res.outputs, res.createMs, refs);
  }

  /** Frozen weights the worker holds now for compiled programs (each once). */
  heldWeights(): number {
    return this.weights.held();
  }

  async release(key: string): Promise<void> {
    const p = this.programs.get(key);
    if (!p) return;
    this.programs.delete(key);
    const program = await p.catch(() => null);
    if (!program) return;
    program.released = true;
    await this.releaseInWorker(key, program.weightRefs);
  }

  /** Free a program's session and the weights only it used. */
  private async releaseInWorker(key: string, refs: readonly WeightRef[]): Promise<void> {
    const dropWeights = this.weights.release(refs);
    await this.worker.request({ op: 'release', key, dropWeights }).catch(() => {});
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.programs.values()) {
      const program = await p.catch(() => null);
      if (program) program.released = true;
    }
    this.programs.clear();
    await this.worker.request({ op: 'dispose' }).catch(() => {});
    await this.worker.terminate();
  }
}

export class OrtProgram implements CompiledProgram {
  readonly inputs: readonly string[];
  released = false;
  /** Timing of the most recent successful run. */
  lastTiming: RunTiming | null = null;

  constructor(
    private readonly worker: WorkerClient,
    readonly key: string,
    private readonly inputSpecs: readonly InputSpec[],
    readonly outputs: readonly string[],
    /** Milliseconds InferenceSession.create took. */
    readonly createMs: number,
    /** Its frozen-weight inputs, which the worker feeds. */
    readonly weightRefs: readonly WeightRef[] = [],
  ) {
    this.inputs = inputSpecs.map((s) => s.name);
  }

  async run(
    feeds: Readonly<Record<string, TensorData>>,
    fetches: readonly string[],
  ): Promise<Record<string, TensorData>> {
    const t0 = performance.now();
    const where = `onnxruntime: program "${this.key}"`;
    if (this.released) throw new BackendError(`${where}: the program was released`);
    this.checkFeeds(feeds, fetches);
    const transfer: ArrayBuffer[] = [];
    const wire: Record<string, TensorData> = {};
    for (const spec of this.inputSpecs) {
      const t = feeds[spec.name]!;
      let data = t.data;
      if (!isShared(data)) {
        data = ownCopy(data as Float32Array);
        transfer.push(data.buffer as ArrayBuffer);
      }
      wire[spec.name] = { dtype: t.dtype, shape: [...t.shape], data };
    }
    let res: RunResult;
    try {
      res = await this.worker.request<RunResult>(
        { op: 'run', key: this.key, feeds: wire, fetches: [...fetches] },
        transfer,
        `running program "${this.key}"`,
      );
    } catch (e) {
      throw new BackendError(`${where}: run failed: ${(e as Error).message}`);
    }
    this.lastTiming = { runMs: res.runMs, totalMs: performance.now() - t0 };
    return res.outputs;
  }

  /** Names, dtypes and shapes of the feeds, checked here for errors that say what was expected. */
  private checkFeeds(feeds: Readonly<Record<string, TensorData>>, fetches: readonly string[]): void {
    const where = `onnxruntime: program "${this.key}"`;
    const expected = this.inputSpecs.map((s) => `${s.name}: ${s.dtype}${shapeToString(s.shape)}`).join(', ');
    for (const name of Object.keys(feeds)) {
      if (!this.inputSpecs.some((s) => s.name === name)) {
        throw new BackendError(`${where}: unknown feed "${name}"; the program's inputs are ${expected}`);
      }
    }
    const bindings: Record<string, number> = {};
    for (const s of this.inputSpecs) {
      const t = feeds[s.name];
      if (!t)
        throw new BackendError(`${where}: feed "${s.name}" is missing; the program's inputs are ${expected}`);
      const got = `${t.dtype}${shapeToString(t.shape)}`;
      const want = `${s.dtype}${shapeToString(s.shape)}`;
      if (t.dtype !== s.dtype)
        throw new BackendError(`${where}: feed "${s.name}" is ${got}, expected ${want}`);
      const n = t.shape.reduce((a, b) => a * b, 1);
      if (n !== t.data.length) {
        throw new BackendError(
          `${where}: feed "${s.name}" has shape ${shapeToString(t.shape)} (${n} elements) but ${t.data.length} values`,
        );
      }
      if (t.shape.length !== s.shape.length) {
        throw new BackendError(
          `${where}: feed "${s.name}" is ${got}, expected rank ${s.shape.length}: ${want}`,
        );
      }
      s.shape.forEach((d, i) => {
        const sym = typeof d === 'string' && termsOf(d).length === 1 ? termsOf(d)[0]! : null;
        if (sym && sym.coef === 1 && sym.syms.length === 1 && bindings[sym.syms[0]!] === undefined) {
          bindings[sym.syms[0]!] = t.shape[i]!;
        }
      });
    }
    for (const s of this.inputSpecs) {
      const t = feeds[s.name]!;
      s.shape.forEach((d, i) => {
        let want: number;
        try {
          want = evalDim(d, bindings);
        } catch {
          return; // a symbol no feed binds on its own: leave it to ONNX Runtime
        }
        if (t.shape[i] !== want) {
          const bound = typeof d === 'string' ? ` (${d} = ${want} from the other feeds)` : '';
          throw new BackendError(
            `${where}: feed "${s.name}" has shape ${shapeToString(t.shape)}, expected ${shapeToString(s.shape)}: dimension ${i} is ${t.shape[i]}, should be ${want}${bound}`,
          );
        }
      });
    }
    if (fetches.length === 0)
      throw new BackendError(`${where}: no fetches; the outputs are ${this.outputs.join(', ')}`);
    for (const f of fetches) {
      if (!this.outputs.includes(f)) {
        throw new BackendError(`${where}: unknown fetch "${f}"; the outputs are ${this.outputs.join(', ')}`);
      }
    }
  }
}
