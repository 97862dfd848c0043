/**
 * BIPEFT's two search spaces, expressed over attachment-point patterns so that they apply to any
 * backbone (method spec §1.3):
 *
 * S1 (`s1`, the S3Delta mixed space): per layer, LoRA on the attention q/k/v/o and FFN in/out
 * projections, a low-rank adapter after the attention and after the FFN sublayer (matrix modules:
 * on/off + rank), BitFit on those six projections and on both LayerNorms, LNFit on both
 * LayerNorms (vector modules: on/off only).
 *
 * S2 (`s2`, the AutoPEFT space): per layer, a serial adapter and a parallel adapter on the FFN
 * sublayer and a (gated) prefix on the self-attention, each on/off + size.
 *
 * Mixed (`mixed`, a peftkit addition, not in the paper): every module type the manual baselines
 * use, each at its default positions there — LoRA on the six projections, a serial adapter after
 * both sublayers (Houlsby), a prefix on every self-attention, BitFit on every linear layer and
 * LayerNorm, LNFit on every LayerNorm — so that any uniform manual configuration whose rank is a
 * candidate is also a point of the space, and a comparison against them tests the search rather
 * than the space (S1 holds no full adapter or prefix; S2 no LoRA, BitFit or LNFit).
 *
 * The binary and rank dimensions stay separate: every candidate has an on/off decision, and ranked
 * ones a set of candidate ranks (default {1, 4, 8}).
 */
import type {
  BackboneInfo,
  JsonSchema,
  ModuleTypes,
  SearchSpace,
  SpaceDefinition,
  SpaceEntry,
} from '@peftkit/api';
import { SPACE_ENTRIES_SCHEMA, expandSpaceEntries } from '@peftkit/api';

export type { SpaceEntry };

export interface SpaceOptions {
  ranks?: number[];
  /** Replace the default entries (module type + target patterns). */
  entries?: SpaceEntry[];
}

export const S1_ENTRIES: SpaceEntry[] = [
  { type: 'lora', targets: ['layer.*.attn.{q,k,v,o}', 'layer.*.ffn.{in,out}'] },
  {
    type: 'lowrank-adapter',
    targets: ['layer.*.attn.sublayer', 'layer.*.ffn.sublayer'],
    options: { reductionFactor: 32 },
  },
  {
    type: 'bitfit',
    targets: ['layer.*.attn.{q,k,v,o}', 'layer.*.ffn.{in,out}', 'layer.*.ln_attn', 'layer.*.ln_ffn'],
  },
  { type: 'lnfit', targets: ['layer.*.ln_attn', 'layer.*.ln_ffn'] },
];

export const S2_ENTRIES: SpaceEntry[] = [
  // §1.3: SA is y + W_up·gelu(W_down·y + b_d) + b_u; PA is the same bottleneck reading the FFN input.
  { type: 'adapter', targets: ['layer.*.ffn.sublayer'], options: { activation: 'gelu' } },
  { type: 'parallel-adapter', targets: ['layer.*.ffn.sublayer'], options: { activation: 'gelu' } },
  { type: 'prefix', targets: ['layer.*.attn.scores'], options: { style: 'gated' } },
];

export const MIXED_ENTRIES: SpaceEntry[] = [
  { type: 'lora', targets: ['layer.*.attn.{q,k,v,o}', 'layer.*.ffn.{in,out}'] },
  { type: 'adapter', targets: ['layer.*.attn.sublayer', 'layer.*.ffn.sublayer'] },
  { type: 'prefix', targets: ['layer.*.attn.scores'] },
  // Every linear layer and LayerNorm, as manual BitFit (matching keeps the kinds BitFit attaches to).
  { type: 'bitfit', targets: ['**'] },
  { type: 'lnfit', targets: ['layer.*.ln_attn', 'layer.*.ln_ffn'] },
];

export const spaceOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ranks: {
      type: 'array',
      items: { type: 'integer', minimum: 1 },
      minItems: 1,
      uniqueItems: true,
      description:
        'Candidate ranks / bottleneck sizes / prefix lengths of ranked modules (default [1, 4, 8]).',
    },
    entries: SPACE_ENTRIES_SCHEMA,
  },
};

export class PatternSpace implements SearchSpace {
  private readonly ranks: number[];

  constructor(
    private readonly name: string,
    private readonly entries: readonly SpaceEntry[],
    options: SpaceOptions = {},
  ) {
    this.ranks = [...(options.ranks ?? [1, 4, 8])].sort((a, b) => a - b);
    if (options.entries) this.entries = options.entries;
  }

  build(backbone: BackboneInfo, types: ModuleTypes): SpaceDefinition {
    const candidates = expandSpaceEntries(this.entries, backbone, types, this.ranks);
    if (candidates.length === 0)
      throw new Error(`search space ${this.name}: no candidate module on backbone ${backbone.name}`);
    return { name: this.name, candidates };
  }
}
