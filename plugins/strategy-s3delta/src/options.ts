/** Options of the S3Delta strategy and their JSON Schema (defaults are the released code's). */
import type { JsonSchema } from '@peftkit/api';

export interface S3DeltaOptions {
  firstOrder?: boolean;
  virtualStep?: 'optimizer' | 'sgd';
  archLr?: number;
  archBetas?: [number, number];
  archWeightDecay?: number;
  archSchedule?: 'linear' | 'constant';
  archClipNorm?: number | null;
  beta?: number;
  rescale?: boolean;
  hessianScale?: number;
  selection?: 'best-validation' | 'last';
}

export const s3deltaOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    firstOrder: {
      type: 'boolean',
      default: false,
      description:
        'Drop the finite-difference Hessian term (2 instead of 4 gradient jobs per architecture update).',
    },
    virtualStep: {
      enum: ['optimizer', 'sgd'],
      default: 'optimizer',
      description:
        "optimizer: w' is one step of the weight optimiser from a copy of its state (S3Delta's virtual AdamW step); sgd: w' = w − ξ∇w (classic DARTS). ξ is the current weight learning rate in both.",
    },
    archLr: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 0.1,
      description: 'AdamW learning rate of the logits.',
    },
    archBetas: {
      type: 'array',
      items: { type: 'number' },
      minItems: 2,
      maxItems: 2,
      default: [0.9, 0.999],
      description: 'AdamW betas of the logit optimiser.',
    },
    archWeightDecay: {
      type: 'number',
      minimum: 0,
      default: 0,
      description: 'AdamW weight decay of the logits.',
    },
    archSchedule: {
      enum: ['linear', 'constant'],
      default: 'linear',
      description: 'Logit learning-rate schedule over the search steps (linear decay to 0, as the weights).',
    },
    archClipNorm: {
      type: ['number', 'null'],
      exclusiveMinimum: 0,
      default: 2,
      description: 'Gradient-norm clipping of the logit gradient (null: none).',
    },
    beta: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 1,
      description: 'Temperature β of the shifted sigmoid.',
    },
    rescale: {
      type: 'boolean',
      default: true,
      description: "Rescale p by its sum with the sum detached (S3Delta's shift_detach; forward-neutral).",
    },
    hessianScale: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 0.01,
      description: 'Finite-difference step of the Hessian-vector product: ε = hessianScale / ‖∇w′ L_val‖.',
    },
    selection: {
      enum: ['best-validation', 'last'],
      default: 'best-validation',
      description:
        'Derive from the logits of the best validation evaluation (as the released code) or from the last ones.',
    },
  },
};
