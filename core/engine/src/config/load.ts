/**
 * From command-line arguments to a validated configuration and the registry that created it:
 *
 *   const { config, registry } = await loadConfig({ preset: 'quickstart', sets: ['seeds=[1,2]'] });
 *
 * Steps: load the preset through its `extends` chain, apply `--set` overrides, resolve the
 * preset's extra plugins, load all plugins, validate everything, fill in defaults.
 */
import { ConfigError } from '@peftkit/api';
import { dirname, resolve } from 'node:path';
import type { Problem } from '../schema/problems.js';
import { displayPath } from '../util/paths.js';
import { loadPlugins, throwPluginFailures } from '../plugins/loader.js';
import { resolvePluginRef, similarPlugins, type PluginRef } from '../plugins/discovery.js';
import type { Registry } from '../plugins/registry.js';
import { isPlainObject, type Origins } from './origins.js';
import {
  applyOverrides,
  emptySource,
  isPathRef,
  loadPreset,
  type PresetLookup,
  type PresetSource,
} from './preset.js';
import type { RunConfig } from './types.js';
import { baseDirOf, validateConfig } from './validate.js';
import { parseYamlWithOrigins, readConfigText } from './yaml.js';

export interface LoadConfigOptions extends PresetLookup {
  /** Preset name or path; without one, the configuration comes from `sets` alone. */
  preset?: string;
  /** `path.to.field=value` overrides, applied in order after the preset. */
  sets?: readonly string[];
  /** Built-in plugins to load instead of the default discovery (see loadPlugins). */
  builtins?: readonly string[];
}

export interface LoadedConfig {
  config: RunConfig;
  registry: Registry;
  /** The merged preset before validation, with the origin of every value. */
  source: PresetSource;
  origins: Origins;
}

/** Load, merge, override and validate; throws ConfigError (all problems) or PluginError. */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const lookup = { cwd, presetDirs: opts.presetDirs };
  let source = opts.preset !== undefined ? loadPreset(opts.preset, lookup) : emptySource(cwd);
  source = applyOverrides(source, opts.sets ?? []);
  return completeLoad(source, opts.builtins);
}

/**
 * Load a resolved configuration written earlier (a run's config.json, for `--resume` and `eval`):
 * its plugins are loaded again and it is validated again against the registry.
 */
export async function loadResolvedConfig(
  file: string,
  opts: { cwd?: string; builtins?: readonly string[]; sets?: readonly string[] } = {},
): Promise<LoadedConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const shown = displayPath(file, cwd);
  const parsed = parseYamlWithOrigins(readConfigText(file, shown), shown, dirname(resolve(file)));
  if (!isPlainObject(parsed.value)) throw new ConfigError('expected a configuration object', shown);
  const output = parsed.value.output;
  const name = isPlainObject(output) && typeof output.name === 'string' ? output.name : undefined;
  const source = applyOverrides(
    { value: parsed.value, origins: parsed.origins, files: [resolve(file)], name, cwd },
    opts.sets ?? [],
  );
  return completeLoad(source, opts.builtins);
}

async function completeLoad(
  source: PresetSource,
  builtins: readonly string[] | undefined,
): Promise<LoadedConfig> {
  const plugins = resolveConfigPlugins(source);
  const { registry, failures } = await loadPlugins({ builtins, extra: plugins.refs, cwd: source.cwd });
  throwPluginFailures(failures);
  const config = validateConfig(source, registry, {
    pluginDirs: plugins.refs.map((r) => r.dir),
    problems: plugins.problems,
  });
  return { config, registry, source, origins: source.origins };
}

/**
 * Resolve the `plugins:` field: package names from the directory of the preset that names them,
 * paths relative to it. Unresolvable entries become problems (with a hint at similar names).
 */
export function resolveConfigPlugins(source: PresetSource): { refs: PluginRef[]; problems: Problem[] } {
  const refs: PluginRef[] = [];
  const problems: Problem[] = [];
  const list = source.value.plugins;
  if (!Array.isArray(list)) return { refs, problems };
  list.forEach((ref, i) => {
    if (typeof ref !== 'string' || ref === '') return; // the schema reports it
    const baseDir = baseDirOf(source.origins, ['plugins', i], source.cwd);
    const dir = resolvePluginRef(ref, baseDir);
    if (dir) {
      refs.push({ ref, dir, origin: 'config' });
      return;
    }
    const close = similarPlugins(ref, baseDir, 2);
    if (isPathRef(ref)) {
      problems.push({
        path: ['plugins', i],
        message: `plugin directory ${JSON.stringify(ref)} not found (expected a directory with a package.json, relative to ${baseDir})`,
        ...(close.length > 0
          ? { hint: `similar installed plugins: ${close.map((c) => JSON.stringify(c)).join(', ')}` }
          : {}),
      });
    } else {
      problems.push({
        path: ['plugins', i],
        message: `plugin package ${JSON.stringify(ref)} is not installed (expected an npm package visible from ${baseDir}, or a path starting with ./)`,
        hint:
          close.length > 0
            ? `did you mean ${close.map((c) => JSON.stringify(c)).join(' or ')}?`
            : `install it with npm install ${ref}`,
      });
    }
  });
  return { refs, problems };
}
