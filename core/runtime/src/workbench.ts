/**
 * The workbench: everything jobs run against in one run — the loaded backbone and task, the data
 * tokenised once per split, the module toolkit, and the training backend with its compiled
 * programs (one per program spec and mode, cached by the backend).
 */
import type {
  Architecture,
  Backbone,
  CompiledProgram,
  DataSplit,
  Logger,
  Metrics,
  ModuleTypes,
  ParamSet,
  ProgramSpec,
  Task,
  TrainingBackend,
} from '@peftkit/api';
import { Rng, deriveSeed } from '@peftkit/api';
import type { TensorData } from '@peftkit/graph';
import {
  type EncodedExample,
  type ProgramLayout,
  PeftToolkit,
  batchFeeds,
  buildProgram,
  encodeExamples,
  exampleLength,
  paramFeeds,
  programKey,
} from '@peftkit/nn';
import { argmaxRows, computeMetrics } from '@peftkit/train';

export interface WorkbenchParts {
  backbone: Backbone;
  task: Task;
  backend: TrainingBackend;
  types: ModuleTypes;
  /** Run seed: decides the split of the training data into search.weight / search.arch halves. */
  seed: number;
  log: Logger;
}

export interface Compiled {
  program: CompiledProgram;
  layout: ProgramLayout;
}

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
  private readonly layouts = new Map<string, ProgramLayout>();
  readonly maxLength: number;

  constructor(readonly parts: WorkbenchParts) {
    const { backbone, task } = parts;
    this.toolkit = new PeftToolkit(backbone, task.info, parts.types);
    this.maxLength = backbone.info.maxLength;
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

  splitSizes(): Record<DataSplit, number> {
    const out = {} as Record<DataSplit, number>;
    for (const [k, v] of Object.entries(this.data)) out[k as DataSplit] = v.length;
    return out;
  }

  /** The program spec of a fixed architecture (no gates, no rank masks). */
  static specOf(arch: Architecture): ProgramSpec {
    return {
      modules: arch.modules.map((m) => ({ type: m.type, point: m.point, rank: m.rank, options: m.options })),
    };
  }

  /** Compiled program keys, least recently used first (for releasing old supernet programs). */
  private readonly recent: string[] = [];
  /** How many compiled programs to keep; older ones are released from the backend. */
  maxPrograms = 4;

  private touch(key: string): void {
    const i = this.recent.indexOf(key);
    if (i >= 0) this.recent.splice(i, 1);
    this.recent.push(key);
    while (this.recent.length > this.maxPrograms) {
      const old = this.recent.shift()!;
      this.layouts.delete(old);
      void this.parts.backend.release(old);
    }
  }

  async compile(spec: ProgramSpec, mode: 'train' | 'eval'): Promise<Compiled> {
    const key = programKey(spec, mode);
    this.touch(key);
    let layout = this.layouts.get(key);
    const program = await this.parts.backend.compile(key, () => {
      const built = buildProgram(
        { backbone: this.parts.backbone, task: this.parts.task.info, types: this.parts.types },
        spec,
        mode,
      );
      layout = built.layout;
      return built.graph;
    });
    if (!layout) {
      // The backend had the program cached from an earlier workbench; rebuild the layout only.
      layout = buildProgram(
        { backbone: this.parts.backbone, task: this.parts.task.info, types: this.parts.types },
        spec,
        mode,
      ).layout;
    }
    this.layouts.set(key, layout);
    return { program, layout };
  }

  /** Forget compiled programs of a spec (a pruned supernet's old program). */
  async release(spec: ProgramSpec): Promise<void> {
    for (const mode of ['train', 'eval'] as const) {
      const key = programKey(spec, mode);
      this.layouts.delete(key);
      await this.parts.backend.release(key);
    }
  }

  feeds(
    c: Compiled,
    split: DataSplit,
    indices: readonly number[],
    params: ParamSet,
    arch: ArchFeeds,
    withLabels: boolean,
  ): Record<string, TensorData> {
    const feeds = {
      ...batchFeeds(this.data[split], indices, c.layout, this.parts.backbone.tokenizer.padId, withLabels),
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

  /** Logits of a whole split, in order, plus the metrics of the task and the mean loss. */
  async evaluate(
    spec: ProgramSpec,
    params: ParamSet,
    arch: ArchFeeds,
    split: DataSplit,
    batchSize: number,
  ): Promise<Metrics> {
    const c = await this.compile(spec, 'eval');
    const examples = this.data[split];
    if (examples.length === 0) throw new Error(`split ${split} is empty`);
    const info = this.parts.task.info;
    const C = info.type === 'regression' ? 1 : info.numClasses;
    const logits = new Float32Array(examples.length * C);
    // Batches of similar lengths (less padding); logits go back to the examples' positions.
    const order = examples
      .map((_, i) => i)
      .sort((a, b) => exampleLength(examples[a]!) - exampleLength(examples[b]!) || a - b);
    for (let start = 0; start < order.length; start += batchSize) {
      const idx = order.slice(start, start + batchSize);
      const out = await c.program.run(this.feeds(c, split, idx, params, arch, false), ['logits']);
      const got = out.logits!.data as Float32Array;
      idx.forEach((ex, b) => logits.set(got.subarray(b * C, (b + 1) * C), ex * C));
    }
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
    return { ...computeMetrics(info.metrics, predictions, labels, info.type), loss: loss / labels.length };
  }
}
