/** Inference helpers shared by op definitions. */
import { type Dim, broadcastShapes, dimEquals, evalShape, mulDim, shapeToString } from '../dims.js';
import type { Value } from '../graph.js';
import { type DType, isFloat } from '../tensor.js';
import type { InferContext, OutputType } from './registry.js';

export function input(ctx: InferContext, i: number): Value {
  const v = ctx.inputs[i];
  if (!v) ctx.fail(`input ${i} is required`);
  return v!;
}

export function normAxis(ctx: InferContext, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) ctx.fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function requireFloat(ctx: InferContext, v: Value): void {
  if (!isFloat(v.dtype)) ctx.fail(`${v.name} must be a float tensor, got ${v.dtype}`);
}

export function sameDtype(ctx: InferContext, vs: readonly Value[]): DType {
  const t = vs[0]!.dtype;
  for (const v of vs)
    if (v.dtype !== t) ctx.fail(`dtype mismatch: ${vs.map((x) => `${x.name} ${x.dtype}`).join(' vs ')}`);
  return t;
}

export function broadcastInfer(ctx: InferContext, vs: readonly Value[]): Dim[] {
  let shape: Dim[] = [...vs[0]!.shape];
  for (const v of vs.slice(1)) {
    const b = broadcastShapes(shape, v.shape);
    if (!b) ctx.fail(`shapes ${vs.map((x) => shapeToString(x.shape)).join(' and ')} do not broadcast`);
    shape = b!;
  }
  return shape;
}

/** Constant int contents of an input (shape/axes/indices tensors), or fail. */
export function knownInts(ctx: InferContext, i: number, what: string): Dim[] {
  const v = input(ctx, i);
  if (!v.known) ctx.fail(`${what} (input ${i}, ${v.name}) must be a constant or derived from shapes`);
  return v.known!;
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function elementwiseFlops(perElement: number) {
  return (_: readonly (readonly number[] | null)[], outs: readonly (readonly number[])[]): number =>
    perElement * numelOf(outs[0]!);
}

export function single(dtype: DType, shape: readonly Dim[], known?: Dim[]): OutputType[] {
  return [{ dtype, shape, known }];
}

/** Multiply two known scalar/1-D contents elementwise (for shape arithmetic). */
export function knownBinary(a: Value, b: Value, op: (x: Dim, y: Dim) => Dim | undefined): Dim[] | undefined {
  if (!a.known || !b.known) return undefined;
  const n = Math.max(a.known.length, b.known.length);
  if (a.known.length !== n && a.known.length !== 1) return undefined;
  if (b.known.length !== n && b.known.length !== 1) return undefined;
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const r = op(a.known[a.known.length === 1 ? 0 : i]!, b.known[b.known.length === 1 ? 0 : i]!);
    if (r === undefined) return undefined;
    out.push(r);
  }
  return out;
}

export { mulDim, dimEquals, evalShape };
