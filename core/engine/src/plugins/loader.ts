/**
 * Loading plugins: read each package's manifest, import its module, load the ContainerModule it
 * default-exports into a child of the registry's container, and register what it bound under
 * CONTRIBUTION. The engine's own contributions (reporters) go through the same path first.
 */
import { CONTRIBUTION, PluginError, type Contribution } from '@peftkit/api';
import { Container, ContainerModule, type ContainerModuleLoadOptions } from 'inversify';
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginErrorList } from '../config/errors.js';
import { builtinPluginRefs, type PluginRef } from './discovery.js';
import { ENGINE_MODULE, ENGINE_PLUGIN } from './engine-module.js';
import { readPluginPackage } from './manifest.js';
import { Registry, type PluginInfo } from './registry.js';

export interface LoadPluginsOptions {
  /**
   * Built-in plugins (package names or directories) instead of the default discovery (the
   * workspace scan, or PEFTKIT_BUILTIN_PLUGINS when set).
   */
  builtins?: readonly string[];
  /** Further plugins (a preset's `plugins:`), loaded after the built-ins in this order. */
  extra?: readonly PluginRef[];
  /** Working directory for built-in paths. */
  cwd?: string;
}

export interface PluginLoadResult {
  registry: Registry;
  /** Plugins that could not be loaded or registered; the others are registered. */
  failures: PluginError[];
}

/** Load the engine's contributions, the built-in plugins and `extra`; collect failures. */
export async function loadPlugins(opts: LoadPluginsOptions = {}): Promise<PluginLoadResult> {
  const registry = new Registry();
  const failures: PluginError[] = [];
  failures.push(...(await loadModule(registry, ENGINE_PLUGIN, ENGINE_MODULE)));
  const builtins = builtinPluginRefs(opts.builtins, process.env, opts.cwd);
  failures.push(...builtins.errors);
  const loaded = new Set<string>();
  for (const ref of [...builtins.refs, ...(opts.extra ?? [])]) {
    const real = safeRealpath(ref.dir);
    if (loaded.has(real)) continue; // a preset naming a built-in, say
    loaded.add(real);
    try {
      failures.push(...(await loadPluginDir(registry, ref)));
    } catch (e) {
      failures.push(e instanceof PluginError ? e : new PluginError(String(e), ref.ref, 'load', { cause: e }));
    }
  }
  return { registry, failures };
}

/** Throw the failures of a load (one PluginError, or a list naming each plugin). */
export function throwPluginFailures(failures: readonly PluginError[]): void {
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new PluginErrorList(failures);
}

async function loadPluginDir(registry: Registry, ref: PluginRef): Promise<PluginError[]> {
  const pkg = readPluginPackage(ref.dir, ref.ref);
  const moduleFile = resolve(ref.dir, pkg.manifest.module);
  if (!existsSync(moduleFile)) {
    throw new PluginError(
      `module ${pkg.manifest.module} (peftkit.module) not found in ${ref.dir}; is the plugin built?`,
      pkg.name,
      'import',
    );
  }
  let mod: { default?: unknown };
  const seconds = importTimeoutSeconds();
  let timer: NodeJS.Timeout | undefined;
  try {
    // A module whose top-level await never settles would otherwise end the process (exit code 13)
    // without a word; the timer keeps the process alive to say which plugin it was.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new PluginError(
              `importing ${moduleFile} did not finish within ${seconds} s (a top-level await that never settles?); PEFTKIT_PLUGIN_IMPORT_TIMEOUT sets the limit in seconds`,
              pkg.name,
              'import',
            ),
          ),
        seconds * 1000,
      );
    });
    mod = (await Promise.race([import(pathToFileURL(moduleFile).href), timeout])) as { default?: unknown };
  } catch (e) {
    if (e instanceof PluginError) throw e;
    throw new PluginError(`cannot import ${moduleFile}: ${(e as Error).message}`, pkg.name, 'import', {
      cause: e,
    });
  } finally {
    clearTimeout(timer);
  }
  const cm = ownContainerModule(mod.default, pkg.name, pkg.manifest.module);
  const info: PluginInfo = {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    dir: ref.dir,
    origin: ref.origin,
    manifest: pkg.manifest,
  };
  return loadModule(registry, info, cm);
}

/**
 * The plugin's default export as a ContainerModule of the engine's own inversify. A plugin may
 * resolve its own copy of @peftkit/api and inversify (installed in its own node_modules), so its
 * module is recognised by shape, not by class: any object with inversify 7/8's `load(options)`
 * is wrapped, and its `load` receives this container's `bind`, which `contribute` uses. A module of
 * inversify 6 or older (`registry` instead of `load`) is an incompatible copy: a clear error.
 */
function ownContainerModule(value: unknown, plugin: string, file: string): ContainerModule {
  const m = value as { load?: unknown; registry?: unknown } | null | undefined;
  if (m && typeof m === 'object' && typeof m.load === 'function') {
    const load = m.load.bind(m) as (options: ContainerModuleLoadOptions) => void | Promise<void>;
    return new ContainerModule((options) => load(options));
  }
  if (m && typeof m === 'object' && typeof m.registry === 'function') {
    throw new PluginError(
      `${file} default-exports a ContainerModule of an incompatible inversify (6 or older: it has registry() instead of load()); ` +
        "build it with the ContainerModule that @peftkit/api exports (import { ContainerModule, contribute } from '@peftkit/api')",
      plugin,
      'import',
    );
  }
  throw new PluginError(
    `${file} must default-export a ContainerModule (export default new ContainerModule(({ bind }) => ...), with ContainerModule from @peftkit/api)`,
    plugin,
    'import',
  );
}

/** Load one ContainerModule into its own child container and register its contributions. */
async function loadModule(registry: Registry, info: PluginInfo, cm: ContainerModule): Promise<PluginError[]> {
  const child = new Container({ parent: registry.container });
  try {
    await child.loadAsync(cm);
  } catch (e) {
    return [
      new PluginError(`its ContainerModule failed to load: ${(e as Error).message}`, info.name, 'load', {
        cause: e,
      }),
    ];
  }
  let bound: Contribution[];
  try {
    bound = child.isCurrentBound(CONTRIBUTION) ? child.getAll<Contribution>(CONTRIBUTION) : [];
  } catch (e) {
    return [
      new PluginError(`resolving its contributions failed: ${(e as Error).message}`, info.name, 'load', {
        cause: e,
      }),
    ];
  }
  return registry.register(info, bound);
}

/** Seconds a plugin's module may take to import: PEFTKIT_PLUGIN_IMPORT_TIMEOUT, default 60. */
export function importTimeoutSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.PEFTKIT_PLUGIN_IMPORT_TIMEOUT);
  return Number.isFinite(v) && v > 0 ? v : 60;
}

function safeRealpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
