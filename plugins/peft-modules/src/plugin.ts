/**
 * Contributes the built-in PEFT module types (kind `peft-module`). A type takes its options per
 * module instance (a preset's `options` of each module, validated against the type's `optionsSchema`),
 * not when it is created, so each contribution's own options schema is the empty object.
 */
import { ContainerModule, contribute } from '@peftkit/api';
import { builtinModuleTypes } from './index.js';
import { objectSchema } from './options.js';

export default new ContainerModule(({ bind }) => {
  for (const type of Object.values(builtinModuleTypes)) {
    contribute(bind, {
      kind: 'peft-module',
      name: type.name,
      description: type.description,
      optionsSchema: objectSchema(),
      create: () => type,
    });
  }
});
