/** Elementwise ops (broadcasting binary, unary, comparisons) and their VJPs. */
import {
  add,
  cast,
  div,
  erf,
  exp,
  greater,
  max2,
  mul,
  neg,
  pow,
  sign,
  sub,
  sumToShape,
  tanh,
  where,
} from '../builders.js';
import { addDim, divDim, mulDim, subDim } from '../dims.js';
import type { Value } from '../graph.js';
import { isFloat } from '../tensor.js';
import {
  broadcastInfer,
  elementwiseFlops,
  input,
  knownBinary,
  requireFloat,
  sameDtype,
  single,
} from './common.js';
import { type VjpContext, defineOp } from './registry.js';

function binaryFloat(
  type: string,
  vjp: (ctx: VjpContext, a: Value, b: Value, dy: Value, y: Value) => (Value | null)[],
) {
  defineOp({
    type,
    inputs: 2,
    since: type === 'Pow' ? 15 : 14,
    infer(ctx) {
      const a = input(ctx, 0);
      const b = input(ctx, 1);
      const t = sameDtype(ctx, [a, b]);
      let known;
      if (type === 'Mul') known = knownBinary(a, b, mulDim);
      if (type === 'Div') known = knownBinary(a, b, divDim);
      if (type === 'Add') known = knownBinary(a, b, addDim);
      if (type === 'Sub') known = knownBinary(a, b, subDim);
      return single(t, broadcastInfer(ctx, [a, b]), known);
    },
    vjp(ctx) {
      const [a, b] = ctx.node.inputs as Value[];
      const dy = ctx.dOutputs[0]!;
      const [ga, gb] = vjp(ctx, a!, b!, dy, ctx.node.outputs[0]!);
      return [
        ctx.needs[0] && ga ? sumToShape(ga, a!.shape) : null,
        ctx.needs[1] && gb ? sumToShape(gb, b!.shape) : null,
      ];
    },
    flops: elementwiseFlops(1),
  });
}

binaryFloat('Add', (_c, _a, _b, dy) => [dy, dy]);
binaryFloat('Sub', (c, _a, _b, dy) => [dy, c.needs[1] ? neg(dy) : null]);
binaryFloat('Mul', (c, a, b, dy) => [c.needs[0] ? mul(dy, b) : null, c.needs[1] ? mul(dy, a) : null]);
binaryFloat('Div', (c, _a, b, dy, y) => [
  c.needs[0] ? div(dy, b) : null,
  c.needs[1] ? neg(div(mul(dy, y), b)) : null,
]);
// d/da a^b = b a^(b-1); d/db a^b = a^b ln a
binaryFloat('Pow', (c, a, b, dy, y) => [
  c.needs[0] ? mul(dy, mul(b, pow(a, sub(b, 1)))) : null,
  c.needs[1] ? mul(dy, mul(y, unaryNode('Log', a))) : null,
]);

function unaryNode(type: string, x: Value): Value {
  return x.graph.op(type, [x])[0]!;
}

for (const type of ['Max', 'Min']) {
  defineOp({
    type,
    inputs: [1, 8],
    infer(ctx) {
      const vs = ctx.inputs.map((_, i) => input(ctx, i));
      return single(sameDtype(ctx, vs), broadcastInfer(ctx, vs));
    },
    // The gradient goes to the input that was selected (ties go to the first one).
    vjp(ctx) {
      const y = ctx.node.outputs[0]!;
      const dy = ctx.dOutputs[0]!;
      let taken: Value | null = null;
      return ctx.node.inputs.map((x, i) => {
        const isSel = x!.graph.op('Equal', [x!, y])[0]!;
        const sel = taken ? x!.graph.op('And', [isSel, x!.graph.op('Not', [taken])[0]!])[0]! : isSel;
        taken = taken ? x!.graph.op('Or', [taken, isSel])[0]! : isSel;
        return ctx.needs[i] ? sumToShape(where(sel, dy, 0), x!.shape) : null;
      });
    },
    flops: elementwiseFlops(1),
  });
}

defineOp({
  type: 'Sum',
  inputs: [1, 64],
  infer(ctx) {
    const vs = ctx.inputs.map((_, i) => input(ctx, i));
    return single(sameDtype(ctx, vs), broadcastInfer(ctx, vs));
  },
  vjp: (ctx) => ctx.node.inputs.map((x, i) => (ctx.needs[i] ? sumToShape(ctx.dOutputs[0]!, x!.shape) : null)),
  flops: (ins, outs) => (ins.length - 1) * outs[0]!.reduce((a, b) => a * b, 1),
});

function unary(
  type: string,
  vjp: ((x: Value, y: Value, dy: Value) => Value) | null,
  opts: {
    floatOnly?: boolean;
    flopsPerElement?: number;
    since?: number;
    view?: boolean;
    recompute?: (x: Value) => Value;
  } = {},
) {
  defineOp({
    type,
    inputs: 1,
    since: opts.since ?? 13,
    view: opts.view,
    recompute: opts.recompute ? (ctx) => [opts.recompute!(ctx.node.inputs[0]!)] : undefined,
    infer(ctx) {
      const x = input(ctx, 0);
      if (opts.floatOnly !== false) requireFloat(ctx, x);
      return single(x.dtype, x.shape, type === 'Identity' ? x.known : undefined);
    },
    vjp: vjp ? (ctx) => [vjp(ctx.node.inputs[0]!, ctx.node.outputs[0]!, ctx.dOutputs[0]!)] : undefined,
    flops: elementwiseFlops(opts.flopsPerElement ?? 1),
  });
}

unary('Neg', (_x, _y, dy) => neg(dy), { floatOnly: false });
unary('Identity', (_x, _y, dy) => dy, { floatOnly: false, view: true });
unary('Sqrt', (_x, y, dy) => div(mul(dy, 0.5), y));
unary('Reciprocal', (_x, y, dy) => neg(mul(dy, mul(y, y))));
unary('Exp', (_x, y, dy) => mul(dy, y), { flopsPerElement: 4 });
unary('Log', (x, _y, dy) => div(dy, x), { flopsPerElement: 4 });
unary('Tanh', (_x, y, dy) => mul(dy, sub(1, mul(y, y))), { flopsPerElement: 4 });
unary('Sigmoid', (_x, y, dy) => mul(dy, mul(y, sub(1, y))), { flopsPerElement: 4 });
// Recomputed as Max(x, 0): a different op than Relu, so that ONNX Runtime does not merge the two.
unary('Relu', (x, _y, dy) => where(greater(x, 0), dy, 0), { recompute: (x) => max2(x, 0) });
unary('Abs', (x, _y, dy) => mul(dy, sign(x)), { floatOnly: false });
// d erf(x)/dx = 2/sqrt(pi) exp(-x^2)
unary('Erf', (x, _y, dy) => mul(dy, mul(2 / Math.sqrt(Math.PI), exp(neg(mul(x, x))))), {
  flopsPerElement: 4,
});
unary('Sign', null, { floatOnly: false });
unary('Floor', null);

/**
 * Gelu, exact (erf) or tanh-approximated, as defined by ONNX Gelu-20. Exported as
 * com.microsoft Gelu / FastGelu when the target opset predates Gelu-20.
 */
defineOp({
  type: 'Gelu',
  inputs: 1,
  since: 20,
  attrs: { approximate: { kind: 'string', default: 'none' } },
  infer(ctx) {
    const x = input(ctx, 0);
    requireFloat(ctx, x);
    if (ctx.attrs.approximate !== 'none' && ctx.attrs.approximate !== 'tanh') {
      ctx.fail(`approximate must be "none" or "tanh", got "${String(ctx.attrs.approximate)}"`);
    }
    return single(x.dtype, x.shape);
  },
  vjp(ctx) {
    const x = ctx.node.inputs[0]!;
    const dy = ctx.dOutputs[0]!;
    if (ctx.attrs.approximate === 'tanh') {
      // y = 0.5 x (1 + t), t = tanh(u), u = c (x + 0.044715 x^3), c = sqrt(2/pi)
      // y' = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 * 0.044715 x^2)
      const { x2, t, left } = geluTanhParts(x);
      const right = mul(mul(mul(x, 0.5), sub(1, mul(t, t))), mul(add(mul(x2, 3 * 0.044715), 1), GELU_TANH_C));
      return [mul(dy, add(left, right))];
    }
    // y = x Phi(x); y' = Phi(x) + x phi(x), Phi(x) = 0.5 (1 + erf(x / sqrt 2)), phi(x) = exp(-x^2/2)/sqrt(2 pi)
    const cdf = geluCdf(x);
    const pdf = mul(exp(mul(mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return [mul(dy, add(cdf, mul(x, pdf)))];
  },
  // x Phi(x) from the same subexpressions as the VJP, which ONNX Runtime then computes once.
  recompute(ctx) {
    const x = ctx.node.inputs[0]!;
    return [mul(x, ctx.attrs.approximate === 'tanh' ? geluTanhParts(x).left : geluCdf(x))];
  },
  flops: elementwiseFlops(8),
});

const GELU_TANH_C = Math.sqrt(2 / Math.PI);

/** Phi(x) = 0.5 (1 + erf(x / sqrt 2)). */
function geluCdf(x: Value): Value {
  return mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
}

/** The tanh approximation's pieces: x^2, t = tanh(c (x + 0.044715 x^3)) and 0.5 (1 + t). */
function geluTanhParts(x: Value): { x2: Value; t: Value; left: Value } {
  const x2 = mul(x, x);
  const t = tanh(mul(mul(x, add(mul(x2, 0.044715), 1)), GELU_TANH_C));
  return { x2, t, left: mul(add(t, 1), 0.5) };
}

for (const type of ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual']) {
  defineOp({
    type,
    inputs: 2,
    infer(ctx) {
      const a = input(ctx, 0);
      const b = input(ctx, 1);
      sameDtype(ctx, [a, b]);
      return single('bool', broadcastInfer(ctx, [a, b]));
    },
    nonDifferentiableInputs: [0, 1],
  });
}

for (const type of ['And', 'Or', 'Xor']) {
  defineOp({
    type,
    inputs: 2,
    since: 7,
    infer(ctx) {
      const a = input(ctx, 0);
      const b = input(ctx, 1);
      if (a.dtype !== 'bool' || b.dtype !== 'bool') ctx.fail(`${type} takes bool tensors`);
      return single('bool', broadcastInfer(ctx, [a, b]));
    },
    nonDifferentiableInputs: [0, 1],
  });
}

defineOp({
  type: 'Not',
  inputs: 1,
  since: 1,
  infer(ctx) {
    const x = input(ctx, 0);
    if (x.dtype !== 'bool') ctx.fail('Not takes a bool tensor');
    return single('bool', x.shape);
  },
  nonDifferentiableInputs: [0],
});

defineOp({
  type: 'Where',
  inputs: 3,
  since: 16,
  infer(ctx) {
    const c = input(ctx, 0);
    if (c.dtype !== 'bool') ctx.fail(`condition must be bool, got ${c.dtype}`);
    const a = input(ctx, 1);
    const b = input(ctx, 2);
    return single(sameDtype(ctx, [a, b]), broadcastInfer(ctx, [c, a, b]));
  },
  nonDifferentiableInputs: [0],
  vjp(ctx) {
    const [c, a, b] = ctx.node.inputs as Value[];
    const dy = ctx.dOutputs[0]!;
    return [
      null,
      ctx.needs[1] ? sumToShape(where(c!, dy, 0), a!.shape) : null,
      ctx.needs[2] ? sumToShape(where(c!, 0, dy), b!.shape) : null,
    ];
  },
  flops: elementwiseFlops(1),
});

defineOp({
  type: 'Cast',
  inputs: 1,
  attrs: { to: { kind: 'dtype', required: true } },
  infer(ctx) {
    const x = input(ctx, 0);
    return single(ctx.attrs.to as never, x.shape, x.known);
  },
  vjp(ctx) {
    const x = ctx.node.inputs[0]!;
    if (!isFloat(x.dtype) || !isFloat(ctx.node.outputs[0]!.dtype)) return [null];
    return [cast(ctx.dOutputs[0]!, x.dtype)];
  },
});
