/**
 * `peftkit bench search`: what a BIPEFT supernet search costs over plain training, in one process.
 *
 * The search runs on the backbone it is given (the CLI passes the BERT-shaped random encoder of
 * `bench train-step`), in the S1 space, on a synthetic task whose examples are all `seq` tokens
 * long, with the search recipe's batch of `batch` sequences: `steps` weight steps in the first
 * epoch (each followed by an architecture step), an evaluation of the derived network on the
 * validation split, then steps of the second epoch until the one pruning round fires (at its third
 * weight step: the trigger compares with one earlier selection, at threshold 0) and meets the
 * budget, after which BIPEFT's early selection ends the search (a last evaluation). Every gradient job is one forward+backward pass on one batch
 * (weight and architecture passes count one each); the train step is a LoRA r=8 step (q, k, v, o,
 * FFN in and out, as `bench train-step`) on batches of the same size and length, on the same
 * workbench, timed after the search. Peak RSS: this process's after the search (it built nothing
 * before), and a child process (`part: 'train-step'`) that runs only the train steps.
 */
import { readFileSync } from 'node:fs';
import type {
  Backbone,
  Example,
  GradientJob,
  JobResult,
  Logger,
  ProgramSpec,
  SearchContext,
  StrategyEvent,
  Task,
} from '@peftkit/api';
import { Rng, resolveBudget } from '@peftkit/api';
import { completeRecipe } from '../config/validate.js';
import { LocalExecutor, Workbench, workbenchRunner } from '@peftkit/runtime';
import { moduleTypesOf } from '../orchestrate/run.js';
import type { Registry } from '../plugins/registry.js';

export interface SearchBenchOptions {
  registry: Registry;
  backbone: Backbone;
  /** Sequences per batch (default 8) and tokens per sequence (default 128), as bench train-step. */
  batch?: number;
  seq?: number;
  /** Weight steps of an epoch (default 6, at least 3; each is followed by an architecture step). */
  steps?: number;
  /** Timed train steps (default 5, after one untimed). */
  trainSteps?: number;
  /** 'search' (default): the search, then the train steps; 'train-step': the train steps only. */
  part?: 'search' | 'train-step';
  /** Options of the onnxruntime backend. */
  backend?: Record<string, unknown>;
  seed?: number;
  progress?: (message: string) => void;
}

export interface SearchBenchReport {
  bench: 'search';
  part: 'search' | 'train-step';
  options: { batch: number; seq: number; steps: number; trainSteps: number; seed: number };
  backbone: { name: string; layers: number; params: number };
  /** Forward+backward passes of the search: gradient jobs, weight and architecture. */
  search?: {
    passes: number;
    weightPasses: number;
    archPasses: number;
    medianPassMs: number;
    passTimesMs: number[];
    evaluations: number;
    evaluationMs: number[];
    /** Validation examples per evaluation. */
    evaluationExamples: number;
    pruningRounds: number;
    candidates: number;
    seconds: number;
  };
  trainStep: { medianMs: number; timesMs: number[] };
  /** Process peak RSS (VmHWM) in MiB: after the search, or after the train steps (train-step part). */
  peakRssMiB: number;
  /** The train steps alone in a fresh process (filled in by the CLI). */
  trainStepProcess?: { peakRssMiB: number; medianMs: number };
  ratios?: { searchPassOverTrainStep: number; searchPeakRssOverTrainStep?: number };
}

const quiet: Logger = { info: () => {}, warn: () => {}, debug: () => {} };

export function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const r1 = (x: number) => Math.round(x * 10) / 10;

/** Examples of exactly `seq` random token ids; the label says whether the first id is even. */
function syntheticTask(
  vocab: number,
  seq: number,
  sizes: Record<'train' | 'validation' | 'test', number>,
  seed: number,
): Task {
  const rng = new Rng(seed);
  const split = (n: number): Example[] =>
    Array.from({ length: n }, () => {
      const ids = Array.from({ length: seq }, () => 1 + rng.int(vocab - 1));
      return { text: ids.join(' '), label: ids[0]! % 2 };
    });
  return {
    info: {
      name: 'bench-parity',
      type: 'classification',
      numClasses: 2,
      pair: false,
      metrics: ['accuracy'],
      description: `synthetic: ${seq} random token ids, label = parity of the first`,
    },
    splits: { train: split(sizes.train), validation: split(sizes.validation), test: split(sizes.test) },
  };
}

/** LoRA r=8 (alpha 16) on the q, k, v, o and FFN projections of every layer: bench train-step's model. */
function loraSpec(backbone: Backbone): ProgramSpec {
  const points = backbone.info.points.filter((p) =>
    /^layer\.\d+\.(attn\.[qkvo]|ffn\.(in|out))$/.test(p.name),
  );
  return { modules: points.map((p) => ({ type: 'lora', point: p.name, rank: 8, options: { alpha: 16 } })) };
}

export async function runSearchBench(o: SearchBenchOptions): Promise<SearchBenchReport> {
  const batch = o.batch ?? 8;
  const seq = o.seq ?? 128;
  const steps = o.steps ?? 6;
  if (!Number.isInteger(steps) || steps < 3)
    throw new Error(
      `bench search: steps must be an integer >= 3 (the pruning round fires at the third step of the second epoch), got ${steps}`,
    );
  const trainSteps = o.trainSteps ?? 5;
  const seed = o.seed ?? 1234;
  const part = o.part ?? 'search';
  const say = o.progress ?? (() => {});
  const ctx = o.registry.context({ baseDir: process.cwd(), log: quiet });
  const backend = await o.registry.create(
    'training-backend',
    { name: 'onnxruntime', options: o.backend ?? {} },
    ctx,
  );
  const types = await moduleTypesOf(o.registry, ctx);
  const task = syntheticTask(
    o.backbone.tokenizer.vocabSize,
    seq,
    { train: 2 * steps * batch, validation: 2 * batch, test: batch },
    seed,
  );
  const wb = new Workbench({ backbone: o.backbone, task, backend, types, seed, log: quiet });
  const report: SearchBenchReport = {
    bench: 'search',
    part,
    options: { batch, seq, steps, trainSteps, seed },
    backbone: {
      name: o.backbone.info.name,
      layers: o.backbone.info.numLayers,
      params: o.backbone.info.params,
    },
    trainStep: { medianMs: 0, timesMs: [] },
    peakRssMiB: 0,
  };
  try {
    if (part === 'search') {
      say(
        `BIPEFT search, S1 space: ${steps} weight + ${steps} architecture passes, an evaluation, one pruning round`,
      );
      const space = (await o.registry.create('search-space', { name: 's1' }, ctx)).build(
        o.backbone.info,
        types,
      );
      const strategy = await o.registry.create(
        'search-strategy',
        {
          name: 'bipeft',
          options: {
            pruneBeginEpoch: 1,
            // One round, fired by the first weight step of the second epoch (window 1, threshold 0),
            // that meets the budget: early selection then ends the search.
            scheduler: { name: 'bipeft-budget', options: { rounds: 1, window: 1, threshold: 0 } },
          },
        },
        ctx,
      );
      const recipe = completeRecipe({ epochs: 2, batchSize: batch });
      let rounds = 0;
      const sctx: SearchContext = {
        backbone: o.backbone.info,
        task: task.info,
        space,
        budget: resolveBudget({ ratio: 0.002 }, o.backbone.info.params),
        seed,
        rng: new Rng(seed),
        splitSizes: wb.splitSizes(),
        splitLengths: wb.splitLengths(),
        recipes: { search: recipe, retrain: recipe },
        modules: wb.toolkit,
        emit: (e: StrategyEvent) => {
          if (e.type === 'round') rounds++;
        },
        log: quiet,
      };
      const run = workbenchRunner(wb);
      const passes: { split: string; ms: number }[] = [];
      const evaluations: number[] = [];
      const executor = new LocalExecutor(async (job, onEvent) => {
        const t0 = performance.now();
        const result: JobResult = await run(job, onEvent);
        const ms = performance.now() - t0;
        if (job.kind === 'gradient') passes.push({ split: (job as GradientJob).split, ms });
        else if (job.kind === 'evaluate') evaluations.push(ms);
        say(`${job.kind} ${job.kind === 'gradient' ? (job as GradientJob).split : ''} ${ms.toFixed(0)} ms`);
        return result;
      });
      const t0 = performance.now();
      strategy.start(sctx, undefined);
      for (;;) {
        const jobs = strategy.ask();
        if (!jobs) break;
        strategy.tell(await executor.run(jobs, () => {}));
      }
      const seconds = (performance.now() - t0) / 1000;
      report.peakRssMiB = r1(peakRssMiB());
      // The first pass of each program compiles it; the statistics leave out the first two passes.
      const timed = passes.slice(2).map((p) => p.ms);
      report.search = {
        passes: passes.length,
        weightPasses: passes.filter((p) => p.split === 'search.weight').length,
        archPasses: passes.filter((p) => p.split === 'search.arch').length,
        medianPassMs: r1(median(timed)),
        passTimesMs: passes.map((p) => r1(p.ms)),
        evaluations: evaluations.length,
        evaluationMs: evaluations.map(r1),
        evaluationExamples: task.splits.validation.length,
        pruningRounds: rounds,
        candidates: space.candidates.length,
        seconds: r1(seconds),
      };
      await wb.releaseAll();
    }
    say(`train step: LoRA r=8 on the same batches (${trainSteps} timed)`);
    const spec = loraSpec(o.backbone);
    const c = await wb.compile(spec, 'train');
    const params = wb.toolkit.init(spec, new Rng(seed));
    const fetches = ['loss', ...c.layout.params.map((p) => `grad:${p.name}`)];
    const times: number[] = [];
    for (let i = 0; i <= trainSteps; i++) {
      const idx = Array.from({ length: batch }, (_, b) => (i * batch + b) % task.splits.train.length);
      const t = performance.now();
      await wb.step(c, 'train', idx, params, {}, fetches);
      if (i > 0) times.push(performance.now() - t);
    }
    report.trainStep = { medianMs: r1(median(times)), timesMs: times.map(r1) };
    if (part === 'train-step') report.peakRssMiB = r1(peakRssMiB());
    if (report.search)
      report.ratios = {
        searchPassOverTrainStep:
          Math.round((1000 * report.search.medianPassMs) / report.trainStep.medianMs) / 1000,
      };
    return report;
  } finally {
    await backend.dispose();
  }
}
