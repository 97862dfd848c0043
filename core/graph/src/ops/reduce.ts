/**
 * Reductions. ReduceSum takes its axes as an input (opset 13); ReduceMean/ReduceMax take them as an
 * attribute up to opset 17, which is what the IR targets.
 */
import { cast, countOf, div, equal, expand, reduceSum, unsqueeze, where } from '../builders.js';
import type { Dim } from '../dims.js';
import type { Value } from '../graph.js';
import { type InferContext, type VjpContext, defineOp } from './registry.js';
import { elementwiseFlops, input, knownInts, single } from './common.js';
import { numelOf } from './common.js';

function reducedShape(ctx: InferContext, x: Value, axes: readonly number[] | null, keepdims: boolean): Dim[] {
  const all = axes === null || axes.length === 0;
  const norm = all ? x.shape.map((_, i) => i) : axes.map((a) => (a < 0 ? a + x.rank : a));
  for (const a of norm) if (a < 0 || a >= x.rank) ctx.fail(`axis ${a} out of range for rank ${x.rank}`);
  return keepdims
    ? x.shape.map((d, i) => (norm.includes(i) ? 1 : d))
    : x.shape.filter((_, i) => !norm.includes(i));
}

function normAxes(x: Value, axes: readonly number[] | null): number[] {
  if (!axes || axes.length === 0) return x.shape.map((_, i) => i);
  return axes.map((a) => (a < 0 ? a + x.rank : a)).sort((a, b) => a - b);
}

/** Broadcast the output gradient back over the reduced axes. */
function spread(ctx: VjpContext, axes: number[], keepdims: boolean): Value {
  const x = ctx.node.inputs[0]!;
  let gy = ctx.dOutputs[0]!;
  if (!keepdims) gy = unsqueeze(gy, axes);
  return expand(gy, x.shape);
}

defineOp({
  type: 'ReduceSum',
  inputs: [1, 2],
  attrs: { keepdims: { kind: 'int', default: 1 }, noop_with_empty_axes: { kind: 'int', default: 0 } },
  infer(ctx) {
    const x = input(ctx, 0);
    const axes = ctx.inputs[1] ? (knownInts(ctx, 1, 'axes') as number[]) : null;
    return single(x.dtype, reducedShape(ctx, x, axes, !!ctx.attrs.keepdims));
  },
  nonDifferentiableInputs: [1],
  vjp(ctx) {
    const x = ctx.node.inputs[0]!;
    const axes = normAxes(x, (ctx.node.inputs[1]?.known as number[] | undefined) ?? null);
    return [spread(ctx, axes, !!ctx.attrs.keepdims), null];
  },
  flops: (ins) => numelOf(ins[0]!),
});

defineOp({
  type: 'ReduceMean',
  inputs: 1,
  attrs: { axes: { kind: 'ints' }, keepdims: { kind: 'int', default: 1 } },
  infer(ctx) {
    const x = input(ctx, 0);
    return single(
      x.dtype,
      reducedShape(ctx, x, (ctx.attrs.axes as number[] | undefined) ?? null, !!ctx.attrs.keepdims),
    );
  },
  vjp(ctx) {
    const x = ctx.node.inputs[0]!;
    const axes = normAxes(x, (ctx.attrs.axes as number[] | undefined) ?? null);
    const n = countOf(
      x.graph,
      axes.map((a) => x.shape[a]!),
      x.dtype,
    );
    return [div(spread(ctx, axes, !!ctx.attrs.keepdims), n)];
  },
  flops: (ins) => numelOf(ins[0]!),
});

defineOp({
  type: 'ReduceMax',
  inputs: 1,
  attrs: { axes: { kind: 'ints' }, keepdims: { kind: 'int', default: 1 } },
  infer(ctx) {
    const x = input(ctx, 0);
    return single(
      x.dtype,
      reducedShape(ctx, x, (ctx.attrs.axes as number[] | undefined) ?? null, !!ctx.attrs.keepdims),
    );
  },
  // The gradient is shared equally among tied maxima.
  vjp(ctx) {
    const x = ctx.node.inputs[0]!;
    const axes = normAxes(x, (ctx.attrs.axes as number[] | undefined) ?? null);
    const keep = !!ctx.attrs.keepdims;
    let y = ctx.node.outputs[0]!;
    if (!keep) y = unsqueeze(y, axes);
    const isMax = equal(x, y);
    const count = reduceSum(cast(isMax, x.dtype), axes, true);
    return [where(isMax, div(spread(ctx, axes, keep), count), 0)];
  },
  flops: elementwiseFlops(1),
});
