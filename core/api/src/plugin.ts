/**
 * Plugins and contributions.
 *
 * A plugin is an npm package (or a local directory) whose package.json has a `peftkit` key:
 *
 *   "peftkit": {
 *     "apiVersion": "^0.1.0",                      // range of @peftkit/api versions it supports
 *     "module": "./dist/src/plugin.js",            // default-exports an inversify ContainerModule
 *     "contributes": { "importance-estimator": ["grad-norm"] }
 *   }
 *
 * The container module binds one `Contribution` per thing it contributes, under `CONTRIBUTION`:
 *
 *   export default new ContainerModule(({ bind }) => {
 *     contribute(bind, { kind: 'importance-estimator', name: 'grad-norm', description, optionsSchema,
 *                        create: (options) => new GradNormEstimator(options) });
 *   });
 *
 * Algorithm classes stay free of the container: `create` passes them their collaborators (resolved
 * through `ctx.resolve`) as constructor arguments. The engine checks at registration that what a
 * module binds matches what its package.json declares, that no name is registered twice, and that
 * the plugin's `apiVersion` range accepts this API version.
 */
import { ContainerModule, type ContainerModuleLoadOptions } from 'inversify';
import type { Backbone } from './backbone.js';
import type { BudgetScheduler } from './budget.js';
import type { TrainingBackend } from './backend.js';
import type { ExecutorFactory, Reporter } from './events.js';
import type { ImportanceEstimator } from './importance.js';
import type { PeftModuleType } from './peft.js';
import type { SearchSpace } from './space.js';
import type { Logger, SearchStrategy } from './strategy.js';
import type { Task } from './task.js';

/** Version of this API; plugins declare a semver range of it. */
export const API_VERSION = '0.1.0';

export interface ExtensionTypes {
  backbone: Backbone;
  task: Task;
  'peft-module': PeftModuleType;
  'search-space': SearchSpace;
  'importance-estimator': ImportanceEstimator;
  'budget-scheduler': BudgetScheduler;
  'search-strategy': SearchStrategy;
  'training-backend': TrainingBackend;
  reporter: Reporter;
  executor: ExecutorFactory;
}

export type ExtensionKind = keyof ExtensionTypes;

export const EXTENSION_KINDS: readonly ExtensionKind[] = [
  'backbone',
  'task',
  'peft-module',
  'search-space',
  'importance-estimator',
  'budget-scheduler',
  'search-strategy',
  'training-backend',
  'reporter',
  'executor',
];

/** A JSON Schema (draft 2020-12 subset) describing a contribution's options. */
export type JsonSchema = { [key: string]: unknown };

/** A reference to a configured component: a name and its options. */
export interface ComponentRef {
  name: string;
  options?: Record<string, unknown>;
}

export interface CreateContext {
  /**
   * Create another component by kind and reference (a strategy's importance estimator, say),
   * validating its options against its schema.
   */
  resolve<K extends ExtensionKind>(kind: K, ref: ComponentRef): Promise<ExtensionTypes[K]>;
  /** Directory that relative paths in options are resolved against (the preset's directory). */
  readonly baseDir: string;
  readonly log: Logger;
}

export interface Contribution<K extends ExtensionKind = ExtensionKind> {
  readonly kind: K;
  /** Lower-case, `-`-separated; unique per kind across all loaded plugins. */
  readonly name: string;
  readonly description: string;
  /**
   * JSON Schema of the options object; presets are validated against it before anything runs.
   * Use `additionalProperties: false` so that misspelled options are errors.
   */
  readonly optionsSchema: JsonSchema;
  create(
    options: Record<string, unknown>,
    ctx: CreateContext,
  ): ExtensionTypes[K] | Promise<ExtensionTypes[K]>;
}

/** Service identifier under which container modules bind their contributions (multi-binding). */
export const CONTRIBUTION = Symbol.for('peftkit.Contribution');

/** Bind a contribution in a container module. */
export function contribute<K extends ExtensionKind>(
  bind: ContainerModuleLoadOptions['bind'],
  c: Contribution<K>,
): void {
  bind<Contribution>(CONTRIBUTION).toConstantValue(c as unknown as Contribution);
}

/** The `peftkit` key of a plugin's package.json. */
export interface PluginManifest {
  apiVersion: string;
  module: string;
  contributes: Partial<Record<ExtensionKind, string[]>>;
}

/** Re-exported so that every plugin uses the one inversify instance of @peftkit/api. */
export { ContainerModule };
export type { ContainerModuleLoadOptions };
