/** The plugin's entry point (package.json `peftkit.module`): the `__NAME__` training backend. */
import { type ComponentRef, ContainerModule, contribute } from '@peftkit/api';
import { __CLASS__, __CLASS__OptionsSchema } from './__NAME__.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'training-backend',
    name: '__NAME__',
    description: 'Another training backend, counting compiled programs, reuses and runs',
    optionsSchema: __CLASS__OptionsSchema,
    // The wrapped backend is created (and its options validated) by the engine.
    create: async (options, ctx) =>
      new __CLASS__(await ctx.resolve('training-backend', options.backend as ComponentRef), ctx.log),
  });
});
