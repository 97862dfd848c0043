/**
 * Op definitions: for each ONNX op the IR supports, its attributes, shape/type inference, its
 * vector-Jacobian product (VJP) rule for reverse-mode autodiff, and a FLOP count.
 */
import type { Dim } from '../dims.js';
import type { Graph, Node, Value } from '../graph.js';
import type { DType, TensorData } from '../tensor.js';

/** Attribute values; the op definition's AttrSpec says how each is serialised (int vs float, dtype). */
export type AttrValue = number | string | readonly number[] | readonly string[] | TensorData;

export type AttrKind = 'int' | 'float' | 'string' | 'ints' | 'floats' | 'tensor' | 'dtype';

export interface AttrSpec {
  kind: AttrKind;
  default?: AttrValue;
  required?: boolean;
}

export interface OutputType {
  dtype: DType;
  shape: readonly Dim[];
  known?: Dim[];
}

export interface InferContext {
  readonly inputs: readonly (Value | null)[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
  /** Requested number of outputs, for variadic-output ops. */
  readonly nOutputs: number | undefined;
  fail(message: string): never;
}

export interface VjpContext {
  readonly g: Graph;
  readonly node: Node;
  /** Attributes with defaults filled in. */
  readonly attrs: Readonly<Record<string, AttrValue>>;
  /** Gradient of the loss w.r.t. each output (null where an output does not reach the loss). */
  readonly dOutputs: readonly (Value | null)[];
  /** Which inputs need a gradient (reachable from a trainable input and differentiable). */
  readonly needs: readonly boolean[];
}

export interface RecomputeContext {
  readonly g: Graph;
  readonly node: Node;
  /** Attributes with defaults filled in. */
  readonly attrs: Readonly<Record<string, AttrValue>>;
}

export interface OpDef {
  readonly type: string;
  readonly domain: string;
  /** Minimum opset version of this op's definition as the IR uses it (for export checks). */
  readonly since: number;
  readonly attrs: Readonly<Record<string, AttrSpec>>;
  readonly minInputs: number;
  readonly maxInputs: number;
  infer(ctx: InferContext): OutputType[];
  /**
   * Gradients w.r.t. the inputs, or null for inputs that get none. Absent for ops that are not
   * differentiable (Shape, comparisons, integer ops): autodiff treats their outputs as constants.
   */
  vjp?(ctx: VjpContext): (Value | null)[];
  /**
   * Inputs through which no gradient ever flows (indices, shapes, masks, conditions). Autodiff
   * does not even ask for them.
   */
  readonly nonDifferentiableInputs?: readonly number[];
  /**
   * Rebuild the outputs from the inputs for use in the backward pass, so that autodiff can keep
   * only the inputs of a cheap activation alive instead of its inputs and its outputs (see
   * autodiff.ts, "rematerialisation"). Must use different ops than the forward node: ONNX Runtime
   * merges identical nodes (common-subexpression elimination), which would undo the saving.
   */
  recompute?(ctx: RecomputeContext): Value[];
  /**
   * The output is input 0 re-indexed without arithmetic (Reshape, Flatten, Squeeze, Unsqueeze,
   * Identity); ONNX Runtime runs it without copying. Autodiff rematerialises views of
   * rematerialised values.
   */
  readonly view?: boolean;
  /** Floating-point operations for concrete shapes (multiply-add counts 2). */
  flops?(
    inputShapes: readonly (readonly number[] | null)[],
    outputShapes: readonly (readonly number[])[],
    attrs: Readonly<Record<string, AttrValue>>,
  ): number;
}

const registry = new Map<string, OpDef>();

export function opKey(domain: string, type: string): string {
  return domain ? `${domain}::${type}` : type;
}

export interface OpDefInit extends Omit<OpDef, 'domain' | 'since' | 'attrs' | 'minInputs' | 'maxInputs'> {
  domain?: string;
  since?: number;
  attrs?: Record<string, AttrSpec>;
  inputs: number | [number, number];
}

export function defineOp(init: OpDefInit): OpDef {
  const [minInputs, maxInputs] = typeof init.inputs === 'number' ? [init.inputs, init.inputs] : init.inputs;
  const def: OpDef = {
    ...init,
    domain: init.domain ?? '',
    since: init.since ?? 13,
    attrs: init.attrs ?? {},
    minInputs,
    maxInputs,
  };
  const key = opKey(def.domain, def.type);
  if (registry.has(key)) throw new Error(`op ${key} defined twice`);
  registry.set(key, def);
  return def;
}

export function getOpDef(domain: string, type: string): OpDef | undefined {
  return registry.get(opKey(domain, type));
}

export function allOpDefs(): OpDef[] {
  return [...registry.values()];
}
