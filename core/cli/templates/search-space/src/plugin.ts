/** The plugin's entry point (package.json `peftkit.module`): the `__NAME__` search space. */
import { ContainerModule, contribute } from '@peftkit/api';
import { __CLASS__, type __CLASS__Options, __CLASS__OptionsSchema } from './__NAME__.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'search-space',
    name: '__NAME__',
    description: 'LoRA on the attention query and value projections of the top layers',
    optionsSchema: __CLASS__OptionsSchema,
    create: (options) => new __CLASS__(options as __CLASS__Options),
  });
});
