/**
 * Finite-difference checks of every VJP rule, run in ONNX Runtime. float64 where ORT has float64
 * kernels (tight tolerance), float32 with a large step where it does not (Erf, Gelu).
 */
import { expect } from 'chai';
import {
  type DType,
  type GradCheckInput,
  type Graph,
  type Value,
  gradCheck,
  ops,
  tensor,
} from '../src/index.js';
import { runOrt } from './ort.js';

interface Case {
  name: string;
  inputs: GradCheckInput[];
  build: (g: Graph, x: Record<string, Value>) => Value | Value[];
  tol?: number;
  eps?: number;
  bindings?: Record<string, number>;
}

const f64 = (
  name: string,
  shape: (number | string)[],
  extra: Partial<GradCheckInput> = {},
): GradCheckInput => ({
  name,
  shape,
  dtype: 'float64',
  ...extra,
});
const f32 = (
  name: string,
  shape: (number | string)[],
  extra: Partial<GradCheckInput> = {},
): GradCheckInput => ({
  name,
  shape,
  dtype: 'float32',
  ...extra,
});
const ids = (name: string, shape: number[], values: number[], dtype: DType = 'int64'): GradCheckInput => ({
  name,
  shape,
  dtype,
  trainable: false,
  values: tensor(dtype, shape, values),
});
const pos = { range: [0.5, 2] as [number, number] };

const cases: Case[] = [
  {
    name: 'Add (broadcast)',
    inputs: [f64('a', [2, 3, 4]), f64('b', [3, 1])],
    build: (_g, x) => ops.add(x.a!, x.b!),
  },
  {
    name: 'Sub (broadcast)',
    inputs: [f64('a', [3, 1]), f64('b', [2, 3, 4])],
    build: (_g, x) => ops.sub(x.a!, x.b!),
  },
  {
    name: 'Mul (broadcast)',
    inputs: [f64('a', [2, 3, 4]), f64('b', [4])],
    build: (_g, x) => ops.mul(x.a!, x.b!),
  },
  { name: 'Div', inputs: [f64('a', [3, 4]), f64('b', [3, 4], pos)], build: (_g, x) => ops.div(x.a!, x.b!) },
  { name: 'Pow', inputs: [f64('a', [3, 4], pos), f64('b', [4])], build: (_g, x) => ops.pow(x.a!, x.b!) },
  { name: 'Neg', inputs: [f64('a', [5])], build: (_g, x) => ops.neg(x.a!) },
  { name: 'Sqrt', inputs: [f64('a', [5], pos)], build: (_g, x) => ops.sqrt(x.a!) },
  { name: 'Reciprocal', inputs: [f64('a', [5], pos)], build: (_g, x) => ops.reciprocal(x.a!) },
  { name: 'Exp', inputs: [f64('a', [5])], build: (_g, x) => ops.exp(x.a!) },
  { name: 'Log', inputs: [f64('a', [5], pos)], build: (_g, x) => ops.log(x.a!) },
  { name: 'Tanh', inputs: [f64('a', [5])], build: (_g, x) => ops.tanh(x.a!) },
  { name: 'Sigmoid', inputs: [f64('a', [5])], build: (_g, x) => ops.sigmoid(x.a!) },
  { name: 'Relu', inputs: [f64('a', [8])], build: (_g, x) => ops.relu(x.a!) },
  { name: 'Abs', inputs: [f64('a', [8])], build: (_g, x) => ops.abs(x.a!) },
  { name: 'Erf (float32)', inputs: [f32('a', [8])], build: (_g, x) => ops.erf(x.a!), tol: 5e-3 },
  {
    name: 'Gelu erf (float32)',
    inputs: [f32('a', [4, 6], { range: [-3, 3] })],
    build: (_g, x) => ops.gelu(x.a!),
    tol: 5e-3,
    eps: 1e-2,
  },
  {
    name: 'Gelu tanh (float32)',
    inputs: [f32('a', [4, 6], { range: [-3, 3] })],
    build: (_g, x) => ops.gelu(x.a!, 'tanh'),
    tol: 5e-3,
    eps: 1e-2,
  },
  { name: 'Max', inputs: [f64('a', [3, 4]), f64('b', [4])], build: (_g, x) => ops.max2(x.a!, x.b!) },
  {
    name: 'Sum (3 inputs)',
    inputs: [f64('a', [3, 4]), f64('b', [4]), f64('c', [3, 1])],
    build: (g, x) => g.op('Sum', [x.a!, x.b!, x.c!])[0]!,
  },
  {
    name: 'MatMul 2-D',
    inputs: [f64('a', [3, 4]), f64('b', [4, 5])],
    build: (_g, x) => ops.matmul(x.a!, x.b!),
  },
  {
    name: 'MatMul 3-D x 2-D (linear)',
    inputs: [f64('a', [2, 3, 4]), f64('b', [4, 5])],
    build: (_g, x) => ops.matmul(x.a!, x.b!),
  },
  {
    name: 'MatMul 4-D batched (attention)',
    inputs: [f64('a', [2, 2, 3, 4]), f64('b', [2, 2, 4, 3])],
    build: (_g, x) => ops.matmul(x.a!, x.b!),
  },
  {
    name: 'MatMul batch broadcast',
    inputs: [f64('a', [2, 3, 3, 4]), f64('b', [1, 3, 4, 2])],
    build: (_g, x) => ops.matmul(x.a!, x.b!),
  },
  {
    name: 'MatMul symbolic batch',
    inputs: [f64('a', ['B', 'T', 4]), f64('b', [4, 3])],
    build: (_g, x) => ops.matmul(x.a!, x.b!),
    bindings: { B: 2, T: 3 },
  },
  ...[
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ].map(([ta, tb]): Case => ({
    name: `Gemm transA=${ta} transB=${tb} with C`,
    inputs: [f64('a', ta ? [4, 3] : [3, 4]), f64('b', tb ? [5, 4] : [4, 5]), f64('c', [5])],
    build: (_g, x) => ops.gemm(x.a!, x.b!, x.c!, { transA: ta, transB: tb, alpha: 0.7, beta: 1.3 }),
  })),
  { name: 'Softmax', inputs: [f64('a', [3, 5])], build: (_g, x) => ops.softmax(x.a!, -1) },
  { name: 'Softmax axis 1 of 3', inputs: [f64('a', [2, 4, 3])], build: (_g, x) => ops.softmax(x.a!, 1) },
  { name: 'LogSoftmax', inputs: [f64('a', [3, 5])], build: (_g, x) => ops.logSoftmax(x.a!, -1) },
  {
    name: 'LayerNormalization',
    inputs: [f64('x', [2, 3, 6]), f64('s', [6]), f64('b', [6])],
    build: (_g, x) => ops.layerNorm(x.x!, x.s!, x.b!, 1e-5),
  },
  {
    name: 'LayerNormalization over two axes',
    inputs: [f64('x', [2, 3, 4]), f64('s', [3, 4]), f64('b', [3, 4])],
    build: (_g, x) => ops.layerNorm(x.x!, x.s!, x.b!, 1e-5, 1),
  },
  {
    name: 'ReduceSum axis',
    inputs: [f64('a', [2, 3, 4])],
    build: (_g, x) => ops.reduceSum(x.a!, [1], false),
  },
  {
    name: 'ReduceSum all keepdims',
    inputs: [f64('a', [2, 3])],
    build: (_g, x) => ops.reduceSum(x.a!, null, true),
  },
  {
    name: 'ReduceMean',
    inputs: [f64('a', [2, 3, 4])],
    build: (_g, x) => ops.reduceMean(x.a!, [0, 2], false),
  },
  {
    name: 'ReduceMean symbolic',
    inputs: [f64('a', ['B', 'T', 4])],
    build: (_g, x) => ops.reduceMean(x.a!, [1], true),
    bindings: { B: 2, T: 5 },
  },
  { name: 'ReduceMax', inputs: [f64('a', [3, 4])], build: (_g, x) => ops.reduceMax(x.a!, [1], false) },
  { name: 'Transpose', inputs: [f64('a', [2, 3, 4])], build: (_g, x) => ops.transpose(x.a!, [2, 0, 1]) },
  { name: 'Reshape', inputs: [f64('a', [2, 3, 4])], build: (_g, x) => ops.reshape(x.a!, [0, 0, 2, 2]) },
  {
    name: 'Reshape symbolic (split heads)',
    inputs: [f64('a', ['B', 'T', 6])],
    build: (_g, x) => ops.reshape(x.a!, [0, 0, 2, 3]),
    bindings: { B: 2, T: 3 },
  },
  { name: 'Flatten', inputs: [f64('a', [2, 3, 4])], build: (_g, x) => ops.flatten(x.a!, 2) },
  {
    name: 'Concat',
    inputs: [f64('a', [2, 3]), f64('b', [2, 2])],
    build: (_g, x) => ops.concat([x.a!, x.b!], 1),
  },
  {
    name: 'Concat symbolic (prefix + sequence)',
    inputs: [f64('p', ['B', 2, 3]), f64('a', ['B', 'T', 3])],
    build: (_g, x) => ops.concat([x.p!, x.a!], 1),
    bindings: { B: 2, T: 4 },
  },
  { name: 'Split', inputs: [f64('a', [2, 5])], build: (_g, x) => ops.split(x.a!, [2, 3], 1) },
  {
    name: 'Split (one output unused)',
    inputs: [f64('a', [6, 2])],
    build: (_g, x) => ops.split(x.a!, [1, 5], 0)[1]!,
  },
  { name: 'Slice', inputs: [f64('a', [4, 5])], build: (_g, x) => ops.slice(x.a!, [1, 0], [3, -1], [0, 1]) },
  {
    name: 'Slice symbolic',
    inputs: [f64('a', ['B', 'T', 3])],
    build: (_g, x) => ops.slice(x.a!, [1], ['T'], [1]),
    bindings: { B: 2, T: 4 },
  },
  {
    name: 'Gather (embedding, duplicate ids)',
    inputs: [f64('e', [5, 3]), ids('i', [2, 3], [0, 4, 4, 1, 0, 2])],
    build: (_g, x) => ops.gather(x.e!, x.i!, 0),
  },
  {
    name: 'Where',
    inputs: [f64('a', [2, 3]), f64('b', [3]), f64('c', [2, 3])],
    build: (_g, x) => ops.where(ops.greater(x.c!, 0), x.a!, x.b!),
  },
  { name: 'Expand', inputs: [f64('a', [3, 1])], build: (_g, x) => ops.expand(x.a!, [2, 3, 4]) },
  { name: 'Unsqueeze', inputs: [f64('a', [2, 3])], build: (_g, x) => ops.unsqueeze(x.a!, [0, 3]) },
  { name: 'Squeeze', inputs: [f64('a', [2, 1, 3])], build: (_g, x) => ops.squeeze(x.a!, [1]) },
  {
    name: 'Cast float32 -> float64',
    inputs: [f32('a', [4])],
    build: (_g, x) => ops.mul(ops.cast(x.a!, 'float64'), ops.cast(x.a!, 'float64')),
    tol: 5e-3,
  },
  {
    name: 'SoftmaxCrossEntropyLoss (mean)',
    inputs: [f64('s', [4, 3]), ids('y', [4], [0, 2, 1, 2])],
    build: (_g, x) => ops.softmaxCrossEntropy(x.s!, x.y!),
  },
  {
    name: 'SoftmaxCrossEntropyLoss symbolic batch',
    inputs: [f64('s', ['B', 3]), { ...ids('y', [4], [0, 2, 1, 2]), shape: ['B'] }],
    build: (_g, x) => ops.softmaxCrossEntropy(x.s!, x.y!),
    bindings: { B: 4 },
  },
  {
    name: 'MSE loss (composed)',
    inputs: [f64('p', [4]), f64('t', [4], { trainable: false })],
    build: (_g, x) => {
      const d = ops.sub(x.p!, x.t!);
      return ops.reduceMean(ops.mul(d, d), null, false);
    },
  },
  {
    name: 'ScatterND add (updates)',
    inputs: [f64('d', [4, 2]), ids('i', [3, 1], [1, 3, 1]), f64('u', [3, 2])],
    build: (_g, x) => ops.scatterND(x.d!, x.i!, x.u!, 'add'),
  },
  {
    name: 'Pad',
    inputs: [f64('a', [2, 3])],
    build: (_g, x) => ops.pad(x.a!, [1, 0, 0, 2]),
  },
];

describe('VJP rules agree with finite differences', function () {
  this.timeout(60_000);
  for (const c of cases) {
    it(c.name, async () => {
      const r = await gradCheck({
        inputs: c.inputs,
        build: c.build,
        run: runOrt,
        bindings: c.bindings,
        eps: c.eps,
      });
      expect(r.entries.length).to.be.greaterThan(0);
      const tol = c.tol ?? 1e-6;
      expect(r.maxRelError, JSON.stringify(r.worst)).to.be.lessThan(tol);
    });
  }
});
