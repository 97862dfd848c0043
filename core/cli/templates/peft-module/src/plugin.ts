/** The plugin's entry point (package.json `peftkit.module`): the `__NAME__` PEFT module type. */
import { ContainerModule, contribute } from '@peftkit/api';
import { __CLASS__ } from './__NAME__.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'peft-module',
    name: '__NAME__',
    description: __CLASS__.description,
    // Options come per module instance (validated against __CLASS__.optionsSchema), none at creation.
    optionsSchema: { type: 'object', additionalProperties: false, properties: {} },
    create: () => __CLASS__,
  });
});
