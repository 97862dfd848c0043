/** The plugin's entry point (package.json `peftkit.module`): the `__NAME__` executor. */
import { ContainerModule, contribute } from '@peftkit/api';
import { __CLASS__, __CLASS__OptionsSchema } from './__NAME__.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'executor',
    name: '__NAME__',
    description: 'Runs jobs one after another in this process and reports how long each took',
    optionsSchema: __CLASS__OptionsSchema,
    create: (_options, ctx) => new __CLASS__(ctx.log),
  });
});
