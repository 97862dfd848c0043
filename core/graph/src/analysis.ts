/** Static analysis of graphs: FLOP counts for concrete dimension bindings. */
import { evalShape } from './dims.js';
import type { Graph, Node, Value } from './graph.js';
import { bytesPerElement } from './tensor.js';

export interface FlopReport {
  total: number;
  /** FLOPs of MatMul, Gemm and FusedMatMul nodes only. */
  matmul: number;
  byOp: Record<string, number>;
}

export function nodeFlops(n: Node, bindings: Readonly<Record<string, number>>): number {
  if (!n.def.flops) return 0;
  const attrs: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(n.def.attrs))
    if (spec.default !== undefined) attrs[k] = spec.default;
  Object.assign(attrs, n.attrs);
  return n.def.flops(
    n.inputs.map((v) => (v ? evalShape(v.shape, bindings) : null)),
    n.outputs.map((v) => evalShape(v.shape, bindings)),
    attrs as never,
  );
}

/**
 * FLOPs of one run of the graph with the symbolic dimensions bound to `bindings` (a multiply-add
 * counts 2; elementwise ops count a small constant per element, see each op's `flops`).
 */
export function countFlops(g: Graph, bindings: Readonly<Record<string, number>>): FlopReport {
  const byOp: Record<string, number> = {};
  let total = 0;
  let matmul = 0;
  for (const n of g.nodes) {
    const f = nodeFlops(n, bindings);
    byOp[n.type] = (byOp[n.type] ?? 0) + f;
    total += f;
    if (n.type === 'MatMul' || n.type === 'Gemm' || n.type === 'FusedMatMul') matmul += f;
  }
  return { total, matmul, byOp };
}

/** Ops whose output ONNX Runtime lets alias its input (no new buffer). */
const VIEW_OPS = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);

/**
 * Estimated peak bytes of the intermediate tensors of one run with the symbolic dimensions bound
 * to `bindings`: nodes run in graph order (the order the autodiff schedules for ONNX Runtime, see
 * docs/benchmarks.md), each output lives from its node to its last reader (graph outputs to the
 * end), views share their input's buffer. Inputs and initializers are not counted: the caller
 * holds those. ONNX Runtime's own order, fusions and kernel scratch space move the real figure by
 * some tens of percent either way; this is for budgeting memory before anything is compiled.
 */
export function peakActivationBytes(g: Graph, bindings: Readonly<Record<string, number>>): number {
  const order = new Map<Node, number>(g.nodes.map((n, i) => [n, i]));
  const root = new Map<Value, Value>();
  const rootOf = (v: Value): Value => root.get(v) ?? v;
  for (const n of g.nodes) {
    if (VIEW_OPS.has(n.type) && n.inputs[0]) root.set(n.outputs[0]!, rootOf(n.inputs[0]));
  }
  const end = g.nodes.length;
  const lastUse = new Map<Value, number>();
  const use = (v: Value, at: number) => {
    const r = rootOf(v);
    lastUse.set(r, Math.max(lastUse.get(r) ?? -1, at));
  };
  g.nodes.forEach((n, i) => n.inputs.forEach((v) => v && use(v, i)));
  for (const o of g.outputs) use(o.value, end);
  const delta = new Float64Array(end + 2);
  for (const n of g.nodes) {
    const i = order.get(n)!;
    for (const v of n.outputs) {
      if (root.has(v)) continue;
      const bytes = evalShape(v.shape, bindings).reduce((a, b) => a * b, bytesPerElement(v.dtype));
      delta[i] += bytes;
      delta[(lastUse.get(v) ?? i) + 1] -= bytes;
    }
  }
  let live = 0;
  let peak = 0;
  for (let i = 0; i <= end; i++) {
    live += delta[i]!;
    peak = Math.max(peak, live);
  }
  return peak;
}
