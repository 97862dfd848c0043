/** Container module of the manual-baseline plugin: the `manual` search strategy. */
import { ContainerModule, contribute } from '@peftkit/api';
import { type ManualOptions, ManualStrategy, manualOptionsSchema } from './strategy.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'search-strategy',
    name: 'manual',
    description:
      'Manual PEFT at a budget: one module type at its usual places with the largest uniform rank that fits (or a fixed rank), full fine-tuning, or the frozen encoder with a linear head',
    optionsSchema: manualOptionsSchema,
    create: (o) => new ManualStrategy(o as unknown as ManualOptions),
  });
});
