/**
 * Container module of the AdaLoRA plugin: the `adalora` PEFT module type (SVD-form update with
 * rank-mask-able triplets) and the `adalora` search strategy, which trains the final model itself.
 */
import { ContainerModule, contribute } from '@peftkit/api';
import { adalora } from './module.js';
import { type AdaLoraOptions, AdaLoraStrategy, adaloraOptionsSchema } from './strategy.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'peft-module',
    name: adalora.name,
    description: adalora.description,
    // A module type takes its options per module instance (adaloraModuleOptionsSchema), not at creation.
    optionsSchema: { type: 'object', additionalProperties: false, properties: {} },
    create: () => adalora,
  });
  contribute(bind, {
    kind: 'search-strategy',
    name: 'adalora',
    description:
      'AdaLoRA: SVD-form LoRA trained with importance-based triplet masking on a cubic budget schedule down to the budget; trains the final model itself',
    optionsSchema: adaloraOptionsSchema,
    create: (o) => new AdaLoraStrategy(o as AdaLoraOptions),
  });
});
