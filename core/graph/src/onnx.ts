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

export interface SerializedModel {
  model: Uint8Array;
  externalData: ExternalBuffer[];
}

export interface SerializeOptions {
  opset?: number;
  irVersion?: number;
  /** Keep every initializer inline (for tools that read the model file alone, like onnx.checker). */
  inlineAll?: boolean;
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

function valueInfo(name: string, v: Value): onnxProto.onnx.IValueInfoProto {
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

/** Serialise a graph to ONNX bytes plus the external buffers its large initializers live in. */
export function serialize(g: Graph, opts: SerializeOptions = {}): SerializedModel {
  const opset = opts.opset ?? DEFAULT_OPSET;
  const externalData: ExternalBuffer[] = [];
  const initializer: onnxProto.onnx.ITensorProto[] = [];
  let ext = 0;
  // Initializers no node reads (a frozen weight a module replaced, say) are left out.
  const used = new Set<Value>(g.outputs.map((o) => o.value));
  for (const n of g.nodes) for (const i of n.inputs) if (i) used.add(i);
  for (const [v, init] of g.initializers) {
    if (!used.has(v)) continue;
    if (init.external && !opts.inlineAll) {
      const path = `ext_${ext++}.bin`;
      externalData.push({ path, data: bytesOf(init.data) });
      initializer.push(tensorProto(v.name, init.data, path));
    } else {
      initializer.push(tensorProto(v.name, init.data));
    }
  }
  const usesMs = g.nodes.some((n) => n.domain === 'com.microsoft' || (n.type === 'Gelu' && opset < 20));
  const model = onnx.ModelProto.create({
    irVersion: opts.irVersion ?? DEFAULT_IR_VERSION,
    producerName: opts.producer ?? 'peftkit',
    opsetImport: [
      { domain: '', version: opset },
      ...(usesMs ? [{ domain: 'com.microsoft', version: 1 }] : []),
    ],
    graph: {
      name: g.name,
      node: g.nodes.map((n) => nodeProto(n, opset)),
      input: g.inputs.map((v) => valueInfo(v.name, v)),
      output: g.outputs.map((o) => valueInfo(o.name, o.value)),
      initializer,
    },
  });
  return { model: onnx.ModelProto.encode(model).finish(), externalData };
}
