/**
 * The graph IR: a typed, append-only builder over ONNX semantics.
 *
 * Every node is shape- and type-checked when it is added (by the op's `infer` rule), so a wrong
 * graph fails where it is built, with the node's name and the offending shapes, instead of inside
 * ONNX Runtime. Values carry symbolic shapes (see dims.ts), so one graph serves every batch size and
 * sequence length.
 */
import { type Dim, dim, shapeToString } from './dims.js';
import { type DType, type TensorData, isFloat, tensor } from './tensor.js';
import { type AttrValue, type OpDef, getOpDef, opKey } from './ops/registry.js';

export type ValueKind = 'input' | 'initializer' | 'node';

export class Value {
  /**
   * For small 1-D int64 tensors that hold shapes (outputs of Shape, constants, Concat of those):
   * their symbolic contents. Lets Reshape(x, Shape(y)) infer an exact output shape.
   */
  known?: Dim[];

  constructor(
    readonly graph: Graph,
    readonly id: number,
    public name: string,
    readonly dtype: DType,
    readonly shape: readonly Dim[],
    readonly kind: ValueKind,
    readonly producer: Node | null,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.name}: ${this.dtype}${shapeToString(this.shape)}`;
  }
}

export interface Node {
  readonly id: number;
  readonly name: string;
  readonly type: string;
  readonly domain: string;
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
  readonly def: OpDef;
}

export interface Initializer {
  readonly data: TensorData;
  /**
   * Large frozen weights are serialised as ONNX external data backed by the caller's buffer, so the
   * model bytes stay small and the weights are not copied into the protobuf.
   */
  readonly external: boolean;
}

export class GraphError extends Error {
  override name = 'GraphError';
}

export interface OpOptions {
  /** Number of outputs, for ops whose output count is variable (Split, LayerNormalization). */
  outputs?: number;
  /** Name hint for the node and its outputs. */
  name?: string;
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: { value: Value; name: string }[] = [];
  readonly initializers = new Map<Value, Initializer>();
  private readonly usedNames = new Set<string>();
  private readonly scopes: string[] = [];
  private readonly constants = new Map<string, Value>();
  private nextId = 0;

  constructor(readonly name = 'peftkit') {}

  /** Prefix node and value names created inside `fn` with `scope/`. Purely cosmetic. */
  scoped<T>(scope: string, fn: () => T): T {
    this.scopes.push(scope);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  private uniqueName(hint: string): string {
    const base = this.scopes.length ? `${this.scopes.join('/')}/${hint}` : hint;
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  /** A graph input, fed at run time. Names are kept verbatim (they are the feed names). */
  input(name: string, dtype: DType, shape: readonly Dim[]): Value {
    if (this.usedNames.has(name)) throw new GraphError(`graph input "${name}": name already used`);
    this.usedNames.add(name);
    const v = new Value(this, this.nextId++, name, dtype, shape.map(dim), 'input', null);
    this.inputs.push(v);
    return v;
  }

  /** A named initializer (a frozen weight). Large ones are serialised as external data. */
  initializer(name: string, data: TensorData, opts: { external?: boolean } = {}): Value {
    if (this.usedNames.has(name)) throw new GraphError(`initializer "${name}": name already used`);
    this.usedNames.add(name);
    const v = new Value(this, this.nextId++, name, data.dtype, [...data.shape], 'initializer', null);
    const external = opts.external ?? data.data.byteLength >= 1024;
    this.initializers.set(v, { data, external });
    if (data.dtype === 'int64' && data.shape.length <= 1 && data.data.length <= 16) {
      v.known = Array.from(data.data as BigInt64Array, (b) => Number(b));
    }
    return v;
  }

  /** A small constant, deduplicated by value. */
  constant(data: TensorData): Value {
    const key = `${data.dtype}|${data.shape.join(',')}|${Array.from(data.data as ArrayLike<number | bigint>).join(',')}`;
    const hit = this.constants.get(key);
    if (hit) return hit;
    const name = this.uniqueName('const');
    this.usedNames.delete(name);
    const v = this.initializer(name, data, { external: false });
    this.constants.set(key, v);
    return v;
  }

  scalar(value: number, dtype: DType = 'float32'): Value {
    return this.constant(tensor(dtype, [], [value]));
  }

  /** A 1-D int64 constant (axes, shapes, indices). */
  ints(values: readonly number[]): Value {
    const v = this.constant(tensor('int64', [values.length], values));
    // Shape-like constants keep their contents for inference whatever their length.
    v.known ??= [...values];
    return v;
  }

  /** Add a node. Returns its outputs; shapes and dtypes are inferred and checked here. */
  op(
    type: string,
    inputs: readonly (Value | null | undefined)[],
    attrs: Record<string, AttrValue | undefined> = {},
    opts: OpOptions = {},
    domain = '',
  ): Value[] {
    const def = getOpDef(domain, type);
    if (!def) throw new GraphError(`unknown op ${opKey(domain, type)}`);
    const ins = inputs.map((v) => v ?? null);
    // Trailing omitted optional inputs are dropped, as ONNX does.
    while (ins.length && ins[ins.length - 1] === null) ins.pop();
    const nodeName = this.uniqueName(opts.name ?? type);
    const where = `node "${nodeName}" (${type})`;
    for (const v of ins) {
      if (v && v.graph !== this) throw new GraphError(`${where}: input ${v.name} belongs to another graph`);
    }
    if (ins.length < def.minInputs || ins.length > def.maxInputs) {
      throw new GraphError(
        `${where}: takes ${def.minInputs === def.maxInputs ? def.minInputs : `${def.minInputs}..${def.maxInputs}`} inputs, got ${ins.length}`,
      );
    }
    const fullAttrs: Record<string, AttrValue> = {};
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined) continue;
      if (!def.attrs[k]) throw new GraphError(`${where}: unknown attribute "${k}"`);
      fullAttrs[k] = v;
    }
    const withDefaults: Record<string, AttrValue> = { ...fullAttrs };
    for (const [k, spec] of Object.entries(def.attrs)) {
      if (withDefaults[k] === undefined && spec.default !== undefined) withDefaults[k] = spec.default;
      if (withDefaults[k] === undefined && spec.required)
        throw new GraphError(`${where}: attribute "${k}" is required`);
    }
    const fail = (msg: string): never => {
      const shapes = ins
        .map((v) => (v ? `${v.name} ${v.dtype}${shapeToString(v.shape)}` : '(none)'))
        .join(', ');
      throw new GraphError(`${where}: ${msg}; inputs: ${shapes}`);
    };
    const outTypes = def.infer({ inputs: ins, attrs: withDefaults, nOutputs: opts.outputs, fail });
    const node: Node = {
      id: this.nextId++,
      name: nodeName,
      type,
      domain,
      inputs: ins,
      outputs: [],
      attrs: fullAttrs,
      def,
    };
    const outs = outTypes.map((t, i) => {
      const v = new Value(
        this,
        this.nextId++,
        this.uniqueName(`${opts.name ?? type}${outTypes.length > 1 ? `:${i}` : ''}`),
        t.dtype,
        t.shape.map(dim),
        'node',
        node,
      );
      if (t.known) v.known = t.known.map(dim);
      return v;
    });
    (node as unknown as { outputs: Value[] }).outputs = outs;
    this.nodes.push(node);
    return outs;
  }

  /** Mark `v` as a graph output named `name` (renaming it when possible, else via Identity). */
  output(v: Value, name: string): Value {
    if (v.graph !== this) throw new GraphError(`output "${name}": value belongs to another graph`);
    if (this.outputs.some((o) => o.name === name)) throw new GraphError(`output "${name}" declared twice`);
    let out = v;
    const taken = this.usedNames.has(name) && v.name !== name;
    if (v.kind !== 'node' || taken || this.outputs.some((o) => o.value === v)) {
      if (taken && this.inputs.some((i) => i.name === name)) {
        throw new GraphError(`output "${name}" has the name of a graph input`);
      }
      out = this.op('Identity', [v], {}, { name: `${name}_out` })[0]!;
    }
    if (out.name !== name) {
      if (this.usedNames.has(name)) throw new GraphError(`output "${name}": name already used`);
      this.usedNames.delete(out.name);
      this.usedNames.add(name);
      out.name = name;
    }
    this.outputs.push({ value: out, name });
    return out;
  }

  /** Trainable parameters are graph inputs of a float type; this is a convenience for them. */
  param(name: string, shape: readonly Dim[], dtype: DType = 'float32'): Value {
    if (!isFloat(dtype)) throw new GraphError(`parameter "${name}" must have a float dtype, got ${dtype}`);
    return this.input(name, dtype, shape);
  }

  /** Nodes in insertion order are already topologically sorted (the builder is append-only). */
  consumers(): Map<Value, Node[]> {
    const m = new Map<Value, Node[]>();
    for (const n of this.nodes) {
      for (const i of n.inputs) {
        if (!i) continue;
        let list = m.get(i);
        if (!list) m.set(i, (list = []));
        list.push(n);
      }
    }
    return m;
  }
}
