/**
 * PEFT module types (extension point `peft-module`): LoRA, adapters, prefix, BitFit, LNFit, full
 * fine-tuning. A module type says where it can attach, which parameters it has at a given rank
 * (exact counts: the budget arithmetic rests on them), how to initialise them, and what graph
 * fragment it adds at its attachment point.
 */
import type { Graph, TensorData, Value } from '@peftkit/graph';
import type { AttachmentKind, AttachmentPoint, AttentionKV, WeightRole } from './backbone.js';
import type { JsonSchema } from './plugin.js';
import type { Rng } from './rng.js';

export interface ParamSpec {
  /** Local name within the module (`A`, `B`, `down`, `bias`). Full name: `<module id>/<local>`. */
  readonly name: string;
  readonly shape: readonly number[];
  /**
   * The axis that grows with the rank. A rank-r module's tensor is the leading r slices of the
   * rank-r_max tensor along this axis (nested weight sharing of a supernet).
   */
  readonly rankAxis?: number;
}

/** The hook call a module is applied to; it returns a replacement of the same kind of value. */
export type HookSite =
  | { kind: 'weight'; role: WeightRole; frozen: TensorData; value: Value }
  | { kind: 'linear'; x: Value; y: Value }
  | { kind: 'layernorm'; x: Value; y: Value; epsilon: number }
  | { kind: 'sublayer'; x: Value; y: Value }
  | { kind: 'attention-keys'; kv: AttentionKV }
  | { kind: 'attention-context'; q: Value; context: Value; scale: number };

export type HookResult = Value | AttentionKV;

/** What a module sees while its graph fragment is built. */
export interface ModuleBuildContext {
  readonly g: Graph;
  readonly point: AttachmentPoint;
  /** The rank the fragment is built at (its parameters have this size). */
  readonly rank: number | null;
  readonly options: Readonly<Record<string, unknown>>;
  readonly train: boolean;
  /** This module's trainable parameter `local` (a graph input, created once per graph). */
  param(local: string): Value;
  /**
   * The architecture gate (scalar, 0/1 or relaxed) when the program is a searchable supernet, else
   * null. `gate` carries the gradient back to the architecture; `gateDetached` has the same value
   * but no gradient, for factors the method treats as constants (BIPEFT's LoRA B path).
   */
  readonly gate: Value | null;
  readonly gateDetached: Value | null;
  /**
   * Mask over the rank components ([rank]; a prefix of ones for a hard rank choice) when the
   * program searches this module's rank, else null. Same gradient/detached pairing as the gate.
   */
  readonly rankMask: Value | null;
  readonly rankMaskDetached: Value | null;
}

export interface PeftModuleType {
  readonly name: string;
  readonly description: string;
  /** Attachment kinds the type can sit on. */
  readonly attachesTo: readonly AttachmentKind[];
  /** JSON Schema of the per-module options (presets and architectures are validated against it). */
  readonly optionsSchema?: JsonSchema;
  /** True when the type has a size dimension (LoRA rank, adapter bottleneck, prefix length). */
  readonly ranked: boolean;
  /**
   * Ranked types: whether, with these options, a rank mask keeping r components computes exactly
   * the module built at rank r from the leading slices of the parameters (absent: always true).
   * False for prefix tuning, whose masked rows are still keys that take softmax mass, and for LoRA
   * with an explicit alpha, whose scale alpha/r depends on the rank it is built at. Strategies fold
   * a frozen rank into a smaller program only when this holds, so folding never changes the
   * function being searched.
   */
  exactRankSlice?(options: Readonly<Record<string, unknown>>): boolean;
  /**
   * Order among modules at one point, lowest first. The reference composition is: parallel
   * branches (LoRA, LNFit) on the frozen output, then BitFit, then serial adapters, then parallel
   * adapters (which read the sublayer input).
   */
  readonly order: number;
  /** Whether the type can attach to this particular point (beyond its kind). */
  accepts(point: AttachmentPoint): boolean;
  /** Trainable parameters at `rank` (null for unranked types). */
  params(
    point: AttachmentPoint,
    rank: number | null,
    options: Readonly<Record<string, unknown>>,
  ): ParamSpec[];
  /**
   * Initial values, keyed by local name. `pretrained` gives the frozen backbone weights at the point
   * (full fine-tuning starts from them).
   */
  init(
    point: AttachmentPoint,
    rank: number | null,
    options: Readonly<Record<string, unknown>>,
    rng: Rng,
    pretrained: Partial<Record<WeightRole, TensorData>>,
  ): Record<string, Float32Array>;
  /** Add the module's fragment at a hook call of its point; return the replacement value. */
  apply(ctx: ModuleBuildContext, site: HookSite): HookResult;
  /**
   * Optional, for standalone inference export: fold trained parameters into a frozen weight of the
   * point (LoRA: W + B·A). Return null when the module cannot be merged into `role`.
   */
  merge?(
    point: AttachmentPoint,
    rank: number | null,
    options: Readonly<Record<string, unknown>>,
    params: Readonly<Record<string, Float32Array>>,
    role: WeightRole,
    frozen: TensorData,
  ): TensorData | null;
  /**
   * Optional, for exports to other frameworks (PEFT's AdaLoRA): the module's update of a linear
   * point as factors, delta(x) = ((x·A) ⊙ scales)·B with A [in, r], scales [r], B [r, out].
   */
  lowRank?(
    point: AttachmentPoint,
    rank: number | null,
    options: Readonly<Record<string, unknown>>,
    params: Readonly<Record<string, Float32Array>>,
  ): { A: Float32Array; scales: Float32Array; B: Float32Array };
}

/** Identifier of a module instance: `<type>@<attachment point>`, used everywhere. */
export function moduleId(type: string, point: string): string {
  return `${type}@${point}`;
}

export function parseModuleId(id: string): { type: string; point: string } {
  const at = id.indexOf('@');
  if (at <= 0) throw new Error(`invalid module id "${id}": expected <type>@<attachment point>`);
  return { type: id.slice(0, at), point: id.slice(at + 1) };
}

/** The value a hook site currently carries (what a module returns for sites it leaves alone). */
export function siteValue(site: HookSite): HookResult {
  switch (site.kind) {
    case 'weight':
      return site.value;
    case 'linear':
    case 'layernorm':
    case 'sublayer':
      return site.y;
    case 'attention-keys':
      return site.kv;
    case 'attention-context':
      return site.context;
  }
}
