/** The plugin's entry point (package.json `peftkit.module`): the `__NAME__` budget scheduler. */
import { ContainerModule, contribute } from '@peftkit/api';
import { __CLASS__, type __CLASS__Options, __CLASS__OptionsSchema } from './__NAME__.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'budget-scheduler',
    name: '__NAME__',
    description:
      'Prunes the least important modules in equal steps of the excess over a fixed number of rounds',
    optionsSchema: __CLASS__OptionsSchema,
    create: (options) => new __CLASS__(options as __CLASS__Options),
  });
});
