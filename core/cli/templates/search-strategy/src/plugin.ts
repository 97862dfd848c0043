/** The plugin's entry point (package.json `peftkit.module`): the `__NAME__` search strategy. */
import { ContainerModule, contribute } from '@peftkit/api';
import { __CLASS__, type __CLASS__Options, __CLASS__OptionsSchema } from './__NAME__.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'search-strategy',
    name: '__NAME__',
    description:
      'One trial per module type of the space (its cheapest modules that fit the budget); keeps the best',
    optionsSchema: __CLASS__OptionsSchema,
    create: (options) => new __CLASS__(options as __CLASS__Options),
  });
});
