/**
 * Typed helpers for building graphs: one function per op, plus shape utilities that VJP rules and
 * model code share. Numbers are accepted where a tensor is expected and become scalar constants of
 * the other operand's dtype.
 */
import { type Dim, dimEquals, evalDim, isStatic, termsOf } from './dims.js';
import { type Graph, GraphError, Value } from './graph.js';
import { type DType, tensor } from './tensor.js';

export type Operand = Value | number;

function graphOf(...xs: Operand[]): Graph {
  for (const x of xs) if (x instanceof Value) return x.graph;
  throw new GraphError('at least one operand must be a graph value');
}

function dtypeOf(...xs: Operand[]): DType {
  for (const x of xs) if (x instanceof Value) return x.dtype;
  return 'float32';
}

function lift(g: Graph, x: Operand, dtype: DType): Value {
  return x instanceof Value ? x : g.scalar(x, dtype);
}

function one(
  g: Graph,
  type: string,
  inputs: (Value | null)[],
  attrs: Record<string, unknown> = {},
  name?: string,
): Value {
  return g.op(type, inputs, attrs as never, name ? { name } : {})[0]!;
}

function binary(type: string, a: Operand, b: Operand): Value {
  const g = graphOf(a, b);
  const t = dtypeOf(a, b);
  return one(g, type, [lift(g, a, t), lift(g, b, t)]);
}

export const add = (a: Operand, b: Operand): Value => binary('Add', a, b);
export const sub = (a: Operand, b: Operand): Value => binary('Sub', a, b);
export const mul = (a: Operand, b: Operand): Value => binary('Mul', a, b);
export const div = (a: Operand, b: Operand): Value => binary('Div', a, b);
export const pow = (a: Operand, b: Operand): Value => binary('Pow', a, b);
export const equal = (a: Operand, b: Operand): Value => binary('Equal', a, b);
export const less = (a: Operand, b: Operand): Value => binary('Less', a, b);
export const greater = (a: Operand, b: Operand): Value => binary('Greater', a, b);
export const max2 = (a: Operand, b: Operand): Value => binary('Max', a, b);
export const min2 = (a: Operand, b: Operand): Value => binary('Min', a, b);

export const neg = (x: Value): Value => one(x.graph, 'Neg', [x]);
export const sqrt = (x: Value): Value => one(x.graph, 'Sqrt', [x]);
export const reciprocal = (x: Value): Value => one(x.graph, 'Reciprocal', [x]);
export const exp = (x: Value): Value => one(x.graph, 'Exp', [x]);
export const log = (x: Value): Value => one(x.graph, 'Log', [x]);
export const tanh = (x: Value): Value => one(x.graph, 'Tanh', [x]);
export const sigmoid = (x: Value): Value => one(x.graph, 'Sigmoid', [x]);
export const relu = (x: Value): Value => one(x.graph, 'Relu', [x]);
export const erf = (x: Value): Value => one(x.graph, 'Erf', [x]);
export const abs = (x: Value): Value => one(x.graph, 'Abs', [x]);
export const sign = (x: Value): Value => one(x.graph, 'Sign', [x]);
export const not = (x: Value): Value => one(x.graph, 'Not', [x]);
export const identity = (x: Value): Value => one(x.graph, 'Identity', [x]);
export const shapeOf = (x: Value): Value => one(x.graph, 'Shape', [x]);

export function gelu(x: Value, approximate: 'none' | 'tanh' = 'none'): Value {
  return one(x.graph, 'Gelu', [x], { approximate });
}

export function cast(x: Value, to: DType): Value {
  if (x.dtype === to) return x;
  return one(x.graph, 'Cast', [x], { to });
}

export function matmul(a: Value, b: Value): Value {
  return one(a.graph, 'MatMul', [a, b]);
}

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
}

export function gemm(a: Value, b: Value, c: Value | null = null, o: GemmOptions = {}): Value {
  return one(a.graph, 'Gemm', [a, b, c], {
    transA: o.transA ? 1 : undefined,
    transB: o.transB ? 1 : undefined,
    alpha: o.alpha !== undefined && o.alpha !== 1 ? o.alpha : undefined,
    beta: o.beta !== undefined && o.beta !== 1 ? o.beta : undefined,
  });
}

export function softmax(x: Value, axis = -1): Value {
  return one(x.graph, 'Softmax', [x], { axis });
}

export function logSoftmax(x: Value, axis = -1): Value {
  return one(x.graph, 'LogSoftmax', [x], { axis });
}

/** LayerNormalization with all three outputs (Y, Mean, InvStdDev); the VJP reuses the statistics. */
export function layerNorm(x: Value, scale: Value, bias: Value | null, epsilon = 1e-5, axis = -1): Value {
  return x.graph.op('LayerNormalization', [x, scale, bias], { epsilon, axis }, { outputs: 3 })[0]!;
}

export function reduceSum(x: Value, axes: readonly number[] | null, keepdims = true): Value {
  const g = x.graph;
  return one(g, 'ReduceSum', [x, axes ? g.ints(axes) : null], { keepdims: keepdims ? 1 : 0 });
}

export function reduceMean(x: Value, axes: readonly number[] | null, keepdims = true): Value {
  return one(x.graph, 'ReduceMean', [x], { axes: axes ?? undefined, keepdims: keepdims ? 1 : 0 });
}

export function reduceMax(x: Value, axes: readonly number[] | null, keepdims = true): Value {
  return one(x.graph, 'ReduceMax', [x], { axes: axes ?? undefined, keepdims: keepdims ? 1 : 0 });
}

export function transpose(x: Value, perm: readonly number[]): Value {
  return one(x.graph, 'Transpose', [x], { perm });
}

/** Swap the last two axes. */
export function transposeLast2(x: Value): Value {
  const perm = x.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return transpose(x, perm);
}

/**
 * Reshape to `shape`, given as symbolic dims (converted to a runtime shape tensor built from the
 * graph inputs' dimensions when needed), as raw ONNX numbers (0 copies, -1 infers), or as a value.
 */
export function reshape(x: Value, shape: Value | readonly Dim[]): Value {
  const g = x.graph;
  const s = shape instanceof Value ? shape : shapeTensor(g, shape);
  return one(g, 'Reshape', [x, s]);
}

export function flatten(x: Value, axis = 1): Value {
  return one(x.graph, 'Flatten', [x], { axis });
}

export function concat(xs: readonly Value[], axis: number): Value {
  if (xs.length === 1) return xs[0]!;
  return one(xs[0]!.graph, 'Concat', [...xs], { axis });
}

/** Split along `axis` into pieces of the given (symbolic) sizes. */
export function split(x: Value, sizes: readonly Dim[], axis = 0): Value[] {
  const g = x.graph;
  const allStatic = sizes.every(isStatic);
  const splitInput = allStatic
    ? g.ints(sizes as number[])
    : concat(
        sizes.map((d) => dimValue(g, d)),
        0,
      );
  return g.op('Split', [x, splitInput], { axis }, { outputs: sizes.length });
}

/** Slice with (possibly symbolic) starts/ends along the given axes; steps of 1. */
export function slice(
  x: Value,
  starts: readonly Dim[],
  ends: readonly Dim[],
  axes: readonly number[],
): Value {
  const g = x.graph;
  const vec = (ds: readonly Dim[]): Value =>
    ds.every(isStatic)
      ? g.ints(ds as number[])
      : concat(
          ds.map((d) => dimValue(g, d)),
          0,
        );
  return one(g, 'Slice', [x, vec(starts), vec(ends), g.ints(axes)]);
}

export function gather(data: Value, indices: Value, axis = 0): Value {
  return one(data.graph, 'Gather', [data, indices], { axis });
}

export function where(cond: Value, a: Operand, b: Operand): Value {
  const g = cond.graph;
  const t = dtypeOf(a, b);
  return one(g, 'Where', [cond, lift(g, a, t), lift(g, b, t)]);
}

export function expand(x: Value, shape: Value | readonly Dim[]): Value {
  const g = x.graph;
  return one(g, 'Expand', [x, shape instanceof Value ? shape : shapeTensor(g, shape)]);
}

export function unsqueeze(x: Value, axes: readonly number[]): Value {
  return one(x.graph, 'Unsqueeze', [x, x.graph.ints(axes)]);
}

export function squeeze(x: Value, axes: readonly number[]): Value {
  return one(x.graph, 'Squeeze', [x, x.graph.ints(axes)]);
}

export function sum(xs: readonly Value[]): Value {
  if (xs.length === 1) return xs[0]!;
  if (xs.length === 2) return add(xs[0]!, xs[1]!);
  return one(xs[0]!.graph, 'Sum', [...xs]);
}

export function oneHot(indices: Value, depth: number, dtype: DType = 'float32'): Value {
  const g = indices.graph;
  // ONNX Runtime implements OneHot with float32 (not float64) values: build float32, then cast.
  const values = g.constant(tensor('float32', [2], [0, 1]));
  const ix = indices.dtype === 'int64' ? indices : cast(indices, 'int64');
  const hot = one(g, 'OneHot', [ix, g.constant(tensor('int64', [], [depth])), values], { axis: -1 });
  return cast(hot, dtype);
}

/**
 * Training-mode dropout. The output is computed from the mask (x · mask / (1 − ratio)) rather than
 * taken from Dropout's own output, so that the mask is always consumed: ONNX Runtime's optimiser
 * removes a Dropout node whose mask is unused, even in training mode.
 */
export function dropout(x: Value, ratio: number, seed?: number): { output: Value; mask: Value } {
  const g = x.graph;
  const [, mask] = g.op(
    'Dropout',
    [x, g.scalar(ratio, x.dtype), g.constant(tensor('bool', [], [1]))],
    { seed },
    { outputs: 2 },
  );
  const output = mul(mul(x, cast(mask!, x.dtype)), 1 / (1 - ratio));
  return { output, mask: mask! };
}

/** Fused softmax + cross-entropy over class scores [N, C] and int64 labels [N]; mean reduction. */
export function softmaxCrossEntropy(scores: Value, labels: Value, reduction: 'mean' | 'sum' = 'mean'): Value {
  return scores.graph.op('SoftmaxCrossEntropyLoss', [scores, labels], { reduction }, { outputs: 2 })[0]!;
}

export function scatterND(
  data: Value,
  indices: Value,
  updates: Value,
  reduction: 'none' | 'add' = 'none',
): Value {
  return one(data.graph, 'ScatterND', [data, indices, updates], { reduction });
}

export function constantOfShape(shape: Value, value: number, dtype: DType): Value {
  return one(shape.graph, 'ConstantOfShape', [shape], { value: tensor(dtype, [1], [value]) });
}

export function zeros(g: Graph, shape: readonly Dim[], dtype: DType = 'float32'): Value {
  if (shape.every(isStatic) && (shape as number[]).reduce((a, b) => a * b, 1) <= 64) {
    return g.constant(
      tensor(dtype, shape as number[], new Array((shape as number[]).reduce((a, b) => a * b, 1)).fill(0)),
    );
  }
  return one(g, 'ConstantOfShape', [shapeTensor(g, shape)], { value: tensor(dtype, [1], [0]) });
}

export function pad(x: Value, pads: readonly Dim[]): Value {
  const g = x.graph;
  const p = pads.every(isStatic)
    ? g.ints(pads as number[])
    : concat(
        pads.map((d) => dimValue(g, d)),
        0,
      );
  return one(g, 'Pad', [x, p]);
}

// ---------------------------------------------------------------------------------------------
// Shape utilities

const symbolCache = new WeakMap<Graph, Map<string, Value>>();

/**
 * Runtime value (int64 [1]) of a dimension. Static dims become constants; a symbolic dim is read off
 * a graph input that carries that symbol (Shape + Gather, built once per symbol and graph).
 */
export function dimValue(g: Graph, d: Dim): Value {
  if (isStatic(d)) return g.ints([d]);
  let cache = symbolCache.get(g);
  if (!cache) symbolCache.set(g, (cache = new Map()));
  const hit = cache.get(String(d));
  if (hit) return hit;
  let v: Value | null = null;
  for (const { coef, syms } of termsOf(d)) {
    let t: Value | null = coef === 1 ? null : g.ints([coef]);
    for (const s of syms) {
      const sv = symbolValue(g, s);
      t = t ? mul(t, sv) : sv;
    }
    t ??= g.ints([1]);
    v = v ? add(v, t) : t;
  }
  cache.set(String(d), v!);
  return v!;
}

function symbolValue(g: Graph, sym: string): Value {
  let cache = symbolCache.get(g);
  if (!cache) symbolCache.set(g, (cache = new Map()));
  const key = `sym:${sym}`;
  const hit = cache.get(key);
  if (hit) return hit;
  for (const input of g.inputs) {
    const axis = input.shape.findIndex((d) => d === sym);
    if (axis >= 0) {
      const v = g.scoped('shape', () => gather(shapeOf(input), g.ints([axis]), 0));
      cache.set(key, v);
      return v;
    }
  }
  throw new GraphError(`no graph input has symbolic dimension "${sym}", so its runtime value is unknown`);
}

/** A 1-D int64 shape tensor for `shape` (constant when static). */
export function shapeTensor(g: Graph, shape: readonly Dim[]): Value {
  if (shape.every(isStatic)) return g.ints(shape as number[]);
  const v = concat(
    shape.map((d) => dimValue(g, d)),
    0,
  );
  v.known = [...shape];
  return v;
}

/** Number of elements (as float scalar tensor of `dtype`) of the given dims; constant when static. */
export function countOf(g: Graph, dims: readonly Dim[], dtype: DType): Value {
  if (dims.every(isStatic))
    return g.scalar(
      (dims as number[]).reduce((a, b) => a * b, 1),
      dtype,
    );
  const prod = dims.reduce<Value | null>(
    (acc, d) => (acc ? mul(acc, dimValue(g, d)) : dimValue(g, d)),
    null,
  )!;
  return cast(reshape(prod, []), dtype);
}

/**
 * Sum a broadcast gradient back down to `shape` (the reverse of numpy broadcasting): reduce the
 * leading extra axes and every axis where the target has size 1 but the gradient does not.
 */
export function sumToShape(grad: Value, shape: readonly Dim[]): Value {
  const extra = grad.rank - shape.length;
  if (extra < 0) throw new GraphError(`sumToShape: gradient rank ${grad.rank} < target rank ${shape.length}`);
  const axes: number[] = [];
  for (let i = 0; i < grad.rank; i++) {
    if (i < extra) axes.push(i);
    else if (shape[i - extra] === 1 && grad.shape[i] !== 1) axes.push(i);
  }
  if (axes.length === 0) return grad;
  let r = reduceSum(grad, axes, true);
  if (extra > 0)
    r = squeeze(
      r,
      axes.filter((a) => a < extra),
    );
  return r;
}

/** True when `shape` is statically known to equal the value's shape. */
export function hasShape(v: Value, shape: readonly Dim[]): boolean {
  return v.rank === shape.length && v.shape.every((d, i) => dimEquals(d, shape[i]!));
}

export function staticSize(shape: readonly Dim[], bindings: Record<string, number> = {}): number {
  return shape.reduce<number>((a, d) => a * evalDim(d, bindings), 1);
}
