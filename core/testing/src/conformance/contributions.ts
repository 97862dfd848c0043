/**
 * Running a plugin's own contributions through the suites: load its ContainerModule the way the
 * engine does (into a container, collecting what it binds under CONTRIBUTION) and create
 * components through each contribution's `create`, with a CreateContext whose `resolve` creates
 * collaborators from the same contributions (and from any others given).
 *
 *   import plugin from '../src/plugin.js';
 *   const contributions = await loadContributions(plugin);
 *   for (const c of ofKind(contributions, 'importance-estimator'))
 *     describeImportanceEstimator(c.name, creator(contributions, c, {}));
 *
 * Options are passed to `create` as given: the engine's schema validation and defaults are not
 * applied here, so pass options in full where a plugin relies on schema defaults.
 */
import {
  CONTRIBUTION,
  type ComponentRef,
  type ContainerModule,
  type Contribution,
  type CreateContext,
  type ExtensionKind,
  type ExtensionTypes,
} from '@peftkit/api';
import { Container, ContainerModule as InversifyModule } from 'inversify';
import { quietLogger } from './common.js';

/** The contributions a plugin's ContainerModule binds, in binding order. */
export async function loadContributions(module: ContainerModule): Promise<Contribution[]> {
  const container = new Container();
  // Wrapped, as the engine does: the module may come from another copy of inversify.
  await container.loadAsync(new InversifyModule((options) => module.load(options)));
  return container.isBound(CONTRIBUTION) ? container.getAll<Contribution>(CONTRIBUTION) : [];
}

/** The contributions of one kind. */
export function ofKind<K extends ExtensionKind>(list: readonly Contribution[], kind: K): Contribution<K>[] {
  return list.filter((c) => c.kind === kind) as unknown as Contribution<K>[];
}

/** A CreateContext resolving references from `list`. */
export function createContext(list: readonly Contribution[], baseDir = process.cwd()): CreateContext {
  const ctx: CreateContext = {
    baseDir,
    log: quietLogger,
    async resolve<K extends ExtensionKind>(kind: K, ref: ComponentRef): Promise<ExtensionTypes[K]> {
      const c = list.find((x) => x.kind === kind && x.name === ref.name);
      if (!c) {
        const names = list.filter((x) => x.kind === kind).map((x) => x.name);
        throw new Error(
          `no ${kind} "${ref.name}" among the given contributions (${names.join(', ') || 'none'})`,
        );
      }
      return (await c.create(ref.options ?? {}, ctx)) as ExtensionTypes[K];
    },
  };
  return ctx;
}

/** A factory (for a suite) that creates `contribution` with `options` through its `create`. */
export function creator<K extends ExtensionKind>(
  list: readonly Contribution[],
  contribution: Contribution<K>,
  options: Record<string, unknown> = {},
  baseDir?: string,
): () => Promise<ExtensionTypes[K]> {
  return async () =>
    (await contribution.create(structuredClone(options), createContext(list, baseDir))) as ExtensionTypes[K];
}
