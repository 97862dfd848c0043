/** The plugin's entry point (package.json `peftkit.module`): the `__NAME__` backbone. */
import { type ComponentRef, ContainerModule, contribute } from '@peftkit/api';
import { __CLASS__, __CLASS__OptionsSchema } from './__NAME__.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'backbone',
    name: '__NAME__',
    description: 'Another backbone whose tokenizer sees every text lower-cased',
    optionsSchema: __CLASS__OptionsSchema,
    // The wrapped backbone is created (and its options validated) by the engine.
    create: async (options, ctx) =>
      new __CLASS__(await ctx.resolve('backbone', options.backbone as ComponentRef)),
  });
});
