/**
 * The plugin's entry point (package.json `peftkit.module`): one contribution, the `grad-norm`
 * importance estimator. `create` receives the options from the preset, already validated against
 * the schema (with its defaults filled in), and passes them to the algorithm's constructor.
 */
import { ContainerModule, contribute } from '@peftkit/api';
import { type GradNormOptions, GradNormEstimator, gradNormOptionsSchema } from './grad-norm.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'importance-estimator',
    name: 'grad-norm',
    description:
      'Smoothed root-mean-square of the weight-batch gradient per module (parameter values not multiplied in)',
    optionsSchema: gradNormOptionsSchema,
    create: (options) => new GradNormEstimator(options as GradNormOptions),
  });
});
