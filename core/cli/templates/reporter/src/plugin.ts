/** The plugin's entry point (package.json `peftkit.module`): the `__NAME__` reporter. */
import { ContainerModule, contribute } from '@peftkit/api';
import { __CLASS__, __CLASS__OptionsSchema } from './__NAME__.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'reporter',
    name: '__NAME__',
    description: 'One summary line per run: its events counted by type, and its first validation metric',
    optionsSchema: __CLASS__OptionsSchema,
    create: () => new __CLASS__(),
  });
});
