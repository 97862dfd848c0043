/**
 * The `__NAME__` search space: LoRA on the attention query and value projections of the top
 * `layers` layers (default: every layer), at candidate ranks `ranks` (default 1, 2, 4, 8).
 */
import type { BackboneInfo, JsonSchema, ModuleTypes, SearchSpace, SpaceDefinition } from '@peftkit/api';
import { ConfigError, expandSpaceEntries } from '@peftkit/api';

export interface __CLASS__Options {
  layers?: number;
  ranks?: number[];
}

export const __CLASS__OptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    layers: {
      type: 'integer',
      minimum: 1,
      description: 'How many of the top layers get candidates (default: all).',
    },
    ranks: {
      type: 'array',
      items: { type: 'integer', minimum: 1 },
      minItems: 1,
      default: [1, 2, 4, 8],
      description: 'Candidate LoRA ranks, ascending.',
    },
  },
};

export class __CLASS__ implements SearchSpace {
  readonly ranks: number[];

  constructor(private readonly options: __CLASS__Options = {}) {
    this.ranks = options.ranks ?? [1, 2, 4, 8];
    if (this.ranks.some((r, i) => !Number.isInteger(r) || r < 1 || (i > 0 && r <= this.ranks[i - 1]!)))
      throw new ConfigError(
        `got ${JSON.stringify(this.ranks)}, expected ascending positive integers`,
        undefined,
        'ranks',
      );
  }

  build(backbone: BackboneInfo, types: ModuleTypes): SpaceDefinition {
    const n = backbone.numLayers;
    const first = Math.max(0, n - (this.options.layers ?? n));
    const targets = Array.from({ length: n - first }, (_, i) => `layer.${first + i}.attn.[qv]`);
    return {
      name: '__NAME__',
      candidates: expandSpaceEntries([{ type: 'lora', targets }], backbone, types, this.ranks),
    };
  }
}
