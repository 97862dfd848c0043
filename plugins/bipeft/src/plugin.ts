/**
 * Container module of the BIPEFT plugin: the S1, S2 and mixed search spaces, the sensitivity importance
 * estimator, the budget scheduler and the search strategy, each behind its extension point and
 * replaceable one at a time (the strategy's `importance` and `scheduler` options name any
 * registered estimator and scheduler).
 */
import { type ComponentRef, ContainerModule, contribute } from '@peftkit/api';
import { BipeftBudgetScheduler, type SchedulerOptions, schedulerOptionsSchema } from './scheduler.js';
import { BipeftSensitivity, type SensitivityOptions, sensitivityOptionsSchema } from './sensitivity.js';
import {
  MIXED_ENTRIES,
  PatternSpace,
  S1_ENTRIES,
  S2_ENTRIES,
  type SpaceOptions,
  spaceOptionsSchema,
} from './spaces.js';
import { type BipeftOptions, bipeftOptionsSchema } from './options.js';
import { BipeftStrategy } from './strategy.js';

const componentRef = (what: string, def: string, kind: string) => ({
  'x-peftkit-component': kind,
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', description: `Registered ${what} name.` },
    options: { type: 'object', description: `Options of the ${what}.` },
  },
  default: { name: def },
  description: `The ${what} the strategy uses (default ${def}).`,
});

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'search-space',
    name: 's1',
    description:
      'S3Delta mixed space: LoRA on attention/FFN projections, low-rank adapters after sublayers, BitFit, LNFit',
    optionsSchema: spaceOptionsSchema,
    create: (o) => new PatternSpace('s1', S1_ENTRIES, o as SpaceOptions),
  });
  contribute(bind, {
    kind: 'search-space',
    name: 's2',
    description: 'AutoPEFT space: serial adapter, parallel adapter and (gated) prefix per layer',
    optionsSchema: spaceOptionsSchema,
    create: (o) => new PatternSpace('s2', S2_ENTRIES, o as SpaceOptions),
  });
  contribute(bind, {
    kind: 'search-space',
    name: 'mixed',
    description:
      "Every manual baseline's module type at its default positions: LoRA on the projections, serial adapters after both sublayers, prefixes, BitFit, LNFit",
    optionsSchema: spaceOptionsSchema,
    create: (o) => new PatternSpace('mixed', MIXED_ENTRIES, o as SpaceOptions),
  });
  contribute(bind, {
    kind: 'importance-estimator',
    name: 'bipeft-sensitivity',
    description:
      'Smoothed |θ·∇θ| module sensitivity from weight and architecture batches with the cosine-alignment term',
    optionsSchema: sensitivityOptionsSchema,
    create: (o) => new BipeftSensitivity(o as SensitivityOptions),
  });
  contribute(bind, {
    kind: 'budget-scheduler',
    name: 'bipeft-budget',
    description:
      'Budget-aware trigger, progressive pruning reaching the budget after T rounds, rank freezing by dimension stability',
    optionsSchema: schedulerOptionsSchema,
    create: (o) => new BipeftBudgetScheduler(o as SchedulerOptions),
  });
  contribute(bind, {
    kind: 'search-strategy',
    name: 'bipeft',
    description: 'BIPEFT: iterative binary/rank search with budget-guided early selection',
    optionsSchema: {
      ...bipeftOptionsSchema,
      properties: {
        ...(bipeftOptionsSchema.properties as object),
        importance: componentRef('importance estimator', 'bipeft-sensitivity', 'importance-estimator'),
        scheduler: componentRef('budget scheduler', 'bipeft-budget', 'budget-scheduler'),
      },
    },
    async create(options, ctx) {
      const { importance, scheduler, ...rest } = options as BipeftOptions & {
        importance?: ComponentRef;
        scheduler?: ComponentRef;
      };
      return new BipeftStrategy(
        await ctx.resolve('importance-estimator', importance ?? { name: 'bipeft-sensitivity' }),
        await ctx.resolve('budget-scheduler', scheduler ?? { name: 'bipeft-budget' }),
        rest,
      );
    },
  });
});
