/** The plugin's entry point (package.json `peftkit.module`): the `__NAME__` importance estimator. */
import { ContainerModule, contribute } from '@peftkit/api';
import { __CLASS__, type __CLASS__Options, __CLASS__OptionsSchema } from './__NAME__.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'importance-estimator',
    name: '__NAME__',
    description: 'Smoothed root-mean-square of the weight-batch gradient per module',
    optionsSchema: __CLASS__OptionsSchema,
    create: (options) => new __CLASS__(options as __CLASS__Options),
  });
});
