/**
 * MatMul, Gemm and ONNX Runtime's FusedMatMul.
 *
 * The VJP rules never transpose a weight with a Transpose node: ONNX Runtime would constant-fold a
 * transposed copy of every frozen weight and double its memory. Products with a 2-D right operand
 * (every linear layer) go through Gemm with transA/transB on flattened activations instead.
 * Batched products (attention) differentiate into com.microsoft FusedMatMul with transA/transB,
 * which reads the saved operand in place instead of materialising a transposed copy of it.
 */
import { flatten, gemm, matmul, reshape, sumToShape, transposeLast2 } from '../builders.js';
import { type Dim, broadcastShapes, dimEquals, shapeToString } from '../dims.js';
import type { Value } from '../graph.js';
import { input, requireFloat, sameDtype, single } from './common.js';
import { defineOp } from './registry.js';

defineOp({
  type: 'MatMul',
  inputs: 2,
  infer(ctx) {
    const a = input(ctx, 0);
    const b = input(ctx, 1);
    requireFloat(ctx, a);
    const t = sameDtype(ctx, [a, b]);
    if (a.rank < 2 || b.rank < 2) ctx.fail('MatMul operands must have rank >= 2 (unsqueeze vectors first)');
    const k1 = a.shape[a.rank - 1]!;
    const k2 = b.shape[b.rank - 2]!;
    if (!dimEquals(k1, k2)) {
      ctx.fail(`inner dimensions differ: A ${shapeToString(a.shape)} vs B ${shapeToString(b.shape)}`);
    }
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    if (!batch)
      ctx.fail(
        `batch dimensions of ${shapeToString(a.shape)} and ${shapeToString(b.shape)} do not broadcast`,
      );
    return single(t, [...batch!, a.shape[a.rank - 2]!, b.shape[b.rank - 1]!]);
  },
  vjp(ctx) {
    const [a, b] = ctx.node.inputs as [Value, Value];
    const dy = ctx.dOutputs[0]!;
    if (b.rank === 2) {
      let da: Value | null = null;
      if (ctx.needs[0]) {
        da =
          a.rank === 2
            ? gemm(dy, b, null, { transB: true })
            : reshape(gemm(flatten(dy, dy.rank - 1), b, null, { transB: true }), a.shape);
      }
      const db = ctx.needs[1]
        ? a.rank === 2
          ? gemm(a, dy, null, { transA: true })
          : gemm(flatten(a, a.rank - 1), flatten(dy, dy.rank - 1), null, { transA: true })
        : null;
      return [da, db];
    }
    if (FUSED_TYPES.has(dy.dtype)) {
      return [
        ctx.needs[0] ? sumToShape(fusedMatMul(dy, b, { transB: true }), a.shape) : null,
        ctx.needs[1] ? sumToShape(fusedMatMul(a, dy, { transA: true }), b.shape) : null,
      ];
    }
    return [
      ctx.needs[0] ? sumToShape(matmul(dy, transposeLast2(b)), a.shape) : null,
      ctx.needs[1] ? sumToShape(matmul(transposeLast2(a), dy), b.shape) : null,
    ];
  },
  flops(ins, outs) {
    const k = ins[0]![ins[0]!.length - 1]!;
    return 2 * k * outs[0]!.reduce((p, d) => p * d, 1);
  },
});

defineOp({
  type: 'Gemm',
  inputs: [2, 3],
  attrs: {
    alpha: { kind: 'float', default: 1 },
    beta: { kind: 'float', default: 1 },
    transA: { kind: 'int', default: 0 },
    transB: { kind: 'int', default: 0 },
  },
  infer(ctx) {
    const a = input(ctx, 0);
    const b = input(ctx, 1);
    requireFloat(ctx, a);
    const t = sameDtype(ctx, [a, b]);
    if (a.rank !== 2 || b.rank !== 2) ctx.fail('Gemm operands must be 2-D');
    const [m, k1] = ctx.attrs.transA ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
    const [k2, n] = ctx.attrs.transB ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
    if (!dimEquals(k1, k2)) {
      ctx.fail(
        `inner dimensions differ: op(A) is [${m}, ${k1}], op(B) is [${k2}, ${n}] (transA=${ctx.attrs.transA}, transB=${ctx.attrs.transB})`,
      );
    }
    const c = ctx.inputs[2];
    if (c) {
      const bc = broadcastShapes([m, n], c.shape);
      if (!bc || bc.length !== 2 || !dimEquals(bc[0]!, m) || !dimEquals(bc[1]!, n)) {
        ctx.fail(`C ${shapeToString(c.shape)} does not broadcast to [${m}, ${n}]`);
      }
      sameDtype(ctx, [a, c]);
    }
    return single(t, [m, n]);
  },
  vjp(ctx) {
    const [a, b, c] = ctx.node.inputs as [Value, Value, Value | null];
    const dy = ctx.dOutputs[0]!;
    const alpha = ctx.attrs.alpha as number;
    const beta = ctx.attrs.beta as number;
    const tA = !!ctx.attrs.transA;
    const tB = !!ctx.attrs.transB;
    let da: Value | null = null;
    let db: Value | null = null;
    if (ctx.needs[0]) {
      // Y = alpha op(A) op(B): dop(A) = alpha dY op(B)^T; dA = dop(A) or its transpose.
      da = !tA
        ? gemm(dy, b, null, { transB: !tB, alpha })
        : gemm(b, dy, null, { transA: tB, transB: true, alpha });
    }
    if (ctx.needs[1]) {
      // dop(B) = alpha op(A)^T dY; dB = dop(B) or its transpose.
      db = !tB
        ? gemm(a, dy, null, { transA: !tA, alpha })
        : gemm(dy, a, null, { transA: true, transB: tA, alpha });
    }
    let dc: Value | null = null;
    if (c && ctx.needs[2]) {
      dc = sumToShape(dy, c.shape);
      if (beta !== 1) dc = dc.graph.op('Mul', [dc, dc.graph.scalar(beta, dc.dtype)])[0]!;
    }
    return [da, db, dc];
  },
  flops(ins, outs, attrs) {
    const a = ins[0]!;
    const k = attrs.transA ? a[0]! : a[1]!;
    const mn = outs[0]![0]! * outs[0]![1]!;
    return 2 * k * mn + (ins[2] ? mn : 0);
  },
});

/** Element types ONNX Runtime's CPU FusedMatMul kernel takes. */
const FUSED_TYPES = new Set(['float32', 'float64']);

export interface FusedMatMulOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
}

/** alpha · op(A) · op(B) over the last two axes, op transposing them when asked (batched, broadcast). */
export function fusedMatMul(a: Value, b: Value, o: FusedMatMulOptions = {}): Value {
  return a.graph.op(
    'FusedMatMul',
    [a, b],
    {
      transA: o.transA ? 1 : undefined,
      transB: o.transB ? 1 : undefined,
      alpha: o.alpha !== undefined && o.alpha !== 1 ? o.alpha : undefined,
    },
    {},
    'com.microsoft',
  )[0]!;
}

/** The [rows, cols] of op(X) for a FusedMatMul operand. */
function lastTwo(x: Value, trans: boolean): [Dim, Dim] {
  const r = x.shape[x.rank - 2]!;
  const c = x.shape[x.rank - 1]!;
  return trans ? [c, r] : [r, c];
}

/** com.microsoft FusedMatMul (ONNX Runtime contrib op): MatMul with transposed operands and a scale. */
defineOp({
  type: 'FusedMatMul',
  domain: 'com.microsoft',
  since: 1,
  inputs: 2,
  attrs: {
    alpha: { kind: 'float', default: 1 },
    transA: { kind: 'int', default: 0 },
    transB: { kind: 'int', default: 0 },
  },
  infer(ctx) {
    const a = input(ctx, 0);
    const b = input(ctx, 1);
    requireFloat(ctx, a);
    const t = sameDtype(ctx, [a, b]);
    if (a.rank < 2 || b.rank < 2) ctx.fail('FusedMatMul operands must have rank >= 2');
    const [m, k1] = lastTwo(a, !!ctx.attrs.transA);
    const [k2, n] = lastTwo(b, !!ctx.attrs.transB);
    if (!dimEquals(k1, k2)) {
      ctx.fail(
        `inner dimensions differ: op(A) is [..., ${m}, ${k1}], op(B) is [..., ${k2}, ${n}] (transA=${ctx.attrs.transA}, transB=${ctx.attrs.transB})`,
      );
    }
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    if (!batch)
      ctx.fail(
        `batch dimensions of ${shapeToString(a.shape)} and ${shapeToString(b.shape)} do not broadcast`,
      );
    return single(t, [...batch!, m, n]);
  },
  // Y = alpha op(A) op(B), as for Gemm, with batch broadcasting summed back.
  vjp(ctx) {
    const [a, b] = ctx.node.inputs as [Value, Value];
    const dy = ctx.dOutputs[0]!;
    const alpha = ctx.attrs.alpha as number;
    const tA = !!ctx.attrs.transA;
    const tB = !!ctx.attrs.transB;
    let da: Value | null = null;
    let db: Value | null = null;
    if (ctx.needs[0]) {
      da = !tA
        ? fusedMatMul(dy, b, { transB: !tB, alpha })
        : fusedMatMul(b, dy, { transA: tB, transB: true, alpha });
      da = sumToShape(da, a.shape);
    }
    if (ctx.needs[1]) {
      db = !tB
        ? fusedMatMul(a, dy, { transA: !tA, alpha })
        : fusedMatMul(dy, a, { transA: true, transB: tA, alpha });
      db = sumToShape(db, b.shape);
    }
    return [da, db];
  },
  flops(ins, outs, attrs) {
    const a = ins[0]!;
    const k = attrs.transA ? a[a.length - 2]! : a[a.length - 1]!;
    return 2 * k * outs[0]!.reduce((p, d) => p * d, 1);
  },
});
