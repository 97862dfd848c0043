/** Static analysis of graphs: FLOP counts for concrete dimension bindings. */
import { evalShape } from './dims.js';
import type { Graph, Node } from './graph.js';

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
