/**
 * Reverse-mode automatic differentiation over the IR.
 *
 * `gradients(loss, wrt)` appends the backward pass to the same graph and returns, for every value in
 * `wrt`, the value holding d loss / d value. Only the part of the graph that lies on a path from some
 * `wrt` value to the loss is differentiated, and only inputs that such a path reaches get a gradient:
 * a frozen weight (an initializer, or any input not listed in `wrt`) never gets a weight-gradient
 * computation, which is where parameter-efficient fine-tuning saves its time and memory.
 *
 * Rematerialisation: ONNX Runtime frees every tensor after its last use, so the memory a training
 * step needs is set by the forward values the backward pass reads. When a backward node reads the
 * output of a cheap activation whose own VJP keeps its input alive anyway (an op with `recompute`:
 * Gelu, Relu), or a view of such an output (Flatten, Reshape, ...), the output is recomputed in the
 * backward pass from that input instead, so that only the input stays alive. In a LoRA training
 * step this drops the [tokens, ffn] GELU output (the FFN out-projection's LoRA input) from the
 * saved activations.
 *
 * Node order: ONNX Runtime (1.30, default execution order: GraphViewer's ReverseDFSFrom) runs a
 * graph in the post-order of a depth-first search from its leaves, the leaf that comes last in the
 * model first, that at every node finishes the input whose producer comes LAST in the model first
 * (test/schedule.spec.ts checks this against ONNX Runtime's profiler).
 * A backward node such as Mul(dY, gelu'(x)) would then compute gelu'(x), which needs only forward
 * values, before the whole backward pass above it has produced dY, and keep it alive all that
 * time, for every layer at once. So the backward nodes that depend on forward values only are
 * moved ahead of those that depend on the incoming gradient (a stable partition, which keeps the
 * order topological): ONNX Runtime then computes each of them right before its first use.
 * The search starts from the graph's leaves, last one first, and parameter gradients are leaves:
 * left in place, the bottom layer's gradient (built last) would pull in the whole gradient path,
 * and every other layer's parameter gradients would be computed after it, keeping each layer's
 * incoming gradient and saved input alive until the very end. So the leaves go last, the top
 * layer's (built first) after all others: each layer's parameter gradients are then computed as
 * soon as the gradient path has reached that layer.
 */
import { dimEquals, shapeToString } from './dims.js';
import { sum, zeros } from './builders.js';
import { type Graph, GraphError, type Node, type Value } from './graph.js';
import { isFloat, tensor } from './tensor.js';

export interface GradientOptions {
  /** Gradient of the loss to start from (defaults to 1 for a scalar loss). */
  seed?: Value;
  /** Recompute cheap activations in the backward pass instead of keeping them (default true). */
  rematerialize?: boolean;
  /** Order the backward nodes for ONNX Runtime's execution order (default true; see the header). */
  schedule?: boolean;
}

function attrsWithDefaults(n: Node): Record<string, unknown> {
  const attrs: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(n.def.attrs))
    if (spec.default !== undefined) attrs[k] = spec.default;
  Object.assign(attrs, n.attrs);
  return attrs;
}

/** Values that depend on `wrt` through differentiable edges. */
function forwardReach(g: Graph, wrt: readonly Value[]): Set<Value> {
  const reach = new Set<Value>(wrt);
  for (const n of g.nodes) {
    if (!n.def.vjp) continue;
    const nd = n.def.nonDifferentiableInputs ?? [];
    if (n.inputs.some((v, i) => v && reach.has(v) && !nd.includes(i))) {
      for (const o of n.outputs) if (isFloat(o.dtype)) reach.add(o);
    }
  }
  return reach;
}

/** Values the loss depends on. */
function backwardReach(g: Graph, loss: Value): Set<Value> {
  const reach = new Set<Value>([loss]);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (n.outputs.some((o) => reach.has(o))) for (const v of n.inputs) if (v) reach.add(v);
  }
  return reach;
}

export function gradients(loss: Value, wrt: readonly Value[], opts: GradientOptions = {}): Map<Value, Value> {
  const g = loss.graph;
  for (const w of wrt) {
    if (w.graph !== g) throw new GraphError(`gradients: ${w.name} belongs to another graph`);
    if (!isFloat(w.dtype))
      throw new GraphError(`gradients: ${w.name} is ${w.dtype}; only float values have gradients`);
  }
  if (!opts.seed && loss.rank !== 0) {
    throw new GraphError(
      `gradients: loss ${loss.name} has shape ${shapeToString(loss.shape)}; pass a seed for non-scalar losses`,
    );
  }
  const nodeCount = g.nodes.length;
  const fwd = forwardReach(g, wrt);
  const bwd = backwardReach(g, loss);
  const active = (v: Value | null): v is Value => !!v && fwd.has(v) && bwd.has(v);

  const pending = new Map<Value, Value[]>();
  const contribute = (v: Value, grad: Value, from: Node): void => {
    if (grad.rank !== v.rank || !grad.shape.every((d, i) => dimEquals(d, v.shape[i]!))) {
      throw new GraphError(
        `VJP of ${from.name} (${from.type}) produced a gradient of shape ${shapeToString(grad.shape)} for ${v.name} ${shapeToString(v.shape)}`,
      );
    }
    if (grad.dtype !== v.dtype) {
      throw new GraphError(
        `VJP of ${from.name} (${from.type}) produced ${grad.dtype} for ${v.name} (${v.dtype})`,
      );
    }
    const list = pending.get(v);
    if (list) list.push(grad);
    else pending.set(v, [grad]);
  };
  const total = (v: Value): Value | null => {
    const list = pending.get(v);
    if (!list) return null;
    if (list.length > 1) {
      const s = g.scoped('grad', () => sum(list));
      pending.set(v, [s]);
      return s;
    }
    return list[0]!;
  };

  // Rematerialisation (see the header): forward nodes by position, recomputed values by original.
  const forwardIndex = new Map<Node, number>();
  for (let i = 0; i < nodeCount; i++) forwardIndex.set(g.nodes[i]!, i);
  const graphOutputs = new Set(g.outputs.map((o) => o.value));
  const willDifferentiate = (n: Node): boolean => {
    if (!n.def.vjp || !n.outputs.some(active)) return false;
    const nd = n.def.nonDifferentiableInputs ?? [];
    return n.inputs.some((v, k) => active(v) && isFloat(v.dtype) && !nd.includes(k));
  };
  const recomputed = new Map<Value, Value | null>();
  const remat = (v: Value): Value | null => {
    const hit = recomputed.get(v);
    if (hit !== undefined) return hit;
    const p = v.producer;
    let r: Value | null = null;
    if (p && forwardIndex.has(p) && !graphOutputs.has(v)) {
      if (p.def.recompute && willDifferentiate(p)) {
        const outs = g.scoped(`remat.${p.name}`, () =>
          p.def.recompute!({ g, node: p, attrs: attrsWithDefaults(p) as never }),
        );
        p.outputs.forEach((o, i) => recomputed.set(o, outs[i] ?? null));
        return recomputed.get(v) ?? null;
      }
      if (p.def.view && p.inputs[0]) {
        const base = remat(p.inputs[0]);
        if (base) {
          r = g.op(
            p.type,
            [base, ...p.inputs.slice(1)],
            p.attrs as never,
            { name: `remat.${p.type}` },
            p.domain,
          )[0]!;
        }
      }
    }
    recomputed.set(v, r);
    return r;
  };
  /** Point the nodes added since `start` at recomputed values, placing those right before them. */
  const rewire = (start: number): void => {
    for (const c of g.nodes.slice(start)) {
      const ins = c.inputs as (Value | null)[];
      for (let k = 0; k < ins.length; k++) {
        const v = ins[k];
        if (!v?.producer || !forwardIndex.has(v.producer)) continue;
        const before = g.nodes.length;
        const r = remat(v);
        if (!r) continue;
        const made = g.nodes.splice(before);
        if (made.length) g.nodes.splice(g.nodes.indexOf(c), 0, ...made);
        ins[k] = r;
      }
    }
  };

  // A seed of its own (not the deduplicated constant 1, which forward ops may share), so that
  // what depends on the gradient can be told from what depends on forward values only.
  const seed = opts.seed ?? seedOne(g, loss.dtype);
  pending.set(loss, [seed]);
  if (!active(loss)) {
    // The loss does not depend on any wrt value: every gradient is zero.
    return new Map(wrt.map((w) => [w, zeros(g, w.shape, w.dtype)]));
  }

  for (let i = nodeCount - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!n.outputs.some((o) => active(o))) continue;
    const dOutputs = n.outputs.map((o) => (active(o) ? total(o) : null));
    if (dOutputs.every((d) => d === null)) continue;
    const nd = n.def.nonDifferentiableInputs ?? [];
    const needs = n.inputs.map((v, k) => active(v) && isFloat(v.dtype) && !nd.includes(k));
    if (!needs.some(Boolean)) continue;
    if (!n.def.vjp) throw new GraphError(`op ${n.type} (${n.name}) has no gradient rule`);
    const attrs = attrsWithDefaults(n);
    const start = g.nodes.length;
    const grads = g.scoped(`grad.${n.name}`, () =>
      n.def.vjp!({ g, node: n, attrs: attrs as never, dOutputs, needs }),
    );
    if (opts.rematerialize ?? true) rewire(start);
    n.inputs.forEach((v, k) => {
      const gr = grads[k];
      if (v && needs[k] && gr) contribute(v, gr, n);
    });
  }

  const out = new Map<Value, Value>();
  for (const w of wrt) out.set(w, total(w) ?? zeros(g, w.shape, w.dtype));
  if (opts.schedule ?? true) scheduleBackward(g, nodeCount, seed);
  return out;
}

function seedOne(g: Graph, dtype: Value['dtype']): Value {
  for (let i = 0; ; i++) {
    const name = i === 0 ? 'grad_seed' : `grad_seed_${i}`;
    try {
      return g.initializer(name, tensor(dtype, [], [1]), { external: false });
    } catch (e) {
      if (!(e instanceof GraphError)) throw e;
    }
  }
}

/**
 * Reorder the backward nodes (from `start`) for ONNX Runtime's execution order (see the header):
 * nodes that depend on forward values only; then the other nodes on the gradient path; then its
 * leaves (the parameter gradients), those built first (the top layer's) last. The first two parts
 * keep their relative order and leaves have no consumers, so the result stays topological.
 */
function scheduleBackward(g: Graph, start: number, seed: Value): void {
  const backward = g.nodes.slice(start);
  const fromGradient = new Set<Value>([seed]);
  const consumed = new Set<Value>();
  const early: Node[] = [];
  const late: Node[] = [];
  for (const n of backward) {
    for (const v of n.inputs) if (v) consumed.add(v);
    if (n.inputs.some((v) => v && fromGradient.has(v))) {
      late.push(n);
      for (const o of n.outputs) fromGradient.add(o);
    } else {
      early.push(n);
    }
  }
  const isLeaf = (n: Node) => n.outputs.every((o) => !consumed.has(o));
  const path = late.filter((n) => !isLeaf(n));
  const leaves = late.filter(isLeaf).reverse();
  g.nodes.splice(start, backward.length, ...early, ...path, ...leaves);
}

/** A scalar constant 1 of the loss dtype; exported for callers that build their own seeds. */
export function onesLike(g: Graph, v: Value): Value {
  return g.constant(tensor(v.dtype, [], [1]));
}
