/** Neural-network ops: softmax family, LayerNormalization, Dropout, cross-entropy, OneHot. */
import {
  add,
  cast,
  reciprocal,
  sqrt,
  countOf,
  div,
  exp,
  mul,
  oneHot,
  reduceMean,
  reduceSum,
  sub,
  sumToShape,
  unsqueeze,
} from '../builders.js';
import { shapeToString } from '../dims.js';
import type { Value } from '../graph.js';
import { elementAt } from '../tensor.js';
import { elementwiseFlops, input, normAxis, numelOf, requireFloat, sameDtype, single } from './common.js';
import { defineOp } from './registry.js';

defineOp({
  type: 'Softmax',
  inputs: 1,
  attrs: { axis: { kind: 'int', default: -1 } },
  infer(ctx) {
    const x = input(ctx, 0);
    requireFloat(ctx, x);
    normAxis(ctx, ctx.attrs.axis as number, x.rank);
    return single(x.dtype, x.shape);
  },
  // dx = y * (dy - sum(dy * y, axis))
  vjp(ctx) {
    const y = ctx.node.outputs[0]!;
    const dy = ctx.dOutputs[0]!;
    const axis = ctx.attrs.axis as number;
    return [mul(y, sub(dy, reduceSum(mul(dy, y), [axis], true)))];
  },
  flops: elementwiseFlops(5),
});

defineOp({
  type: 'LogSoftmax',
  inputs: 1,
  attrs: { axis: { kind: 'int', default: -1 } },
  infer(ctx) {
    const x = input(ctx, 0);
    requireFloat(ctx, x);
    normAxis(ctx, ctx.attrs.axis as number, x.rank);
    return single(x.dtype, x.shape);
  },
  // dx = dy - softmax(x) * sum(dy, axis)
  vjp(ctx) {
    const y = ctx.node.outputs[0]!;
    const dy = ctx.dOutputs[0]!;
    return [sub(dy, mul(exp(y), reduceSum(dy, [ctx.attrs.axis as number], true)))];
  },
  flops: elementwiseFlops(5),
});

/**
 * LayerNormalization-17: Y = (x - mean) * invstd * scale + bias over axes [axis, rank). The VJP needs
 * the Mean and InvStdDev outputs, so build it with three outputs (builders.layerNorm does).
 */
defineOp({
  type: 'LayerNormalization',
  inputs: [2, 3],
  since: 17,
  attrs: {
    axis: { kind: 'int', default: -1 },
    epsilon: { kind: 'float', default: 1e-5 },
    stash_type: { kind: 'int' },
  },
  infer(ctx) {
    const x = input(ctx, 0);
    requireFloat(ctx, x);
    const axis = normAxis(ctx, ctx.attrs.axis as number, x.rank);
    const normShape = x.shape.slice(axis);
    for (const i of [1, 2]) {
      const p = ctx.inputs[i];
      if (!p) continue;
      sameDtype(ctx, [x, p]);
      if (p.rank !== normShape.length || !p.shape.every((d, j) => d === normShape[j])) {
        ctx.fail(
          `${i === 1 ? 'scale' : 'bias'} ${shapeToString(p.shape)} must have the normalized shape ${shapeToString(normShape)}`,
        );
      }
    }
    const statShape = x.shape.map((d, i) => (i < axis ? d : 1));
    const n = ctx.nOutputs ?? 1;
    if (n < 1 || n > 3) ctx.fail('LayerNormalization has 1 to 3 outputs');
    // Mean and InvStdDev have the stash type, float32 by default, whatever the input type.
    return [
      { dtype: x.dtype, shape: x.shape },
      { dtype: 'float32' as const, shape: statShape },
      { dtype: 'float32' as const, shape: statShape },
    ].slice(0, n);
  },
  vjp(ctx) {
    const [x, scale, bias] = ctx.node.inputs as [Value, Value, Value | null];
    const outs = ctx.node.outputs;
    if (outs.length < 3)
      throw new Error(`LayerNormalization ${ctx.node.name}: build with 3 outputs to differentiate it`);
    const dy = ctx.dOutputs[0];
    if (!dy) return [null, null, null];
    const axis = normAxis(
      {
        fail: (m: string) => {
          throw new Error(m);
        },
      } as never,
      ctx.attrs.axis as number,
      x.rank,
    );
    const axes = x.shape.map((_, i) => i).slice(axis);
    // float32 graphs reuse the forward statistics; other dtypes recompute them at full precision
    // (ONNX Runtime returns them in float32 whatever the input type).
    let invStd: Value = outs[2]!;
    let xhat: Value;
    if (x.dtype === 'float32' && invertibleAffine(scale, bias)) {
      // Normalised input from the output, xhat = (y - bias) / scale: the output is usually kept
      // for the backward pass anyway (the next layer's input), so the input need not be.
      const y = outs[0]!;
      xhat = div(bias ? sub(y, bias) : y, scale);
    } else {
      let mean: Value = outs[1]!;
      if (x.dtype !== 'float32') {
        mean = reduceMean(x, axes, true);
        const centered = sub(x, mean);
        invStd = reciprocal(
          sqrt(add(reduceMean(mul(centered, centered), axes, true), ctx.attrs.epsilon as number)),
        );
      }
      xhat = mul(sub(x, mean), invStd);
    }
    const dScale = ctx.needs[1] ? sumToShape(mul(dy, xhat), scale.shape) : null;
    const dBias = bias && ctx.needs[2] ? sumToShape(dy, bias.shape) : null;
    let dx: Value | null = null;
    if (ctx.needs[0]) {
      // dx = invstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * scale
      const gxh = mul(dy, scale);
      const m1 = reduceMean(gxh, axes, true);
      const m2 = reduceMean(mul(gxh, xhat), axes, true);
      dx = mul(invStd, sub(sub(gxh, m1), mul(xhat, m2)));
    }
    return [dx, dScale, dBias];
  },
  flops: elementwiseFlops(8),
});

/**
 * Whether xhat can be recovered from the LayerNorm output as (y - bias) / scale with float32
 * round-off below about 1e-4: the scale must be a constant whose entries are all far from zero
 * relative to the bias (|scale| >= 1e-3 max(1, |bias|)). A bias that is a graph input (BitFit,
 * LNFit) is allowed; a scale that is one is not, since its values are unknown here.
 */
function invertibleAffine(scale: Value, bias: Value | null): boolean {
  const s = scale.graph.initializers.get(scale);
  if (!s || s.data.dtype !== 'float32') return false;
  let maxBias = 1;
  if (bias) {
    const b = bias.graph.initializers.get(bias);
    if (b) {
      if (b.data.dtype !== 'float32') return false;
      for (const v of b.data.data as Float32Array) maxBias = Math.max(maxBias, Math.abs(v));
    }
  }
  const floor = 1e-3 * maxBias;
  for (const v of s.data.data as Float32Array) if (!(Math.abs(v) >= floor)) return false;
  return true;
}

/** Dropout-13 (inputs: data, ratio, training_mode; outputs: output, mask). The VJP uses the mask. */
defineOp({
  type: 'Dropout',
  inputs: [1, 3],
  attrs: { seed: { kind: 'int' } },
  infer(ctx) {
    const x = input(ctx, 0);
    requireFloat(ctx, x);
    const n = ctx.nOutputs ?? 1;
    return [
      { dtype: x.dtype, shape: x.shape },
      { dtype: 'bool' as const, shape: x.shape },
    ].slice(0, n);
  },
  nonDifferentiableInputs: [1, 2],
  vjp(ctx) {
    const [x, ratio, training] = ctx.node.inputs;
    const dy = ctx.dOutputs[0]!;
    const g = x!.graph;
    const trainingOn =
      training && g.initializers.get(training)
        ? elementAt(g.initializers.get(training)!.data, 0) !== 0
        : false;
    if (!trainingOn) return [dy, null, null];
    if (ctx.node.outputs.length < 2)
      throw new Error(`Dropout ${ctx.node.name}: build with the mask output to differentiate it`);
    const r = ratio && g.initializers.get(ratio) ? elementAt(g.initializers.get(ratio)!.data, 0) : 0.5;
    return [mul(mul(dy, cast(ctx.node.outputs[1]!, x!.dtype)), 1 / (1 - r)), null, null];
  },
  flops: elementwiseFlops(2),
});

/**
 * SoftmaxCrossEntropyLoss-13 over scores [N, C] and int64 labels [N] (no class weights, no
 * ignore_index). Outputs: loss, log_prob. The VJP is (softmax - onehot) scaled by the reduction.
 */
defineOp({
  type: 'SoftmaxCrossEntropyLoss',
  inputs: 2,
  attrs: { reduction: { kind: 'string', default: 'mean' }, ignore_index: { kind: 'int' } },
  infer(ctx) {
    const s = input(ctx, 0);
    const l = input(ctx, 1);
    requireFloat(ctx, s);
    if (ctx.attrs.ignore_index !== undefined) ctx.fail('ignore_index is not supported by the IR');
    if (s.rank !== 2) ctx.fail(`scores must be [N, C], got ${shapeToString(s.shape)}`);
    if (l.dtype !== 'int64' && l.dtype !== 'int32') ctx.fail(`labels must be int64, got ${l.dtype}`);
    if (l.rank !== 1 || l.shape[0] !== s.shape[0])
      ctx.fail(`labels ${shapeToString(l.shape)} must be [${s.shape[0]}]`);
    const red = ctx.attrs.reduction as string;
    if (red !== 'mean' && red !== 'sum' && red !== 'none') ctx.fail(`reduction must be mean, sum or none`);
    return [
      { dtype: s.dtype, shape: red === 'none' ? [s.shape[0]!] : [] },
      { dtype: s.dtype, shape: s.shape },
    ].slice(0, ctx.nOutputs ?? 1);
  },
  nonDifferentiableInputs: [1],
  vjp(ctx) {
    const [s, labels] = ctx.node.inputs as [Value, Value];
    const dLoss = ctx.dOutputs[0];
    if (ctx.dOutputs[1]) throw new Error(`${ctx.node.name}: gradients through log_prob are not supported`);
    if (!dLoss) return [null, null];
    if (ctx.node.outputs.length < 2)
      throw new Error(`${ctx.node.name}: build with the log_prob output to differentiate it`);
    const g = s.graph;
    const p = exp(ctx.node.outputs[1]!);
    const diff = sub(p, oneHot(labels, s.shape[1] as number, s.dtype));
    const red = ctx.attrs.reduction as string;
    if (red === 'none') return [mul(diff, unsqueeze(dLoss, [1])), null];
    const scaled = mul(diff, dLoss);
    return [red === 'mean' ? div(scaled, countOf(g, [s.shape[0]!], s.dtype)) : scaled, null];
  },
  flops: (ins) => 6 * numelOf(ins[0]!),
});

defineOp({
  type: 'OneHot',
  inputs: 3,
  since: 11,
  attrs: { axis: { kind: 'int', default: -1 } },
  infer(ctx) {
    const idx = input(ctx, 0);
    const depth = input(ctx, 1);
    const values = input(ctx, 2);
    if (!depth.known || typeof depth.known[0] !== 'number') ctx.fail('depth must be a constant');
    if ((ctx.attrs.axis as number) !== -1) ctx.fail('only axis -1 is supported');
    return single(values.dtype, [...idx.shape, depth.known![0]!]);
  },
  nonDifferentiableInputs: [0, 1, 2],
});
