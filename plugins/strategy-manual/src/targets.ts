/**
 * Where a manual configuration puts its modules: the default targets of each module type, the
 * resolution of target patterns to attachment points, and the order in which targets are kept when
 * the budget cannot hold them all.
 */
import type { AttachmentKind, AttachmentPoint, BackboneInfo, PeftModuleType } from '@peftkit/api';
import { ConfigError, matchPoints } from '@peftkit/api';

export type AdapterPlacement = 'houlsby' | 'pfeiffer';

/** Module types whose placement (Houlsby: both sublayers, Pfeiffer: FFN sublayer only) applies. */
export const ADAPTER_TYPES: readonly string[] = ['adapter', 'parallel-adapter', 'lowrank-adapter'];

export interface TargetRule {
  patterns: string[];
  /** Restrict the patterns to these point kinds (`**` then means "every point of these kinds"). */
  kinds?: AttachmentKind[];
}

/**
 * Default targets per type: LoRA on the attention q, k, v, o and FFN in/out projections; adapters on
 * both sublayers of every layer (Houlsby) or the FFN sublayer only (Pfeiffer); prefixes on every
 * attention; BitFit on every linear layer and LayerNorm; LNFit on every LayerNorm; full fine-tuning
 * of every linear layer, LayerNorm and embedding. Other types have no default (targets required).
 */
export function defaultTargets(type: string, placement: AdapterPlacement): TargetRule | null {
  if (ADAPTER_TYPES.includes(type)) {
    return placement === 'pfeiffer'
      ? { patterns: ['layer.*.ffn.sublayer'], kinds: ['sublayer'] }
      : { patterns: ['layer.*.attn.sublayer', 'layer.*.ffn.sublayer'], kinds: ['sublayer'] };
  }
  switch (type) {
    case 'lora':
    case 'adalora':
      return { patterns: ['layer.*.attn.{q,k,v,o}', 'layer.*.ffn.{in,out}'], kinds: ['linear'] };
    case 'prefix':
      return { patterns: ['**'], kinds: ['attention'] };
    case 'bitfit':
      return { patterns: ['**'], kinds: ['linear', 'layernorm'] };
    case 'lnfit':
      return { patterns: ['**'], kinds: ['layernorm'] };
    case 'full':
      return { patterns: ['**'], kinds: ['linear', 'layernorm', 'embedding'] };
    default:
      return null;
  }
}

/**
 * The attachment points a type is placed on: the points matching the patterns, of the kinds the
 * type attaches to (and the rule's kinds), that the type accepts, in backbone order.
 */
export function resolveTargets(
  backbone: BackboneInfo,
  type: PeftModuleType,
  rule: TargetRule,
  where: string,
): AttachmentPoint[] {
  const kinds = type.attachesTo.filter((k) => !rule.kinds || rule.kinds.includes(k));
  if (kinds.length === 0) {
    throw new ConfigError(
      `module type ${type.name} attaches to ${type.attachesTo.join('/')} points, none of the kinds ${rule.kinds!.join('/')}`,
      undefined,
      where,
    );
  }
  let points: AttachmentPoint[];
  try {
    points = matchPoints(rule.patterns, backbone.points, kinds);
  } catch (e) {
    throw new ConfigError(`${(e as Error).message} on backbone ${backbone.name}`, undefined, where);
  }
  const accepted = points.filter((p) => type.accepts(p));
  if (accepted.length === 0) {
    throw new ConfigError(
      `module type ${type.name} accepts none of the matched points (${points.map((p) => p.name).join(', ')})`,
      undefined,
      where,
    );
  }
  return accepted;
}

export type KeepOrder = 'bottom-up' | 'top-down';

/**
 * The order in which targets are kept when the budget cannot hold them all. Backbones list their
 * points from the input to the output (embeddings, layer 0, …, pooler), so `bottom-up` keeps the
 * lowest points first, i.e. drops by layer from the top; `top-down` is the reverse.
 */
export function keepOrder(targets: readonly AttachmentPoint[], backbone: BackboneInfo, order: KeepOrder) {
  const pos = new Map(backbone.points.map((p, i) => [p.name, i]));
  const sorted = [...targets].sort((a, b) => pos.get(a.name)! - pos.get(b.name)!);
  return order === 'bottom-up' ? sorted : sorted.reverse();
}
