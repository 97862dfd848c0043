/** The plugin's entry point (package.json `peftkit.module`): the `__NAME__` task. */
import { ContainerModule, contribute } from '@peftkit/api';
import { __CLASS__, __CLASS__OptionsSchema } from './__NAME__.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'task',
    name: '__NAME__',
    description: 'Built-in movie-review sentences with their polarity, split by position',
    optionsSchema: __CLASS__OptionsSchema,
    create: () => new __CLASS__(),
  });
});
