/**
 * `peftkit bench train-step`: how fast and how lean a LoRA training step on a BERT-shaped encoder
 * runs on this backend, against ONNX Runtime's own MatMul throughput on the model's shapes.
 *
 * Everything is measured in one process with one backend (same threads and session options), in
 * interleaved rounds that are repeated when other processes load the machine; except peak memory,
 * which needs a fresh process per program (peak RSS never goes down): two child processes build
 * only the forward or only the train program. docs/benchmarks.md has the results.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { countFlops, Graph, type TensorData, ops } from '@peftkit/graph';
import { OnnxRuntimeBackend, type OnnxRuntimeDescription, type OrtProgram } from '../backend.js';
import type { OnnxRuntimeOptions } from '../options.js';
import {
  BERT_BASE,
  type BenchProgram,
  type EncoderConfig,
  type FrozenWeights,
  QUICK,
  buildProgram,
  makeFeeds,
  makeFrozenWeights,
} from './model.js';
import type { RssJob, RssResult } from './rss-child.js';
import { type MachineInfo, cpuSample, machineInfo, median, otherLoad, round } from './system.js';

export interface TrainStepBenchOptions {
  /** Sequences per step (default 8; 4 with quick). */
  batch?: number;
  /** Tokens per sequence (default 128; 32 with quick). */
  seq?: number;
  /** Timed rounds (each runs the MatMul references, the forward and the train program; default 5, 3 with quick). */
  iterations?: number;
  /** Untimed rounds first (default 2; 1 with quick). */
  warmup?: number;
  /** intra-op threads (default: the backend's default, the CPU count). */
  threads?: number;
  /** A small model for smoke runs: 2 layers, hidden 128. */
  quick?: boolean;
  /** LayerNorm placement (default post, as BERT). */
  norm?: 'post' | 'pre';
  /** Measure peak RSS in child processes (default true). */
  memory?: boolean;
  /**
   * Timed rounds at most (default 3 x iterations): rounds in which other processes used the CPUs
   * are repeated until `iterations` quiet ones are in, or this many were run.
   */
  maxRounds?: number;
  /** Further backend options (spinning, prepacking, arena, optimisation level). */
  backend?: OnnxRuntimeOptions;
  seed?: number;
  /** Progress lines (the CLI prints them to stderr). */
  progress?: (message: string) => void;
}

export interface MatMulReference {
  name: string;
  m: number;
  k: number;
  n: number;
  /** Median over the rounds used of the round's faster session.run (two back-to-back runs). */
  medianMs: number;
  gflops: number;
  /** From the fastest run (least disturbed by other load). */
  bestGflops: number;
}

export interface ProgramTiming {
  /** Median wall time of `program.run` on the caller's thread (feed copies and messages included), over the rounds used. */
  medianMs: number;
  minMs: number;
  /** Median time of session.run inside the worker. */
  sessionMedianMs: number;
  timesMs: number[];
  tokensPerSec: number;
  /** countFlops() of the graph, in GFLOP. */
  gflop: number;
  /** Of which matrix products (MatMul, Gemm, FusedMatMul). */
  matmulGflop: number;
  /** gflop / median wall time. */
  gflops: number;
  /** gflop / fastest wall time. */
  bestGflops: number;
  /** Graph size in the IR (ORT fuses some of it). */
  nodes: number;
  nodeTypes: Record<string, number>;
  buildMs: number;
  createMs: number;
  /** Bytes fed and fetched per run. */
  feedBytes: number;
  fetchBytes: number;
}

export interface TransferOverhead {
  mib: number;
  /** Median (wall time − session.run time) of a run feeding `mib` MiB: copy + messages. */
  overheadMs: number;
  msPerMiB: number;
}

export interface RoundInfo {
  /** Share of the machine's CPU time other processes (or the hypervisor) used in this round. */
  otherLoad: number | null;
  seconds: number;
  forwardMs: number;
  trainMs: number;
  /** Fastest of the counted MatMul runs of this round, per reference shape. */
  matmulMs: number[];
}

/** Rounds in which other processes used more than this share of the CPUs are not counted. */
const QUIET_LOAD = 0.05;

export interface BenchReport {
  bench: 'train-step';
  date: string;
  machine: MachineInfo;
  /** 1-minute load average before and after: above the core count, other work competed. */
  loadAverage: { start: number; end: number };
  /**
   * Every timed round; the statistics use the quiet ones (other processes took at most 5 % of the
   * CPUs) when there are at least half as many as asked for, otherwise all of them.
   */
  rounds: RoundInfo[];
  statisticsFrom: 'quiet rounds' | 'all rounds (the machine was busy)';
  versions: { node: string; onnxruntime: string; plugin: string };
  backend: OnnxRuntimeDescription;
  options: {
    batch: number;
    seq: number;
    iterations: number;
    warmup: number;
    quick: boolean;
    seed: number;
  };
  model: EncoderConfig & { frozenParams: number; trainableParams: number; tokensPerStep: number };
  /** Per shape, and weighted by the model's per-layer FLOPs (4 q/k/v/o, 1 FFN in, 1 FFN out). */
  matmulReference: {
    shapes: MatMulReference[];
    modelWeightedGflops: number;
    modelWeightedBestGflops: number;
  };
  forward: ProgramTiming;
  train: ProgramTiming;
  transferOverhead: TransferOverhead[];
  memory: { forward: RssResult; train: RssResult; trainOverForward: number } | null;
  ratios: {
    /** train GFLOP/s (wall) ÷ model-weighted MatMul reference. */
    trainOverMatmulReference: number;
    forwardOverMatmulReference: number;
    /** The same from the fastest runs. */
    bestTrainOverBestMatmulReference: number;
    /** train median ÷ forward median (wall). */
    trainOverForwardTime: number;
    bestTrainOverBestForwardTime: number;
    trainOverForwardPeakRss: number | null;
  };
  targets: {
    name: string;
    value: number | null;
    target: string;
    met: boolean | null;
  }[];
}

const pluginVersion = (): string =>
  (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;

function bytesOf(ts: Iterable<TensorData>): number {
  let n = 0;
  for (const t of ts) n += t.data.byteLength;
  return n;
}

function randomMatrix(rows: number, cols: number, seed: number): TensorData {
  const data = new Float32Array(new SharedArrayBuffer(rows * cols * 4));
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32 - 0.5) * 0.1;
  }
  return { dtype: 'float32', shape: [rows, cols], data };
}

/**
 * ONNX Runtime's MatMul on one shape, as the model runs it: activation fed, weight a constant
 * initializer. The output is sliced to one element so that fetching it costs nothing; the time
 * taken is session.run's, in the worker (no feed copy, no messages).
 */
async function compileMatMul(
  backend: OnnxRuntimeBackend,
  m: number,
  k: number,
  n: number,
): Promise<OrtProgram> {
  const key = `bench/matmul-${m}x${k}x${n}`;
  return (await backend.compile(key, () => {
    const g = new Graph(key);
    const x = g.input('x', 'float32', [m, k]);
    const w = g.initializer('w', randomMatrix(k, n, k * 31 + n));
    g.output(ops.slice(ops.matmul(x, w), [0, 0], [1, 1], [0, 1]), 'corner');
    return g;
  })) as OrtProgram;
}

async function transferOverhead(backend: OnnxRuntimeBackend, mib: number): Promise<TransferOverhead> {
  const n = Math.round((mib * 2 ** 20) / 4);
  const key = `bench/transfer-${n}`;
  const program = (await backend.compile(key, () => {
    const g = new Graph(key);
    g.output(ops.reduceSum(g.input('x', 'float32', [n]), null, false), 's');
    return g;
  })) as OrtProgram;
  const feeds = { x: { dtype: 'float32' as const, shape: [n], data: new Float32Array(n).fill(1) } };
  const overhead: number[] = [];
  for (let i = 0; i < 12; i++) {
    await program.run(feeds, ['s']);
    if (i >= 2) overhead.push(program.lastTiming!.totalMs - program.lastTiming!.runMs);
  }
  await backend.release(key);
  const o = median(overhead);
  return { mib, overheadMs: round(o, 3), msPerMiB: round(o / mib, 3) };
}

interface Prepared {
  kind: 'forward' | 'train';
  built: BenchProgram;
  program: OrtProgram;
  feeds: Record<string, TensorData>;
  buildMs: number;
  wall: number[];
  session: number[];
  fetchBytes: number;
}

async function prepare(
  backend: OnnxRuntimeBackend,
  kind: 'forward' | 'train',
  cfg: EncoderConfig,
  weights: FrozenWeights,
  batch: number,
  seq: number,
  seed: number,
): Promise<Prepared> {
  const t0 = performance.now();
  const built = buildProgram(cfg, weights, kind);
  const buildMs = performance.now() - t0;
  const program = (await backend.compile(`bench/${kind}`, () => built.graph)) as OrtProgram;
  const feeds = makeFeeds(cfg, built, batch, seq, seed);
  return { kind, built, program, feeds, buildMs, wall: [], session: [], fetchBytes: 0 };
}

async function runOnce(p: Prepared, record: boolean): Promise<void> {
  const out = await p.program.run(p.feeds, p.built.outputs);
  p.fetchBytes = bytesOf(Object.values(out));
  if (record) {
    p.wall.push(p.program.lastTiming!.totalMs);
    p.session.push(p.program.lastTiming!.runMs);
  }
}

function summarise(p: Prepared, used: readonly number[], batch: number, seq: number): ProgramTiming {
  const flops = countFlops(p.built.graph, { B: batch, T: seq });
  const matmulFlops = flops.matmul;
  const nodeTypes: Record<string, number> = {};
  for (const n of p.built.graph.nodes) nodeTypes[n.type] = (nodeTypes[n.type] ?? 0) + 1;
  const wall = used.map((i) => p.wall[i]!);
  const med = median(wall);
  const min = Math.min(...wall);
  return {
    medianMs: round(med, 1),
    minMs: round(min, 1),
    sessionMedianMs: round(median(used.map((i) => p.session[i]!)), 1),
    timesMs: wall.map((t) => round(t, 1)),
    tokensPerSec: round((batch * seq) / (med / 1000), 0),
    gflop: round(flops.total / 1e9, 3),
    matmulGflop: round(matmulFlops / 1e9, 3),
    gflops: round(flops.total / med / 1e6, 1),
    bestGflops: round(flops.total / min / 1e6, 1),
    nodes: p.built.graph.nodes.length,
    nodeTypes,
    buildMs: round(p.buildMs, 1),
    createMs: round(p.program.createMs, 1),
    feedBytes: bytesOf(Object.values(p.feeds)),
    fetchBytes: p.fetchBytes,
  };
}

function runChild(job: RssJob): Promise<RssResult> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./rss-child.js', import.meta.url), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let settled = false;
    child.once('message', (msg: { ok: boolean; result?: RssResult; error?: string }) => {
      settled = true;
      if (msg.ok) resolve(msg.result!);
      else reject(new Error(`memory measurement of the ${job.kind} program failed: ${msg.error}`));
    });
    child.once('exit', (code, signal) => {
      if (!settled)
        reject(new Error(`memory measurement of the ${job.kind} program: child exited (${code ?? signal})`));
    });
    child.send(job);
  });
}

export async function runTrainStepBench(options: TrainStepBenchOptions = {}): Promise<BenchReport> {
  const quick = options.quick ?? false;
  const cfg: EncoderConfig = { ...(quick ? QUICK : BERT_BASE), norm: options.norm ?? 'post' };
  const batch = options.batch ?? (quick ? 4 : 8);
  const seq = options.seq ?? (quick ? 32 : 128);
  const iterations = options.iterations ?? (quick ? 3 : 5);
  const warmup = options.warmup ?? (quick ? 1 : 2);
  const seed = options.seed ?? 1234;
  const memory = options.memory ?? true;
  for (const [name, v, min] of [
    ['batch', batch, 1],
    ['seq', seq, 1],
    ['iterations', iterations, 1],
    ['warmup', warmup, 0],
  ] as const) {
    if (!Number.isInteger(v) || v < min) {
      throw new Error(`bench train-step: ${name} must be an integer >= ${min}, got ${v}`);
    }
  }
  if (seq > cfg.maxPositions) {
    throw new Error(`bench train-step: seq ${seq} exceeds the model's ${cfg.maxPositions} positions`);
  }
  const say = options.progress ?? (() => {});
  const backendOptions: OnnxRuntimeOptions = {
    ...options.backend,
    ...(options.threads !== undefined ? { intraOpThreads: options.threads } : {}),
  };
  const loadStart = loadavg()[0]!;

  // Memory first, while this process is still small (the children are separate processes, but
  // nothing of this one's state should be able to leak into their figures).
  let mem: BenchReport['memory'] = null;
  if (memory) {
    const job = (kind: 'forward' | 'train'): RssJob => ({
      kind,
      cfg,
      batch,
      seq,
      runs: Math.min(3, warmup + iterations),
      seed,
      backend: backendOptions,
    });
    say('peak RSS of the forward program (child process)');
    const f = await runChild(job('forward'));
    say('peak RSS of the train program (child process)');
    const t = await runChild(job('train'));
    mem = { forward: f, train: t, trainOverForward: round(t.peakMiB / f.peakMiB, 3) };
  }

  const backend = await OnnxRuntimeBackend.create(backendOptions);
  try {
    const tokens = batch * seq;
    const H = cfg.hidden;

    say('feed transfer overhead (1-30 MiB)');
    const transfer: TransferOverhead[] = [];
    for (const mib of quick ? [1, 8] : [1, 4, 16, 30]) transfer.push(await transferOverhead(backend, mib));

    say(`frozen weights (${quick ? 'quick model' : 'BERT-base shape'}), compiling`);
    const weights = makeFrozenWeights(cfg, seed);
    const shapes = [
      { name: 'attention q/k/v/o', m: tokens, k: H, n: H },
      { name: 'ffn in', m: tokens, k: H, n: cfg.ffn },
      { name: 'ffn out', m: tokens, k: cfg.ffn, n: H },
    ];
    const refs = await Promise.all(shapes.map((sh) => compileMatMul(backend, sh.m, sh.k, sh.n)));
    const refFeeds = shapes.map((sh) => ({ x: randomMatrix(sh.m, sh.k, 7) }));
    const fwd = await prepare(backend, 'forward', cfg, weights, batch, seq, seed + 1);
    const train = await prepare(backend, 'train', cfg, weights, batch, seq, seed + 1);

    // Interleaved rounds (each MatMul shape, forward, train), so that a change in the load of
    // a shared machine affects every figure alike instead of biasing their ratios; and rounds in
    // which other processes took more than QUIET_LOAD of the CPUs do not count, up to a limit.
    const maxRounds = options.maxRounds ?? 3 * iterations;
    say(`${warmup} warm-up + ${iterations} timed rounds (up to ${maxRounds} if others load the machine)`);
    const rounds: RoundInfo[] = [];
    for (let r = 0; r < warmup + maxRounds; r++) {
      const record = r >= warmup;
      const before = cpuSample();
      const t0 = performance.now();
      const refMs: number[] = [];
      for (let i = 0; i < refs.length; i++) {
        // Three back-to-back runs, the first not counted: each session has its own intra-op
        // threads, and the previous session's may still be spinning when a short run starts.
        const times: number[] = [];
        for (let k = 0; k < 3; k++) {
          await refs[i]!.run(refFeeds[i]!, ['corner']);
          if (k > 0) times.push(refs[i]!.lastTiming!.runMs);
        }
        refMs.push(Math.min(...times));
      }
      await runOnce(fwd, record);
      await runOnce(train, record);
      if (!record) continue;
      const load = otherLoad(before, cpuSample());
      rounds.push({
        otherLoad: load === null ? null : round(load, 3),
        seconds: round((performance.now() - t0) / 1000, 2),
        forwardMs: round(fwd.wall.at(-1)!, 1),
        trainMs: round(train.wall.at(-1)!, 1),
        matmulMs: refMs.map((t) => round(t, 2)),
      });
      const quietSoFar = rounds.filter((x) => x.otherLoad === null || x.otherLoad <= QUIET_LOAD).length;
      say(
        `round ${rounds.length}: forward ${fwd.wall.at(-1)!.toFixed(0)} ms, train ${train.wall.at(-1)!.toFixed(0)} ms, ` +
          `other load ${load === null ? 'unknown' : `${(100 * load).toFixed(0)}%`} (${quietSoFar}/${iterations} quiet)`,
      );
      if (quietSoFar >= iterations) break;
    }
    const quiet = rounds.flatMap((x, i) => (x.otherLoad === null || x.otherLoad <= QUIET_LOAD ? [i] : []));
    const used = quiet.length >= Math.ceil(iterations / 2) ? quiet : rounds.map((_, i) => i);
    const refShapes: MatMulReference[] = shapes.map((sh, i) => {
      const times = used.map((r) => rounds[r]!.matmulMs[i]!);
      const t = median(times);
      const best = Math.min(...times);
      const f = 2 * sh.m * sh.k * sh.n;
      return {
        ...sh,
        medianMs: round(t, 2),
        gflops: round(f / t / 1e6, 1),
        bestGflops: round(f / best / 1e6, 1),
      };
    });
    // Per layer the model runs 4 attention projections and one FFN in and out.
    const layerFlops = 2 * tokens * (4 * H * H + 2 * H * cfg.ffn);
    const weighted = (key: 'gflops' | 'bestGflops') => round(layerFlops / layerMs(refShapes, key) / 1e6, 1);
    const modelWeightedGflops = weighted('gflops');
    const modelWeightedBestGflops = weighted('bestGflops');
    const forward = summarise(fwd, used, batch, seq);
    const trainT = summarise(train, used, batch, seq);
    const trainable = train.built.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
    for (const p of [...refs, fwd.program, train.program]) await backend.release(p.key);

    const trainOverRef = round(trainT.gflops / modelWeightedGflops, 3);
    const trainOverFwd = round(trainT.medianMs / forward.medianMs, 3);
    return {
      bench: 'train-step',
      date: new Date().toISOString(),
      machine: machineInfo(),
      loadAverage: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) },
      rounds,
      statisticsFrom: used === quiet ? 'quiet rounds' : 'all rounds (the machine was busy)',
      versions: {
        node: process.version,
        onnxruntime: backend.describe().runtime,
        plugin: `@peftkit/plugin-onnxruntime ${pluginVersion()}`,
      },
      backend: backend.describe(),
      options: { batch, seq, iterations, warmup, quick, seed },
      model: { ...cfg, frozenParams: weights.count, trainableParams: trainable, tokensPerStep: tokens },
      matmulReference: { shapes: refShapes, modelWeightedGflops, modelWeightedBestGflops },
      forward,
      train: trainT,
      transferOverhead: transfer,
      memory: mem,
      ratios: {
        trainOverMatmulReference: trainOverRef,
        forwardOverMatmulReference: round(forward.gflops / modelWeightedGflops, 3),
        bestTrainOverBestMatmulReference: round(trainT.bestGflops / modelWeightedBestGflops, 3),
        trainOverForwardTime: trainOverFwd,
        bestTrainOverBestForwardTime: round(trainT.minMs / forward.minMs, 3),
        trainOverForwardPeakRss: mem ? mem.trainOverForward : null,
      },
      targets: [
        {
          name: 'train-step GFLOP/s / MatMul reference (medians)',
          value: trainOverRef,
          target: '>= 0.7',
          met: trainOverRef >= 0.7,
        },
        {
          name: 'train time / forward time (medians)',
          value: trainOverFwd,
          target: '<= 2.3',
          met: trainOverFwd <= 2.3,
        },
        {
          name: 'train peak RSS / forward peak RSS',
          value: mem ? mem.trainOverForward : null,
          target: '<= 1.5',
          met: mem ? mem.trainOverForward <= 1.5 : null,
        },
      ],
    };
  } finally {
    await backend.dispose();
  }
}

/** Milliseconds of one layer's six projections at the reference speed of each shape. */
function layerMs(shapes: MatMulReference[], key: 'gflops' | 'bestGflops'): number {
  const ms = (s: MatMulReference) => (2 * s.m * s.k * s.n) / s[key]! / 1e6;
  return 4 * ms(shapes[0]!) + ms(shapes[1]!) + ms(shapes[2]!);
}
