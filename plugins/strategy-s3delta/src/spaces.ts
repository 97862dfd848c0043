/**
 * S3Delta's search spaces (method spec §5.5; thunlp/S3Delta structure_config/mix_low_rank.json and
 * lora_qkvowiwo_rank1.json), over attachment-point patterns so that they apply to any backbone.
 * Every candidate is one binary unit with a single size: the search only decides on/off.
 *
 * S3PET-M (`s3pet-m`, "mix"): per layer, rank-1 LoRA on the attention q/k/v/o and the FFN in/out
 * projections; BitFit on each of those outputs and on both LayerNorms; LNFit on both LayerNorms; a
 * rank-1 low-rank adapter (bottleneck d/32, all factors Glorot-uniform as in S3Delta) after the
 * attention and after the FFN sublayer. The original also places BitFit/LNFit on T5's final
 * LayerNorms; a backbone that exposes such points can add them through `entries`.
 *
 * S3PET-L (`s3pet-l`): rank-1 LoRA on q/k/v/o and FFN in/out only.
 */
import type {
  BackboneInfo,
  JsonSchema,
  ModuleTypes,
  SearchSpace,
  SpaceDefinition,
  SpaceEntry,
} from '@peftkit/api';
import { ConfigError, SPACE_ENTRIES_SCHEMA, expandSpaceEntries } from '@peftkit/api';

export type { SpaceEntry };

export interface S3SpaceOptions {
  /** The one size of every ranked candidate (LoRA rank, low-rank adapter factor rank); default 1. */
  rank?: number;
  /** Replace the default entries (module type + target patterns + options). */
  entries?: SpaceEntry[];
}

const LINEARS = ['layer.*.attn.{q,k,v,o}', 'layer.*.ffn.{in,out}'];
const NORMS = ['layer.*.ln_attn', 'layer.*.ln_ffn'];

export const S3PET_M_ENTRIES: readonly SpaceEntry[] = [
  { type: 'lora', targets: LINEARS },
  { type: 'bitfit', targets: [...LINEARS, ...NORMS] },
  { type: 'lnfit', targets: NORMS },
  {
    type: 'lowrank-adapter',
    targets: ['layer.*.attn.sublayer', 'layer.*.ffn.sublayer'],
    options: { reductionFactor: 32, init: 'glorot' },
  },
];

export const S3PET_L_ENTRIES: readonly SpaceEntry[] = [{ type: 'lora', targets: LINEARS }];

export const s3SpaceOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rank: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: 'The single size of every ranked candidate (S3Delta: rank 1).',
    },
    entries: SPACE_ENTRIES_SCHEMA,
  },
};

/** A space of on/off candidates, each ranked type at one fixed size. */
export class OneSizeSpace implements SearchSpace {
  private readonly rank: number;
  private readonly entries: readonly SpaceEntry[];

  constructor(
    private readonly name: string,
    defaults: readonly SpaceEntry[],
    options: S3SpaceOptions = {},
  ) {
    const rank = options.rank ?? 1;
    if (!Number.isInteger(rank) || rank < 1) {
      throw new ConfigError(
        `got ${JSON.stringify(rank)}, expected an integer >= 1`,
        undefined,
        `${name}.rank`,
      );
    }
    this.rank = rank;
    this.entries = options.entries ?? defaults;
  }

  build(backbone: BackboneInfo, types: ModuleTypes): SpaceDefinition {
    const candidates = expandSpaceEntries(this.entries, backbone, types, [this.rank]);
    if (candidates.length === 0)
      throw new Error(`search space ${this.name}: no candidate module on backbone ${backbone.name}`);
    return { name: this.name, candidates };
  }
}
