/**
 * Options of the BIPEFT strategy and their schema: the search mode and its ablations, the Gumbel
 * relaxation, early selection, the architecture optimiser, the temperature schedule, folding,
 * per-epoch evaluation and budget filling (docs/bipeft.md, "Options").
 */
import type { JsonSchema } from '@peftkit/api';

export type SearchMode = 'iterative' | 'entangled' | 'binary-then-dimension' | 'dimension-then-binary';

export interface BipeftOptions {
  mode?: SearchMode;
  gumbel?: boolean;
  earlySelection?: boolean;
  pruneBeginEpoch?: number;
  archLr?: number;
  archBetas?: [number, number];
  archWeightDecay?: number;
  regularization?: number;
  tauStart?: number;
  tauEnd?: number;
  /** Fold pruned/frozen modules into a smaller program once this fraction of it changed. */
  foldFraction?: number;
  evaluateEachEpoch?: boolean;
  fillBudget?: boolean;
}

export const bipeftOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: {
      enum: ['iterative', 'entangled', 'binary-then-dimension', 'dimension-then-binary'],
      default: 'iterative',
      description:
        'iterative: alternate binary and dimension steps (BIPEFT); the others are the ablations of spec §4.1.',
    },
    gumbel: {
      type: 'boolean',
      default: true,
      description: 'Hard Gumbel-softmax samples (false: plain softmax weights, ablation).',
    },
    earlySelection: {
      type: 'boolean',
      default: true,
      description:
        'Budget-guided early selection: prune, freeze ranks and stop early (false: run all epochs, argmax architecture).',
    },
    pruneBeginEpoch: {
      type: 'integer',
      minimum: 0,
      default: 1,
      description: 'Epoch from which the trigger may fire (E0).',
    },
    archLr: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 0.01,
      description: 'Adam learning rate of the architecture logits.',
    },
    archBetas: {
      type: 'array',
      items: { type: 'number' },
      minItems: 2,
      maxItems: 2,
      default: [0.5, 0.999],
      description: 'Adam betas of the architecture optimiser.',
    },
    archWeightDecay: {
      type: 'number',
      minimum: 0,
      default: 1e-4,
      description: 'L2 weight decay of the architecture logits.',
    },
    regularization: {
      type: 'number',
      minimum: 0,
      default: 0.01,
      description: 'Weight of the mean |softmax(θ) − θ| regulariser.',
    },
    tauStart: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 5,
      description: 'Gumbel temperature in the first epoch.',
    },
    tauEnd: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 1,
      description: 'Temperature approached in the last epoch (τ_e = start − (start − end)·e/E).',
    },
    foldFraction: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.2,
      description: 'Recompile a smaller program once this fraction of its modules was pruned or rank-frozen.',
    },
    evaluateEachEpoch: {
      type: 'boolean',
      default: true,
      description: 'Score the derived sub-network on the validation split after every epoch.',
    },
    fillBudget: {
      type: 'boolean',
      default: false,
      description:
        "After derivation, put pruned modules back (at the rank they had) in order of the importance they had when pruned, while the exact count fits the budget (false: the spec's derivation, keep mask and argmax ranks, which can leave much of the budget unused).",
    },
  },
};
