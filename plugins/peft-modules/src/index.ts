/**
 * @peftkit/plugin-peft-modules: PEFT module types: LoRA, serial/parallel/low-rank adapters, prefix
 * tuning, BitFit, LNFit, full fine-tuning. Formulas, attachment points, parameter counts, options
 * and supernet behaviour of each are in docs/modules.md.
 */
import type { JsonSchema, PeftModuleType } from '@peftkit/api';
import { adapter, adapterOptionsSchema, parallelAdapter } from './adapter.js';
import { bitfit, bitfitOptionsSchema } from './bitfit.js';
import { full, fullOptionsSchema } from './full.js';
import { lnfit, lnfitOptionsSchema } from './lnfit.js';
import { lora, loraOptionsSchema } from './lora.js';
import { lowrankAdapter, lowrankAdapterOptionsSchema } from './lowrank-adapter.js';
import { prefix, prefixOptionsSchema } from './prefix.js';

export * from './adapter.js';
export * from './bitfit.js';
export * from './full.js';
export * from './lnfit.js';
export * from './lora.js';
export * from './lowrank-adapter.js';
export * from './prefix.js';
export { objectSchema } from './options.js';

/** Every module type of this package, by name. */
export const builtinModuleTypes: Readonly<Record<string, PeftModuleType>> = {
  lora,
  bitfit,
  lnfit,
  adapter,
  'parallel-adapter': parallelAdapter,
  'lowrank-adapter': lowrankAdapter,
  prefix,
  full,
};

/**
 * JSON Schema of each type's per-instance options (`options` of a module in a preset), by type
 * name. Each type declares the same schema as its `optionsSchema`, against which the engine
 * validates the options of every module and target of a configured architecture.
 */
export const moduleOptionsSchemas: Readonly<Record<string, JsonSchema>> = {
  lora: loraOptionsSchema,
  bitfit: bitfitOptionsSchema,
  lnfit: lnfitOptionsSchema,
  adapter: adapterOptionsSchema,
  'parallel-adapter': adapterOptionsSchema,
  'lowrank-adapter': lowrankAdapterOptionsSchema,
  prefix: prefixOptionsSchema,
  full: fullOptionsSchema,
};
