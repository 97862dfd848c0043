/**
 * ONNX serialisation (onnx-proto, pinned). Targets opset 17 / IR 8 by default, the newest that
 * Debian's python3-onnx checker validates; ops newer than the target (Gelu-20) are exported as their
 * com.microsoft equivalents, which ONNX Runtime implements.
 *
 * Large initializers are written as external data that points at the caller's own buffers (one
 * "file" per tensor, never concatenated), so serialising a model with frozen weights copies nothing;
 * pass `externalData` to `InferenceSession.create`.
 */
import onnxProto from 'onnx-proto';
import type { Dim } from './dims.js';
import type { Graph, Node, Value } from './graph.js';
import type { AttrValue } from './ops/registry.js';
import type { DType, TensorData } from './tensor.js';

const { onnx } = onnxProto;

export const DEFAULT_OPSET = 17;
export const DEFAULT_IR_VERSION = 8;

const DTYPE_CODES: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
};

export function onnxDataType(t: DType): number {
  return DTYPE_CODES[t];
}

export interface ExternalBuffer {
  path: string;
  data: Uint8Array;
}

/** A frozen weight serialised as a graph input, for the caller to feed on every run. */
export interface WeightInput {
  name: string;
  data: TensorData;
}

export interface SerializedModel {
  model: Uint8Array;
  externalData: ExternalBuffer[];
  /** With `frozenWeights: 'inputs'`: the weights the graph takes as inputs (empty otherwise). */
  weightInputs: WeightInput[];
}

export interface SerializeOptions {
  opset?: number;
  irVersion?: number;
  /** Keep every initializer inline (for tools that read the model file alone, like onnx.checker). */
  inlineAll?: boolean;
  /**
   * Lower ONNX Runtime contrib ops (fused GELU, FusedMatMul) to standard ONNX ops, so that tools
   * that only know the standard domain (onnx.checker's strict shape inference) can check the whole
   * graph. Slower in ONNX Runtime; meant for validation.
   */
  standardOps?: boolean;
  /**
   * Where large frozen weights (initializers marked external) go. 'external-data' (default):
   * initializers whose bytes are ONNX external data (`externalData`). 'inputs': graph inputs, listed
   * in `weightInputs`, that the caller feeds on every run. ONNX Runtime copies external data into
   * each session it creates, while a fed CPU tensor is used in place, so with 'inputs' one buffer
   * serves any number of sessions (docs/benchmarks.md, "Weights once").
   */
  frozenWeights?: 'external-data' | 'inputs';
  producer?: string;
}

function bytesOf(t: TensorData): Uint8Array {
  const d = t.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function tensorProto(name: string, t: TensorData, external?: string): onnxProto.onnx.ITensorProto {
  const base: onnxProto.onnx.ITensorProto = { name, dims: [...t.shape], dataType: DTYPE_CODES[t.dtype] };
  if (external) {
    return {
      ...base,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: external },
        { key: 'offset', value: '0' },
        { key: 'length', value: String(t.data.byteLength) },
      ],
    };
  }
  return { ...base, rawData: bytesOf(t) };
}

function valueInfo(name: string, v: Pick<Value, 'dtype' | 'shape'>): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DTYPE_CODES[v.dtype],
        shape: { dim: v.shape.map((d: Dim) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, kind: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (kind) {
    case 'int':
      return { name, type: T.INT, i: v as number };
    case 'float':
      return { name, type: T.FLOAT, f: v as number };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(v as string) };
    case 'ints':
      return { name, type: T.INTS, ints: [...(v as number[])] };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...(v as number[])] };
    case 'tensor':
      return { name, type: T.TENSOR, t: tensorProto('', v as TensorData) };
    case 'dtype':
      return { name, type: T.INT, i: DTYPE_CODES[v as DType] };
    default:
      throw new Error(`attribute ${name}: unknown kind ${kind}`);
  }
}

function nodeProto(n: Node, opset: number): onnxProto.onnx.INodeProto {
  let type = n.type;
  let domain = n.domain;
  let attrs = Object.entries(n.attrs);
  if (n.type === 'Gelu' && n.domain === '' && opset < 20) {
    domain = 'com.microsoft';
    type = n.attrs.approximate === 'tanh' ? 'FastGelu' : 'Gelu';
    attrs = [];
  }
  if (n.domain === 'ai.peftkit' && n.type === 'StopGradient') {
    domain = '';
    type = 'Identity';
  }
  return {
    name: n.name,
    opType: type,
    domain,
    input: n.inputs.map((v) => (v ? v.name : '')),
    output: n.outputs.map((v) => v.name),
    attribute: attrs.map(([k, v]) => attribute(k, n.def.attrs[k]!.kind, v)),
  };
}

/**
 * Standard-ONNX equivalents of the contrib nodes peftkit emits: GELU written out with Erf or Tanh,
 * FusedMatMul as Transpose + MatMul (+ Mul by alpha). Returns the nodes and the scalar constants
 * they need, or null when `n` needs no lowering.
 */
function lowerToStandard(
  n: Node,
  opset: number,
): { nodes: onnxProto.onnx.INodeProto[]; consts: onnxProto.onnx.ITensorProto[] } | null {
  const isGelu = n.type === 'Gelu' && n.domain === '' && opset < 20;
  const isFused = n.type === 'FusedMatMul' && n.domain === 'com.microsoft';
  if (!isGelu && !isFused) return null;
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const consts: onnxProto.onnx.ITensorProto[] = [];
  let k = 0;
  const tmp = () => `${n.name}/std/${k++}`;
  const dtype = n.inputs[0]!.dtype;
  const scalar = (v: number): string => {
    const name = tmp();
    const data = dtype === 'float64' ? new Float64Array([v]) : new Float32Array([v]);
    consts.push(tensorProto(name, { dtype, shape: [], data }));
    return name;
  };
  const node = (
    op: string,
    inputs: string[],
    out?: string,
    attribute: onnxProto.onnx.IAttributeProto[] = [],
  ): string => {
    const o = out ?? tmp();
    nodes.push({ name: tmp(), opType: op, domain: '', input: inputs, output: [o], attribute });
    return o;
  };
  const out = n.outputs[0]!.name;
  if (isGelu) {
    const x = n.inputs[0]!.name;
    if (n.attrs.approximate === 'tanh') {
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      const x3 = node('Mul', [node('Mul', [x, x]), x]);
      const inner = node('Mul', [
        node('Add', [x, node('Mul', [x3, scalar(0.044715)])]),
        scalar(Math.sqrt(2 / Math.PI)),
      ]);
      node('Mul', [node('Mul', [x, scalar(0.5)]), node('Add', [node('Tanh', [inner]), scalar(1)])], out);
    } else {
      // 0.5 x (1 + erf(x / sqrt 2))
      const e = node('Erf', [node('Mul', [x, scalar(Math.SQRT1_2)])]);
      node('Mul', [node('Mul', [x, scalar(0.5)]), node('Add', [e, scalar(1)])], out);
    }
    return { nodes, consts };
  }
  const swap = (v: Node['inputs'][number]): string => {
    const perm = v!.shape.map((_, i) => i);
    const r = perm.length;
    [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
    return node('Transpose', [v!.name], undefined, [attribute('perm', 'ints', perm)]);
  };
  const a = n.attrs.transA ? swap(n.inputs[0]!) : n.inputs[0]!.name;
  const b = n.attrs.transB ? swap(n.inputs[1]!) : n.inputs[1]!.name;
  const alpha = (n.attrs.alpha as number | undefined) ?? 1;
  if (alpha === 1) node('MatMul', [a, b], out);
  else node('Mul', [node('MatMul', [a, b]), scalar(alpha)], out);
  return { nodes, consts };
}

/** Serialise a graph to ONNX bytes plus the external buffers its large initializers live in. */
export function serialize(g: Graph, opts: SerializeOptions = {}): SerializedModel {
  const opset = opts.opset ?? DEFAULT_OPSET;
  const externalData: ExternalBuffer[] = [];
  const weightInputs: WeightInput[] = [];
  const initializer: onnxProto.onnx.ITensorProto[] = [];
  let ext = 0;
  // Initializers no node reads (a frozen weight a module replaced, say) are left out.
  const used = new Set<Value>(g.outputs.map((o) => o.value));
  for (const n of g.nodes) for (const i of n.inputs) if (i) used.add(i);
  for (const [v, init] of g.initializers) {
    if (!used.has(v)) continue;
    if (init.external && !opts.inlineAll && opts.frozenWeights === 'inputs') {
      weightInputs.push({ name: v.name, data: init.data });
    } else if (init.external && !opts.inlineAll) {
      const path = `ext_${ext++}.bin`;
      externalData.push({ path, data: bytesOf(init.data) });
      initializer.push(tensorProto(v.name, init.data, path));
    } else {
      initializer.push(tensorProto(v.name, init.data));
    }
  }
  const nodes: onnxProto.onnx.INodeProto[] = [];
  for (const n of g.nodes) {
    const lowered = opts.standardOps ? lowerToStandard(n, opset) : null;
    if (lowered) {
      nodes.push(...lowered.nodes);
      initializer.push(...lowered.consts);
    } else nodes.push(nodeProto(n, opset));
  }
  const usesMs = nodes.some((n) => n.domain === 'com.microsoft');
  const model = onnx.ModelProto.create({
    irVersion: opts.irVersion ?? DEFAULT_IR_VERSION,
    producerName: opts.producer ?? 'peftkit',
    opsetImport: [
      { domain: '', version: opset },
      ...(usesMs ? [{ domain: 'com.microsoft', version: 1 }] : []),
    ],
    graph: {
      name: g.name,
      node: nodes,
      input: [
        ...g.inputs.map((v) => valueInfo(v.name, v)),
        ...weightInputs.map((w) => valueInfo(w.name, { dtype: w.data.dtype, shape: w.data.shape })),
      ],
      output: g.outputs.map((o) => valueInfo(o.name, o.value)),
      initializer,
    },
  });
  return { model: onnx.ModelProto.encode(model).finish(), externalData, weightInputs };
}
