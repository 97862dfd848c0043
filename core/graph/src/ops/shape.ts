/** Shape-manipulating ops, gathers and scatters, and their VJPs. */
import {
  concat,
  pad,
  reshape,
  scatterND,
  slice,
  squeeze,
  sumToShape,
  transpose,
  unsqueeze,
  zeros,
} from '../builders.js';
import {
  type Dim,
  addDim,
  broadcastShapes,
  dimEquals,
  divDim,
  isStatic,
  productOf,
  shapeToString,
  subDim,
} from '../dims.js';
import type { Value } from '../graph.js';
import { type DType, elementAt } from '../tensor.js';
import { input, knownInts, normAxis, single } from './common.js';
import { defineOp } from './registry.js';

const BIG = 2 ** 62;

defineOp({
  type: 'Shape',
  inputs: 1,
  since: 15,
  infer(ctx) {
    const x = input(ctx, 0);
    return single('int64', [x.rank], [...x.shape]);
  },
  nonDifferentiableInputs: [0],
});

defineOp({
  type: 'Reshape',
  view: true,
  inputs: 2,
  since: 14,
  infer(ctx) {
    const x = input(ctx, 0);
    const target = knownInts(ctx, 1, 'the target shape');
    const out: Dim[] = target.map((d, i) =>
      d === 0 ? (x.shape[i] ?? ctx.fail(`0 at position ${i} has no input dim`)) : d,
    );
    const total = productOf(x.shape);
    const inferIdx = out.findIndex((d) => d === -1);
    if (inferIdx >= 0) {
      const known = productOf(out.filter((_, i) => i !== inferIdx));
      const q = divDim(total, known);
      if (q === undefined) ctx.fail(`cannot reshape ${shapeToString(x.shape)} to ${shapeToString(target)}`);
      out[inferIdx] = q!;
    } else if (!dimEquals(total, productOf(out))) {
      ctx.fail(`cannot reshape ${shapeToString(x.shape)} (${total} elements) to ${shapeToString(out)}`);
    }
    const known = x.known && out.length <= 1 ? x.known : undefined;
    return single(x.dtype, out, known);
  },
  nonDifferentiableInputs: [1],
  vjp: (ctx) => [reshape(ctx.dOutputs[0]!, ctx.node.inputs[0]!.shape), null],
});

defineOp({
  type: 'Flatten',
  view: true,
  inputs: 1,
  attrs: { axis: { kind: 'int', default: 1 } },
  infer(ctx) {
    const x = input(ctx, 0);
    let axis = ctx.attrs.axis as number;
    if (axis < 0) axis += x.rank;
    if (axis < 0 || axis > x.rank) ctx.fail(`axis ${ctx.attrs.axis} out of range`);
    return single(x.dtype, [productOf(x.shape.slice(0, axis)), productOf(x.shape.slice(axis))]);
  },
  vjp: (ctx) => [reshape(ctx.dOutputs[0]!, ctx.node.inputs[0]!.shape)],
});

defineOp({
  type: 'Transpose',
  inputs: 1,
  attrs: { perm: { kind: 'ints' } },
  infer(ctx) {
    const x = input(ctx, 0);
    const perm = (ctx.attrs.perm as number[] | undefined) ?? x.shape.map((_, i) => x.rank - 1 - i);
    if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i)) {
      ctx.fail(`perm [${perm.join(', ')}] is not a permutation of rank ${x.rank}`);
    }
    return single(
      x.dtype,
      perm.map((p) => x.shape[p]!),
    );
  },
  vjp(ctx) {
    const x = ctx.node.inputs[0]!;
    const perm = (ctx.attrs.perm as number[] | undefined) ?? x.shape.map((_, i) => x.rank - 1 - i);
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [transpose(ctx.dOutputs[0]!, inv)];
  },
});

defineOp({
  type: 'Concat',
  inputs: [1, 1024],
  attrs: { axis: { kind: 'int', required: true } },
  infer(ctx) {
    const xs = ctx.inputs.map((_, i) => input(ctx, i));
    const r = xs[0]!.rank;
    const axis = normAxis(ctx, ctx.attrs.axis as number, r);
    let along: Dim = 0;
    for (const x of xs) {
      if (x.rank !== r || x.dtype !== xs[0]!.dtype) ctx.fail('inputs must share rank and dtype');
      x.shape.forEach((d, i) => {
        if (i !== axis && !dimEquals(d, xs[0]!.shape[i]!)) {
          ctx.fail(`dimension ${i} differs: ${xs.map((v) => shapeToString(v.shape)).join(' vs ')}`);
        }
      });
      along = addDim(along, x.shape[axis]!);
    }
    const shape = [...xs[0]!.shape];
    shape[axis] = along;
    const known = r === 1 && xs.every((x) => x.known) ? xs.flatMap((x) => x.known!) : undefined;
    return single(xs[0]!.dtype, shape, known);
  },
  vjp(ctx) {
    const xs = ctx.node.inputs as Value[];
    const axis =
      (ctx.attrs.axis as number) < 0 ? (ctx.attrs.axis as number) + xs[0]!.rank : (ctx.attrs.axis as number);
    let offset: Dim = 0;
    return xs.map((x, i) => {
      const start = offset;
      offset = addDim(offset, x.shape[axis]!);
      return ctx.needs[i] ? slice(ctx.dOutputs[0]!, [start], [offset], [axis]) : null;
    });
  },
});

defineOp({
  type: 'Split',
  inputs: [1, 2],
  attrs: { axis: { kind: 'int', default: 0 } },
  infer(ctx) {
    const x = input(ctx, 0);
    const axis = normAxis(ctx, ctx.attrs.axis as number, x.rank);
    const n = ctx.nOutputs ?? 1;
    let sizes: Dim[];
    if (ctx.inputs[1]) {
      sizes = knownInts(ctx, 1, 'split sizes');
      if (sizes.length !== n) ctx.fail(`${sizes.length} split sizes for ${n} outputs`);
      if (
        !dimEquals(
          sizes.reduce<Dim>((a, b) => addDim(a, b), 0),
          x.shape[axis]!,
        )
      ) {
        ctx.fail(`split sizes [${sizes.join(', ')}] do not add up to ${x.shape[axis]}`);
      }
    } else {
      const each = divDim(x.shape[axis]!, n);
      if (each === undefined) ctx.fail(`dimension ${x.shape[axis]} does not split evenly into ${n}`);
      sizes = new Array<Dim>(n).fill(each!);
    }
    return sizes.map((s) => {
      const shape = [...x.shape];
      shape[axis] = s;
      return { dtype: x.dtype, shape };
    });
  },
  nonDifferentiableInputs: [1],
  vjp(ctx) {
    const x = ctx.node.inputs[0]!;
    const axis =
      (ctx.attrs.axis as number) < 0 ? (ctx.attrs.axis as number) + x.rank : (ctx.attrs.axis as number);
    const parts = ctx.node.outputs.map((o, i) => ctx.dOutputs[i] ?? zeros(x.graph, o.shape, o.dtype));
    return [concat(parts, axis), null];
  },
});

function sliceBounds(
  ctx: { fail(m: string): never; inputs: readonly (Value | null)[] },
  x: Value,
): { axis: number; start: Dim; end: Dim }[] {
  const starts = knownInts(ctx as never, 1, 'starts');
  const ends = knownInts(ctx as never, 2, 'ends');
  const axes = ctx.inputs[3] ? knownInts(ctx as never, 3, 'axes') : starts.map((_, i) => i);
  if (ctx.inputs[4]) {
    const steps = knownInts(ctx as never, 4, 'steps');
    if (steps.some((s) => s !== 1)) ctx.fail('only steps of 1 are supported');
  }
  const norm = (i: Dim, d: Dim): Dim => {
    if (typeof i !== 'number') return i;
    if (i >= BIG || (isStatic(d) && i > d)) return d;
    if (i < 0) {
      if (isStatic(d)) return Math.max(0, d + i);
      return addDim(d, i);
    }
    return i;
  };
  return axes.map((a, k) => {
    if (typeof a !== 'number') ctx.fail('axes must be constant');
    const axis = (a as number) < 0 ? (a as number) + x.rank : (a as number);
    const d = x.shape[axis]!;
    return { axis, start: norm(starts[k]!, d), end: norm(ends[k]!, d) };
  });
}

defineOp({
  type: 'Slice',
  inputs: [3, 5],
  infer(ctx) {
    const x = input(ctx, 0);
    const shape = [...x.shape];
    for (const { axis, start, end } of sliceBounds(ctx, x)) shape[axis] = subDim(end, start);
    let known: Dim[] | undefined;
    if (x.known && x.rank === 1) {
      const [b] = sliceBounds(ctx, x);
      if (typeof b!.start === 'number' && typeof b!.end === 'number') known = x.known.slice(b!.start, b!.end);
    }
    return single(x.dtype, shape, known);
  },
  nonDifferentiableInputs: [1, 2, 3, 4],
  vjp(ctx) {
    const x = ctx.node.inputs[0]!;
    const bounds = sliceBounds(
      {
        inputs: ctx.node.inputs,
        fail: (m: string) => {
          throw new Error(m);
        },
      },
      x,
    );
    const before: Dim[] = x.shape.map(() => 0);
    const after: Dim[] = x.shape.map(() => 0);
    for (const { axis, start, end } of bounds) {
      before[axis] = start;
      after[axis] = subDim(x.shape[axis]!, end);
    }
    return [pad(ctx.dOutputs[0]!, [...before, ...after]), null, null, null, null];
  },
});

defineOp({
  type: 'Pad',
  inputs: [2, 3],
  attrs: { mode: { kind: 'string', default: 'constant' } },
  infer(ctx) {
    const x = input(ctx, 0);
    if (ctx.attrs.mode !== 'constant') ctx.fail('only constant padding is supported');
    const pads = knownInts(ctx, 1, 'pads');
    if (pads.length !== 2 * x.rank) ctx.fail(`pads must have ${2 * x.rank} entries`);
    return single(
      x.dtype,
      x.shape.map((d, i) => addDim(addDim(d, pads[i]!), pads[i + x.rank]!)),
    );
  },
  nonDifferentiableInputs: [1, 2],
  vjp(ctx) {
    const x = ctx.node.inputs[0]!;
    const pads = ctx.node.inputs[1]!.known!;
    const axes = x.shape.map((_, i) => i);
    return [
      slice(
        ctx.dOutputs[0]!,
        axes.map((i) => pads[i]!),
        axes.map((i) => addDim(pads[i]!, x.shape[i]!)),
        axes,
      ),
      null,
      null,
    ];
  },
});

defineOp({
  type: 'Gather',
  inputs: 2,
  attrs: { axis: { kind: 'int', default: 0 } },
  infer(ctx) {
    const data = input(ctx, 0);
    const idx = input(ctx, 1);
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32')
      ctx.fail(`indices must be int64 or int32, got ${idx.dtype}`);
    const axis = normAxis(ctx, ctx.attrs.axis as number, data.rank);
    const shape = [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)];
    let known: Dim[] | undefined;
    if (data.known && data.rank === 1 && idx.known) {
      known = idx.known.map(
        (i) => data.known![typeof i === 'number' && i < 0 ? data.known!.length + i : (i as number)]!,
      );
    }
    return single(data.dtype, shape, known);
  },
  nonDifferentiableInputs: [1],
  vjp(ctx) {
    const [data, idx] = ctx.node.inputs as [Value, Value];
    if ((ctx.attrs.axis as number) !== 0)
      throw new Error(`${ctx.node.name}: the Gather VJP supports axis 0 only`);
    // The embedding gradient: scatter-add each row's gradient into a zero table (duplicates add up).
    const g = data.graph;
    return [
      scatterND(zeros(g, data.shape, data.dtype), unsqueeze(idx, [idx.rank]), ctx.dOutputs[0]!, 'add'),
      null,
    ];
  },
});

defineOp({
  type: 'GatherND',
  inputs: 2,
  attrs: { batch_dims: { kind: 'int', default: 0 } },
  infer(ctx) {
    const data = input(ctx, 0);
    const idx = input(ctx, 1);
    if ((ctx.attrs.batch_dims as number) !== 0) ctx.fail('batch_dims must be 0');
    const k = idx.shape[idx.rank - 1];
    if (typeof k !== 'number') ctx.fail('the last dimension of indices must be static');
    return single(data.dtype, [...idx.shape.slice(0, -1), ...data.shape.slice(k as number)]);
  },
  nonDifferentiableInputs: [1],
  vjp(ctx) {
    const [data, idx] = ctx.node.inputs as [Value, Value];
    return [scatterND(zeros(data.graph, data.shape, data.dtype), idx, ctx.dOutputs[0]!, 'add'), null];
  },
});

defineOp({
  type: 'ScatterND',
  inputs: 3,
  since: 16,
  attrs: { reduction: { kind: 'string', default: 'none' } },
  infer(ctx) {
    const data = input(ctx, 0);
    const idx = input(ctx, 1);
    const upd = input(ctx, 2);
    if (upd.dtype !== data.dtype) ctx.fail('updates must have the dtype of data');
    const k = idx.shape[idx.rank - 1];
    if (typeof k !== 'number') ctx.fail('the last dimension of indices must be static');
    const want = [...idx.shape.slice(0, -1), ...data.shape.slice(k as number)];
    if (upd.rank !== want.length || !upd.shape.every((d, i) => dimEquals(d, want[i]!))) {
      ctx.fail(`updates ${shapeToString(upd.shape)} must be ${shapeToString(want)}`);
    }
    if (!['none', 'add'].includes(ctx.attrs.reduction as string)) ctx.fail('reduction must be none or add');
    return single(data.dtype, data.shape);
  },
  nonDifferentiableInputs: [1],
  vjp(ctx) {
    const [, idx] = ctx.node.inputs as [Value, Value, Value];
    const dy = ctx.dOutputs[0]!;
    const g = dy.graph;
    const dData =
      ctx.attrs.reduction === 'add'
        ? dy
        : scatterND(dy, idx, zeros(g, ctx.node.inputs[2]!.shape, dy.dtype), 'none');
    const dUpd = ctx.needs[2] ? g.op('GatherND', [dy, idx])[0]! : null;
    return [ctx.needs[0] ? dData : null, null, dUpd];
  },
});

defineOp({
  type: 'GatherElements',
  inputs: 2,
  attrs: { axis: { kind: 'int', default: 0 } },
  infer(ctx) {
    const data = input(ctx, 0);
    const idx = input(ctx, 1);
    if (idx.rank !== data.rank) ctx.fail('indices must have the rank of data');
    return single(data.dtype, idx.shape);
  },
  nonDifferentiableInputs: [1],
  vjp(ctx) {
    const [data, idx] = ctx.node.inputs as [Value, Value];
    const g = data.graph;
    const z = zeros(g, data.shape, data.dtype);
    return [
      g.op('ScatterElements', [z, idx, ctx.dOutputs[0]!], { axis: ctx.attrs.axis, reduction: 'add' })[0]!,
      null,
    ];
  },
});

defineOp({
  type: 'ScatterElements',
  inputs: 3,
  since: 16,
  attrs: { axis: { kind: 'int', default: 0 }, reduction: { kind: 'string', default: 'none' } },
  infer(ctx) {
    const data = input(ctx, 0);
    const idx = input(ctx, 1);
    const upd = input(ctx, 2);
    if (idx.rank !== data.rank || upd.rank !== data.rank)
      ctx.fail('indices and updates must have the rank of data');
    if (!['none', 'add'].includes(ctx.attrs.reduction as string)) ctx.fail('reduction must be none or add');
    return single(data.dtype, data.shape);
  },
  nonDifferentiableInputs: [1],
  vjp(ctx) {
    const [, idx] = ctx.node.inputs as [Value, Value, Value];
    const dy = ctx.dOutputs[0]!;
    const g = dy.graph;
    if (ctx.attrs.reduction !== 'add' && ctx.needs[0]) {
      throw new Error(
        `${ctx.node.name}: the data gradient of ScatterElements without reduction is not supported`,
      );
    }
    const dUpd = ctx.needs[2] ? g.op('GatherElements', [dy, idx], { axis: ctx.attrs.axis })[0]! : null;
    return [ctx.needs[0] ? dy : null, null, dUpd];
  },
});

defineOp({
  type: 'Expand',
  inputs: 2,
  infer(ctx) {
    const x = input(ctx, 0);
    const target = knownInts(ctx, 1, 'the target shape');
    const out = broadcastShapes(x.shape, target);
    if (!out) ctx.fail(`cannot expand ${shapeToString(x.shape)} to ${shapeToString(target)}`);
    return single(x.dtype, out!);
  },
  nonDifferentiableInputs: [1],
  vjp: (ctx) => [sumToShape(ctx.dOutputs[0]!, ctx.node.inputs[0]!.shape), null],
});

defineOp({
  type: 'Unsqueeze',
  view: true,
  inputs: 2,
  infer(ctx) {
    const x = input(ctx, 0);
    const axes = knownInts(ctx, 1, 'axes') as number[];
    const r = x.rank + axes.length;
    const norm = axes.map((a) => (a < 0 ? a + r : a)).sort((a, b) => a - b);
    const out: Dim[] = [];
    let j = 0;
    for (let i = 0; i < r; i++) out.push(norm.includes(i) ? 1 : x.shape[j++]!);
    return single(x.dtype, out, x.known && x.rank === 0 ? x.known : undefined);
  },
  nonDifferentiableInputs: [1],
  vjp: (ctx) => [squeeze(ctx.dOutputs[0]!, ctx.node.inputs[1]!.known as number[]), null],
});

defineOp({
  type: 'Squeeze',
  view: true,
  inputs: [1, 2],
  infer(ctx) {
    const x = input(ctx, 0);
    const axes = ctx.inputs[1]
      ? (knownInts(ctx, 1, 'axes') as number[]).map((a) => (a < 0 ? a + x.rank : a))
      : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
    for (const a of axes) if (x.shape[a] !== 1) ctx.fail(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
    return single(
      x.dtype,
      x.shape.filter((_, i) => !axes.includes(i)),
      x.known && x.rank === 1 ? x.known : undefined,
    );
  },
  nonDifferentiableInputs: [1],
  vjp: (ctx) => [reshape(ctx.dOutputs[0]!, ctx.node.inputs[0]!.shape), null],
});

defineOp({
  type: 'ConstantOfShape',
  inputs: 1,
  since: 9,
  attrs: { value: { kind: 'tensor' } },
  infer(ctx) {
    const shape = knownInts(ctx, 0, 'the shape');
    const value = ctx.attrs.value as { dtype: DType } | undefined;
    return single(value?.dtype ?? 'float32', shape);
  },
  nonDifferentiableInputs: [0],
});

defineOp({
  type: 'Tile',
  inputs: 2,
  infer(ctx) {
    const x = input(ctx, 0);
    const reps = knownInts(ctx, 1, 'repeats');
    if (reps.length !== x.rank) ctx.fail('repeats must have one entry per axis');
    return single(
      x.dtype,
      x.shape.map((d, i) =>
        reps[i] === 1
          ? d
          : typeof d === 'number' && typeof reps[i] === 'number'
            ? d * (reps[i] as number)
            : ctx.fail('symbolic Tile is not supported'),
      ),
    );
  },
  nonDifferentiableInputs: [0, 1],
});

export function constantValueOf(v: Value): number | undefined {
  const init = v.graph.initializers.get(v);
  return init && init.data.data.length === 1 ? elementAt(init.data, 0) : undefined;
}
