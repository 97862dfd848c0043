/**
 * Graph fragments for differentiable architecture search: stop-gradient, straight-through
 * estimators and Gumbel-softmax sampling. (peftkit's own strategies relax their architecture
 * parameters in TypeScript and feed gates as inputs; these fragments are for strategies that prefer
 * to keep the relaxation inside the graph.)
 */
import { add, div, log, neg, oneHot, softmax, sub } from './builders.js';
import type { Value } from './graph.js';
import { defineOp } from './ops/registry.js';
import { input, single } from './ops/common.js';

/**
 * StopGradient: identity in the forward pass, no gradient in the backward pass. It is an IR-only
 * op (domain "ai.peftkit") that serialises as ONNX Identity.
 */
defineOp({
  type: 'StopGradient',
  domain: 'ai.peftkit',
  inputs: 1,
  infer(ctx) {
    const x = input(ctx, 0);
    return single(x.dtype, x.shape, x.known);
  },
});

defineOp({
  type: 'ArgMax',
  inputs: 1,
  attrs: {
    axis: { kind: 'int', default: 0 },
    keepdims: { kind: 'int', default: 1 },
    select_last_index: { kind: 'int', default: 0 },
  },
  infer(ctx) {
    const x = input(ctx, 0);
    const axis =
      (ctx.attrs.axis as number) < 0 ? (ctx.attrs.axis as number) + x.rank : (ctx.attrs.axis as number);
    const shape = ctx.attrs.keepdims
      ? x.shape.map((d, i) => (i === axis ? 1 : d))
      : x.shape.filter((_, i) => i !== axis);
    return single('int64', shape);
  },
  nonDifferentiableInputs: [0],
});

export function stopGradient(x: Value): Value {
  return x.graph.op('StopGradient', [x], {}, {}, 'ai.peftkit')[0]!;
}

export function argMax(x: Value, axis = -1, keepdims = false): Value {
  return x.graph.op('ArgMax', [x], { axis, keepdims: keepdims ? 1 : 0 })[0]!;
}

/** Forward value `hard`, gradient of `soft`: hard + soft - stopGradient(soft). */
export function straightThrough(hard: Value, soft: Value): Value {
  return add(stopGradient(sub(hard, soft)), soft);
}

/**
 * Gumbel-softmax over the last axis. `uniform` holds U(0,1) noise of the logits' shape, fed as an
 * input so that the sample is reproducible from the caller's seed. With `hard`, the forward value is
 * the one-hot argmax and the gradient is that of the soft sample (straight-through).
 */
export function gumbelSoftmax(logits: Value, uniform: Value, tau: number | Value, hard: boolean): Value {
  const gumbel = neg(log(neg(log(uniform))));
  const soft = softmax(div(add(logits, gumbel), tau), -1);
  if (!hard) return soft;
  const k = logits.shape[logits.rank - 1];
  if (typeof k !== 'number') throw new Error('gumbelSoftmax: the category axis must be static');
  return straightThrough(oneHot(argMax(soft, -1, false), k, logits.dtype), soft);
}
