/**
 * The AutoPEFT search space (`autopeft`; method spec §5.6, cambridgeltl/autopeft "sappa"), over
 * attachment-point patterns: per layer, a serial adapter after the FFN sublayer, a parallel adapter
 * on the FFN sublayer, and a prefix (Li & Liang's concatenated keys/values) at the self-attention.
 * Each module type takes ONE global size for the whole model, 0 (absent) or one of `sizes`, and a
 * per-layer binary flag, shared by the module types, says whether the layer gets the modules at all.
 *
 * The space lists the candidates (type, point, candidate sizes); the coupling (one size per type,
 * one flag per layer) is the AutoPEFT strategy's, see `configs.ts`.
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

export type AutoPeftSpaceEntry = SpaceEntry;

export interface AutoPeftSpaceOptions {
  /** Candidate sizes of every ranked type besides 0 (absent); default [1, 2, 4, 8, 16, 32]. */
  sizes?: number[];
  entries?: AutoPeftSpaceEntry[];
}

export const AUTOPEFT_ENTRIES: readonly AutoPeftSpaceEntry[] = [
  { type: 'adapter', targets: ['layer.*.ffn.sublayer'] },
  { type: 'parallel-adapter', targets: ['layer.*.ffn.sublayer'] },
  { type: 'prefix', targets: ['layer.*.attn.scores'], options: { style: 'concat' } },
];

export const DEFAULT_SIZES: readonly number[] = [1, 2, 4, 8, 16, 32];

export const autopeftSpaceOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sizes: {
      type: 'array',
      items: { type: 'integer', minimum: 1 },
      minItems: 1,
      uniqueItems: true,
      default: [...DEFAULT_SIZES],
      description:
        'Sizes a module type can take besides 0 (absent): adapter bottlenecks and prefix lengths (one global value per type).',
    },
    entries: SPACE_ENTRIES_SCHEMA,
  },
};

export class AutoPeftSpace implements SearchSpace {
  private readonly sizes: number[];
  private readonly entries: readonly AutoPeftSpaceEntry[];

  constructor(options: AutoPeftSpaceOptions = {}) {
    const sizes = options.sizes ?? [...DEFAULT_SIZES];
    sizes.forEach((s, i) => {
      if (!Number.isInteger(s) || s < 1) {
        throw new ConfigError(
          `got ${JSON.stringify(s)}, expected an integer >= 1 (absence is always a choice)`,
          undefined,
          `autopeft.sizes[${i}]`,
        );
      }
    });
    if (sizes.length === 0) throw new ConfigError('expected at least one size', undefined, 'autopeft.sizes');
    this.sizes = [...new Set(sizes)].sort((a, b) => a - b);
    this.entries = options.entries ?? AUTOPEFT_ENTRIES;
  }

  build(backbone: BackboneInfo, types: ModuleTypes): SpaceDefinition {
    const candidates = expandSpaceEntries(this.entries, backbone, types, this.sizes);
    if (candidates.length === 0)
      throw new Error(`search space autopeft: no candidate module on backbone ${backbone.name}`);
    return { name: 'autopeft', candidates };
  }
}
