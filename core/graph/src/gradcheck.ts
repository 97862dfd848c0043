/**
 * Finite-difference gradient checking, independent of any runtime: the caller supplies `run`, which
 * executes serialised ONNX (ONNX Runtime in peftkit's backend and tests).
 *
 * The check reduces the graph's output to a scalar with a fixed random projection (so every output
 * element matters), differentiates that scalar with `gradients`, and compares each analytic
 * gradient entry against a central difference of the same scalar.
 */
import { gradients } from './autodiff.js';
import { mul, reduceSum } from './builders.js';
import { type Dim, evalShape } from './dims.js';
import { Graph, type Value } from './graph.js';
import { serialize, type SerializedModel } from './onnx.js';
import { type DType, type TensorData, sizeOf, tensor } from './tensor.js';

export type GraphRunner = (
  model: SerializedModel,
  feeds: Record<string, TensorData>,
  fetches: readonly string[],
  /** The graph `model` was serialised from (runners that compile graphs themselves use it). */
  graph: Graph,
) => Promise<Record<string, TensorData>>;

export interface GradCheckInput {
  name: string;
  shape: readonly Dim[];
  dtype?: DType;
  /** Differentiate w.r.t. this input (default true for float inputs). */
  trainable?: boolean;
  /** Fixed values (int inputs such as token ids must be given). */
  values?: TensorData;
  /** Range of the random values (default [-1, 1]). */
  range?: [number, number];
}

export interface GradCheckOptions {
  inputs: readonly GradCheckInput[];
  /** Builds the function under test from its inputs; returns the value(s) to check. */
  build: (g: Graph, inputs: Record<string, Value>) => Value | Value[];
  run: GraphRunner;
  bindings?: Record<string, number>;
  /** Finite-difference step (default 1e-3 for float64, 1e-1 for float32). */
  eps?: number;
  /** Check at most this many entries per input (chosen at random; default 24). */
  maxEntries?: number;
  seed?: number;
}

export interface GradCheckEntry {
  input: string;
  index: number;
  analytic: number;
  numeric: number;
  relError: number;
}

export interface GradCheckResult {
  maxRelError: number;
  worst: GradCheckEntry | null;
  entries: GradCheckEntry[];
}

/** Small deterministic PRNG (mulberry32) so checks are reproducible without other packages. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function relError(a: number, b: number, floor: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), floor);
}

export async function gradCheck(opts: GradCheckOptions): Promise<GradCheckResult> {
  const rand = prng(opts.seed ?? 1234);
  const bindings = opts.bindings ?? {};
  const g = new Graph('gradcheck');
  const values: Record<string, Value> = {};
  const feeds: Record<string, TensorData> = {};
  const trainable: Value[] = [];
  let floatType: DType = 'float32';
  for (const inp of opts.inputs) {
    const dtype = inp.dtype ?? 'float32';
    const v = g.input(inp.name, dtype, inp.shape);
    values[inp.name] = v;
    const shape = evalShape(inp.shape, bindings);
    if (inp.values) {
      feeds[inp.name] = inp.values;
    } else {
      const [lo, hi] = inp.range ?? [-1, 1];
      const n = sizeOf(shape);
      const arr = new Array<number>(n);
      for (let i = 0; i < n; i++) arr[i] = lo + (hi - lo) * rand();
      feeds[inp.name] = tensor(dtype, shape, arr);
    }
    if (inp.trainable ?? (dtype === 'float32' || dtype === 'float64')) {
      trainable.push(v);
      floatType = dtype;
    }
  }
  const built = opts.build(g, values);
  const outs = Array.isArray(built) ? built : [built];
  // Scalar objective: sum_k sum(out_k * proj_k), with fixed random projections.
  let objective: Value | null = null;
  for (const [k, o] of outs.entries()) {
    // The projection is an input (not a constant) so that symbolic output shapes work.
    const proj = g.input(`proj_${k}`, o.dtype, o.shape);
    const shape = evalShape(o.shape, bindings);
    feeds[proj.name] = tensor(
      o.dtype,
      shape,
      Array.from({ length: sizeOf(shape) }, () => rand() * 2 - 1),
    );
    const term = reduceSum(mul(o, proj), null, false);
    objective = objective ? g.op('Add', [objective, term])[0]! : term;
  }
  g.output(objective!, 'objective');
  const grads = gradients(objective!, trainable);
  for (const t of trainable) g.output(grads.get(t)!, `grad_${t.name}`);
  const model = serialize(g);

  const base = await opts.run(model, feeds, ['objective', ...trainable.map((t) => `grad_${t.name}`)], g);
  const eps = opts.eps ?? (floatType === 'float64' ? 1e-5 : 1e-1);
  const entries: GradCheckEntry[] = [];
  for (const t of trainable) {
    const analytic = base[`grad_${t.name}`]!.data as Float32Array | Float64Array;
    const original = feeds[t.name]!;
    const n = original.data.length;
    const picks = new Set<number>();
    const want = Math.min(n, opts.maxEntries ?? 24);
    while (picks.size < want) picks.add(Math.floor(rand() * n));
    const scale = Math.max(...Array.from(analytic, (x) => Math.abs(x)), 1e-6);
    for (const idx of picks) {
      const f = async (delta: number): Promise<number> => {
        const data = (original.data as Float32Array | Float64Array).slice();
        data[idx] = data[idx]! + delta;
        const r = await opts.run(model, { ...feeds, [t.name]: { ...original, data } }, ['objective'], g);
        return Number(r.objective!.data[0]);
      };
      const numeric = ((await f(eps)) - (await f(-eps))) / (2 * eps);
      // Errors are relative to the entry, floored at 1e-3 of the largest gradient of that input so
      // that near-zero entries compare on an absolute scale instead of amplifying round-off.
      entries.push({
        input: t.name,
        index: idx,
        analytic: analytic[idx]!,
        numeric,
        relError: relError(analytic[idx]!, numeric, 1e-3 * scale),
      });
    }
  }
  let worst: GradCheckEntry | null = null;
  for (const e of entries) if (!worst || e.relError > worst.relError) worst = e;
  return { maxRelError: worst?.relError ?? 0, worst, entries };
}
