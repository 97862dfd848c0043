/**
 * The workbench: everything jobs run against in one run — the loaded backbone and task, the data
 * tokenised once per split, the module toolkit, and the training backend with its compiled
 * programs (one per program spec and mode, cached by the backend).
 *
 * Memory: one run of a program may take at most `passMemory` bytes of intermediate tensors, as
 * estimated from its graph (`peakActivationBytes`) before it runs. A batch whose estimate is larger
 * runs in several passes of near-equal size whose losses and gradients are averaged, weighted by
 * their sizes: the same step as one pass over the whole batch (every fetched output of a train
 * program is a mean over the batch, or the gradient of one), up to float rounding. Evaluation
 * batches are cut the same way, into passes of a quarter of that memory (EVAL_PASS_SHARE): ONNX
 * Runtime keeps each session's activation arena at its high-water mark, so the evaluation
 * program's activations come on top of those the train program keeps between its steps, and a
 * forward-only pass gains little from more sequences. A program whose weights and one pass cannot
 * fit the memory the process may still take is refused before it is compiled (checkFits).
 */
import type {
  Architecture,
  Backbone,
  CompiledProgram,
  DataSplit,
  Example,
  Logger,
  Metrics,
  ModuleTypes,
  ParamSet,
  ProgramSpec,
  SplitPredictions,
  Task,
  TrainingBackend,
} from '@peftkit/api';
import { ConfigError, Rng, deriveSeed } from '@peftkit/api';
import { type Graph, type TensorData, peakActivationBytes } from '@peftkit/graph';
import {
  type EncodedExample,
  type ProgramLayout,
  PeftToolkit,
  batchFeeds,
  buildProgram,
  encodeExamples,
  exampleLength,
  exampleLengths,
  paramFeeds,
  programKey,
} from '@peftkit/nn';
import { argmaxRows, computeMetrics } from '@peftkit/train';
import { availableMemory } from './memory-limit.js';

export interface WorkbenchParts {
  backbone: Backbone;
  task: Task;
  backend: TrainingBackend;
  types: ModuleTypes;
  /** Run seed: decides the split of the training data into search.weight / search.arch halves. */
  seed: number;
  log: Logger;
  /** Bytes of intermediate tensors one run of a program may take (default DEFAULT_PASS_MEMORY). */
  passMemory?: number;
  /**
   * Bytes the process may use in all (`memory.limitMiB`); unset, the machine's available memory
   * and the cgroup's limit decide (memory-limit.ts).
   */
  memoryLimit?: number;
  /**
   * Starting values that replace the fresh initialisation of the parameters they name (an
   * imported PEFT adapter's modules and head).
   */
  init?: ParamSet;
}

/**
 * Default activation memory of one pass: 64 MiB. ONNX Runtime's arena keeps each program's
 * high-water mark, and a BERT-base sequence of 128 tokens takes more than that alone (so its passes
 * hold one sequence either way); on the quickstart it halves the arenas at no cost in time
 * (docs/benchmarks.md, "Search memory").
 */
export const DEFAULT_PASS_MEMORY = 64 * 2 ** 20;

/** Share of the pass memory an evaluation pass may take (see the header). */
export const EVAL_PASS_SHARE = 1 / 4;

/** `memory.passMiB` of a run configuration in bytes (the default when unset). */
export function passMemoryOf(config: { memory?: { passMiB?: number } }): number {
  const mib = config.memory?.passMiB;
  return mib === undefined ? DEFAULT_PASS_MEMORY : mib * 2 ** 20;
}

/** The workbench's memory settings from a run configuration's `memory` section. */
export function memoryPartsOf(config: {
  memory?: { passMiB?: number; limitMiB?: number };
}): Pick<WorkbenchParts, 'passMemory' | 'memoryLimit'> {
  const limit = config.memory?.limitMiB;
  return {
    passMemory: passMemoryOf(config),
    ...(limit !== undefined ? { memoryLimit: limit * 2 ** 20 } : {}),
  };
}

export interface Compiled {
  program: CompiledProgram;
  layout: ProgramLayout;
  /** Estimated intermediate bytes of one run on one sequence of `T` tokens (cached per T). */
  bytesPerSequence(T: number): number;
}

/** A parameter count for messages: 1,456 / 7.0M / 86M / 1.2B. */
const paramCount = (n: number): string =>
  n >= 1e9
    ? `${(n / 1e9).toFixed(1)}B`
    : n >= 1e7
      ? `${(n / 1e6).toFixed(0)}M`
      : n >= 1e6
        ? `${(n / 1e6).toFixed(1)}M`
        : n.toLocaleString('en-US');

const size = (n: number): string =>
  n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${Math.ceil(n / 2 ** 20)} MiB`;

/** Architecture gates and rank masks of one run of a supernet program. */
export interface ArchFeeds {
  gates?: Float32Array;
  gatesDetached?: Float32Array;
  rankMasks?: Float32Array;
  rankMasksDetached?: Float32Array;
}

export class Workbench {
  readonly toolkit: PeftToolkit;
  readonly data: Readonly<Record<DataSplit, readonly EncodedExample[]>>;
  private readonly compiled = new Map<string, Omit<Compiled, 'program'>>();
  readonly maxLength: number;
  readonly passMemory: number;

  constructor(readonly parts: WorkbenchParts) {
    const { backbone, task } = parts;
    this.toolkit = new PeftToolkit(backbone, task.info, parts.types);
    this.maxLength = backbone.info.maxLength;
    this.passMemory = parts.passMemory ?? DEFAULT_PASS_MEMORY;
    const pair = task.info.pair ? backbone.info.pairEncoding : 'none';
    const enc = (split: 'train' | 'validation' | 'test') =>
      encodeExamples(backbone.tokenizer, task.splits[split], pair, this.maxLength);
    const train = enc('train');
    // The training split halved at random (seeded by the run seed), as BIPEFT and S3Delta do for
    // their weight and architecture batches.
    const order = new Rng(deriveSeed(parts.seed, 'search-split')).permutation(train.length);
    const half = Math.floor(train.length / 2);
    this.data = {
      train,
      validation: enc('validation'),
      test: enc('test'),
      'search.weight': order.slice(0, half).map((i) => train[i]!),
      'search.arch': order.slice(half).map((i) => train[i]!),
    };
  }

  private lengthCache = new Map<DataSplit, Int32Array>();

  /** Token count of each example of a split (what `groupByLength` groups batches by). */
  lengths(split: DataSplit): Int32Array {
    let out = this.lengthCache.get(split);
    if (!out) this.lengthCache.set(split, (out = exampleLengths(this.data[split])));
    return out;
  }

  /** Token counts of every split's examples, for a search context. */
  splitLengths(): Record<DataSplit, Int32Array> {
    const out = {} as Record<DataSplit, Int32Array>;
    for (const k of Object.keys(this.data) as DataSplit[]) out[k] = this.lengths(k);
    return out;
  }

  splitSizes(): Record<DataSplit, number> {
    const out = {} as Record<DataSplit, number>;
    for (const [k, v] of Object.entries(this.data)) out[k as DataSplit] = v.length;
    return out;
  }

  /** Initial parameters of a program: fresh from `rng`, then the starting values the run was given. */
  initParams(spec: ProgramSpec, rng: Rng): ParamSet {
    const params = this.toolkit.init(spec, rng);
    for (const [name, v] of Object.entries(this.parts.init ?? {})) {
      const fresh = params[name];
      if (fresh && fresh.length === v.length) params[name] = v.slice();
    }
    return params;
  }

  /** The program spec of a fixed architecture (no gates, no rank masks). */
  static specOf(arch: Architecture): ProgramSpec {
    return {
      modules: arch.modules.map((m) => ({ type: m.type, point: m.point, rank: m.rank, options: m.options })),
    };
  }

  /** Keys of the compiled programs kept: at most one train and one evaluation program. */
  private readonly recent: string[] = [];

  /**
   * Keep `key` and release the other program of its mode: the train and the evaluation program of
   * the current (super)net are all a search uses at a time (a folded supernet replaces the one it
   * was folded from). Each ONNX Runtime session keeps its own activation arena at its high-water
   * mark, so every program kept beyond those would cost a step's activations; compiling again is
   * cheap. The old program is released before the new one is built, so that its arena is gone first.
   */
  private async touch(key: string): Promise<void> {
    const mode = key.slice(0, key.indexOf(':') + 1);
    const old = this.recent.filter((k) => k !== key && k.startsWith(mode));
    if (!this.recent.includes(key)) this.recent.push(key);
    for (const k of old) {
      this.recent.splice(this.recent.indexOf(k), 1);
      this.compiled.delete(k);
    }
    for (const k of old) await this.parts.backend.release(k);
  }

  async compile(spec: ProgramSpec, mode: 'train' | 'eval'): Promise<Compiled> {
    const key = programKey(spec, mode);
    await this.touch(key);
    let info = this.compiled.get(key);
    const build = () => {
      const built = buildProgram(
        { backbone: this.parts.backbone, task: this.parts.task.info, types: this.parts.types },
        spec,
        mode,
      );
      info = { layout: built.layout, bytesPerSequence: this.estimator(built.graph) };
      this.checkFits(key, info);
      return built.graph;
    };
    const program = await this.parts.backend.compile(key, build);
    // The backend had the program cached from an earlier workbench: build it again for the layout.
    if (!info) build();
    this.compiled.set(key, info!);
    return { program, ...info! };
  }

  /** peakActivationBytes per sequence of T tokens; the graph is kept only while it is needed. */
  private estimator(graph: Graph): (T: number) => number {
    const perT = new Map<number, number>();
    const at = (T: number) => {
      let b = perT.get(T);
      if (b === undefined) perT.set(T, (b = peakActivationBytes(graph, { B: 1, T })));
      return b;
    };
    return at;
  }

  /**
   * Refuse a program before it is compiled when what it adds cannot fit the memory the process may
   * still take (availableMemory: the machine's, the cgroup's limit, or `memory.limitMiB`), instead
   * of letting the OS kill the process half-way: the program's copy of the frozen weights, and the
   * intermediate tensors of one pass (`passMemory`, or one sequence of the longest length where
   * that alone is larger).
   */
  private checkFits(key: string, info: Omit<Compiled, 'program'>): void {
    const one = info.bytesPerSequence(this.maxLength);
    const pass = Math.max(one, this.passMemory);
    const params = this.parts.backbone.info.params;
    // A backend that holds the weights once for all its programs has them already when another
    // program is held (touch() has released this key's predecessor by now).
    const shared = this.parts.backend.describe().sharesWeights === true;
    const weights = shared && this.recent.some((k) => k !== key) ? 0 : 4 * params;
    const available = availableMemory(this.parts.memoryLimit);
    if (pass + weights <= available.bytes) return;
    const seqTooLong = one > this.passMemory;
    const M = paramCount(params);
    const limit = this.parts.memoryLimit;
    // Under memory.limitMiB, raising the limit is the first remedy (a limit below what the process
    // holds before its first program leaves nothing to lower).
    const raise = limit !== undefined ? `raise memory.limitMiB (now ${Math.round(limit / 2 ** 20)}), ` : '';
    throw new ConfigError(
      `program ${key.slice(0, 48)}…: needs about ${size(pass + weights)} more memory to run: ` +
        (weights > 0 ? `${size(weights)} for a copy of the backbone's ${M} frozen parameters and ` : '') +
        (seqTooLong
          ? `${size(one)} of intermediate tensors for one sequence of ${this.maxLength} tokens`
          : `up to ${size(this.passMemory)} of intermediate tensors per pass (memory.passMiB ${this.passMemory / 2 ** 20}; one sequence of ${this.maxLength} tokens takes ${size(one)})`) +
        `, but only ${size(available.bytes)} is available (${available.source})`,
      undefined,
      limit !== undefined ? 'memory.limitMiB' : seqTooLong ? 'backbone.options.maxLength' : 'memory.passMiB',
      seqTooLong
        ? `${raise}lower the sequence length (backbone.options.maxLength ${this.maxLength}), or use a smaller model than ${M} parameters`
        : `${raise}lower memory.passMiB (the batch then runs in more, smaller passes: the same step, a little slower), the sequence length (backbone.options.maxLength ${this.maxLength}), or use a smaller model than ${M} parameters`,
    );
  }

  /**
   * Index groups of near-equal size whose estimated activations fit `memory` (the pass memory
   * unless given; at least one sequence each).
   */
  passes(
    c: Compiled,
    split: DataSplit | readonly EncodedExample[],
    indices: readonly number[],
    memory = this.passMemory,
  ): number[][] {
    const examples = typeof split === 'string' ? this.data[split] : split;
    let T = 1;
    for (const i of indices) T = Math.max(T, exampleLength(examples[i]!));
    const perSeq = c.bytesPerSequence(T);
    const fit = Math.max(1, Math.floor(memory / perSeq));
    const n = Math.ceil(indices.length / fit);
    if (n <= 1) return [[...indices]];
    const out: number[][] = [];
    for (let k = 0; k < n; k++) {
      out.push(
        indices.slice(Math.round((k * indices.length) / n), Math.round(((k + 1) * indices.length) / n)),
      );
    }
    return out;
  }

  /**
   * One step of a train program on a batch: its loss and gradients (`fetches`), from one pass or
   * from several whose outputs are averaged weighted by their sizes (see the header).
   */
  async step(
    c: Compiled,
    split: DataSplit,
    indices: readonly number[],
    params: ParamSet,
    arch: ArchFeeds,
    fetches: readonly string[],
  ): Promise<Record<string, TensorData>> {
    const groups = this.passes(c, split, indices);
    if (groups.length === 1) return c.program.run(this.feeds(c, split, indices, params, arch, true), fetches);
    let sum: Record<string, TensorData> | null = null;
    for (const g of groups) {
      const out = await c.program.run(this.feeds(c, split, g, params, arch, true), fetches);
      const w = g.length / indices.length;
      if (!sum) {
        sum = {};
        for (const f of fetches) {
          const t = out[f]!;
          const data = Float32Array.from(t.data as Float32Array, (x) => x * w);
          sum[f] = { dtype: t.dtype, shape: t.shape, data };
        }
      } else {
        for (const f of fetches) {
          const acc = sum[f]!.data as Float32Array;
          const d = out[f]!.data as Float32Array;
          for (let i = 0; i < acc.length; i++) acc[i] += w * d[i]!;
        }
      }
    }
    return sum!;
  }

  /** Forget compiled programs of a spec (a pruned supernet's old program). */
  async release(spec: ProgramSpec): Promise<void> {
    for (const mode of ['train', 'eval'] as const) {
      const key = programKey(spec, mode);
      this.compiled.delete(key);
      const i = this.recent.indexOf(key);
      if (i >= 0) this.recent.splice(i, 1);
      await this.parts.backend.release(key);
    }
  }

  /** Release every compiled program (a phase is over: its programs and their memory go). */
  async releaseAll(): Promise<void> {
    const keys = this.recent.splice(0);
    this.compiled.clear();
    for (const key of keys) await this.parts.backend.release(key);
  }

  feeds(
    c: Compiled,
    split: DataSplit | readonly EncodedExample[],
    indices: readonly number[],
    params: ParamSet,
    arch: ArchFeeds,
    withLabels: boolean,
  ): Record<string, TensorData> {
    const examples = typeof split === 'string' ? this.data[split] : split;
    const feeds = {
      ...batchFeeds(examples, indices, c.layout, this.parts.backbone.tokenizer.padId, withLabels),
      ...paramFeeds(c.layout, params),
    };
    const vec = (name: string, v: Float32Array | undefined, n: number) => {
      if (n === 0) return;
      if (!v || v.length !== n)
        throw new Error(`program expects ${name} of length ${n}, got ${v ? v.length : 'none'}`);
      feeds[name] = { dtype: 'float32', shape: [n], data: v };
    };
    const G = c.layout.gated.length;
    const R = c.layout.rankMasked.reduce((a, m) => a + m.length, 0);
    vec('gates', arch.gates, G);
    vec('gates_detached', arch.gatesDetached ?? arch.gates, G);
    vec('rank_masks', arch.rankMasks, R);
    vec('rank_masks_detached', arch.rankMasksDetached ?? arch.rankMasks, R);
    return feeds;
  }

  /** Logits of `examples` ([N, C] row-major; [N] for regression), in their order. */
  async logits(
    spec: ProgramSpec,
    params: ParamSet,
    arch: ArchFeeds,
    examples: readonly EncodedExample[],
    batchSize: number,
  ): Promise<Float32Array> {
    const c = await this.compile(spec, 'eval');
    const info = this.parts.task.info;
    const C = info.type === 'regression' ? 1 : info.numClasses;
    const logits = new Float32Array(examples.length * C);
    // Batches of similar lengths (less padding); logits go back to the examples' positions.
    const order = examples
      .map((_, i) => i)
      .sort((a, b) => exampleLength(examples[a]!) - exampleLength(examples[b]!) || a - b);
    for (let start = 0; start < order.length; start += batchSize) {
      const batch = order.slice(start, start + batchSize);
      for (const idx of this.passes(c, examples, batch, this.passMemory * EVAL_PASS_SHARE)) {
        const out = await c.program.run(this.feeds(c, examples, idx, params, arch, false), ['logits']);
        const got = out.logits!.data as Float32Array;
        idx.forEach((ex, b) => logits.set(got.subarray(b * C, (b + 1) * C), ex * C));
      }
    }
    return logits;
  }

  /** Tokenise examples as the run's data is tokenised. */
  encode(examples: readonly Example[]): EncodedExample[] {
    const pair = this.parts.task.info.pair ? this.parts.backbone.info.pairEncoding : 'none';
    return encodeExamples(this.parts.backbone.tokenizer, examples, pair, this.maxLength);
  }

  /** Metrics of the task and the mean loss over a whole split. */
  async evaluate(
    spec: ProgramSpec,
    params: ParamSet,
    arch: ArchFeeds,
    split: DataSplit,
    batchSize: number,
  ): Promise<Metrics> {
    return (await this.predict(spec, params, arch, split, batchSize)).metrics;
  }

  /** A split's metrics with the per-example predictions and labels they were computed from. */
  async predict(
    spec: ProgramSpec,
    params: ParamSet,
    arch: ArchFeeds,
    split: DataSplit,
    batchSize: number,
  ): Promise<{ metrics: Metrics } & SplitPredictions> {
    const examples = this.data[split];
    if (examples.length === 0) throw new Error(`split ${split} is empty`);
    const info = this.parts.task.info;
    const C = info.type === 'regression' ? 1 : info.numClasses;
    const logits = await this.logits(spec, params, arch, examples, batchSize);
    const labels = examples.map((e) => e.label);
    let predictions: ArrayLike<number>;
    let loss = 0;
    if (info.type === 'regression') {
      predictions = logits;
      for (let i = 0; i < labels.length; i++) loss += (logits[i]! - labels[i]!) ** 2;
    } else {
      predictions = argmaxRows(logits, C);
      for (let i = 0; i < labels.length; i++) {
        let max = -Infinity;
        for (let k = 0; k < C; k++) max = Math.max(max, logits[i * C + k]!);
        let z = 0;
        for (let k = 0; k < C; k++) z += Math.exp(logits[i * C + k]! - max);
        loss += Math.log(z) + max - logits[i * C + labels[i]!]!;
      }
    }
    return {
      metrics: {
        ...computeMetrics(info.metrics, predictions, labels, info.type),
        loss: loss / labels.length,
      },
      predictions: Array.from(predictions),
      labels,
    };
  }
}
