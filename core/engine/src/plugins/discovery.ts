/**
 * Where plugins come from. Built-ins are the repository's own plugin packages: in a checkout they
 * are found by scanning plugins/<dir>/package.json for a `peftkit` manifest; an installed engine
 * resolves BUILTIN_PLUGIN_PACKAGES from its node_modules. Either list can be replaced: by the
 * `builtins` option, or by the PEFTKIT_BUILTIN_PLUGINS environment variable (comma-separated
 * package names or directories; empty for none). Extra plugins come from a preset's `plugins:`.
 */
import { PluginError } from '@peftkit/api';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isPathRef } from '../config/preset.js';
import { ENGINE_DIR, nodeModulesDirs, workspaceRoot } from '../util/paths.js';
import { closestMatches } from '../util/suggest.js';

/** The repository's plugin packages (kept equal to the workspace scan by a test). */
export const BUILTIN_PLUGIN_PACKAGES: readonly string[] = [
  '@peftkit/plugin-bipeft',
  '@peftkit/plugin-executor-bullmq',
  '@peftkit/plugin-hf',
  '@peftkit/plugin-onnxruntime',
  '@peftkit/plugin-peft-modules',
  '@peftkit/plugin-strategy-adalora',
  '@peftkit/plugin-strategy-autopeft',
  '@peftkit/plugin-strategy-manual',
  '@peftkit/plugin-strategy-random',
  '@peftkit/plugin-strategy-s3delta',
  '@peftkit/plugin-tasks',
  '@peftkit/plugin-use-lite',
];

export const BUILTINS_ENV = 'PEFTKIT_BUILTIN_PLUGINS';

/** A plugin to load: where it is, and how it was named. */
export interface PluginRef {
  /** As written (package name or path), for errors. */
  ref: string;
  /** Package directory. */
  dir: string;
  origin: 'builtin' | 'config';
}

/** Plugin packages under `<root>/plugins/` (directories whose package.json has a `peftkit` key). */
export function scanWorkspacePlugins(root: string): Array<{ name: string; dir: string }> {
  const dir = join(root, 'plugins');
  if (!existsSync(dir)) return [];
  const out: Array<{ name: string; dir: string }> = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const pkgFile = join(dir, entry.name, 'package.json');
    if (!existsSync(pkgFile)) continue;
    try {
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { name?: unknown; peftkit?: unknown };
      if (pkg.peftkit !== undefined && typeof pkg.name === 'string')
        out.push({ name: pkg.name, dir: join(dir, entry.name) });
    } catch {
      out.push({ name: entry.name, dir: join(dir, entry.name) }); // loading reports the broken package.json
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The directory of an installed package, looked up like Node does from `fromDir`. */
export function resolvePackageDir(name: string, fromDir: string): string | undefined {
  for (const nm of nodeModulesDirs(fromDir)) {
    const dir = join(nm, ...name.split('/'));
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return undefined;
}

/** Names of installed packages visible from `fromDir` that look like peftkit plugins (for hints). */
export function installedPluginNames(fromDir: string): string[] {
  const names = new Set<string>();
  const consider = (dir: string) => {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        peftkit?: unknown;
        keywords?: unknown;
      };
      const keyworded = Array.isArray(pkg.keywords) && pkg.keywords.includes('peftkit-plugin');
      if (typeof pkg.name === 'string' && (pkg.peftkit !== undefined || keyworded)) names.add(pkg.name);
    } catch {
      /* not a package */
    }
  };
  for (const nm of nodeModulesDirs(fromDir)) {
    if (!existsSync(nm)) continue;
    for (const entry of readdirSync(nm)) {
      if (entry.startsWith('.')) continue;
      if (entry.startsWith('@')) {
        for (const sub of safeReaddir(join(nm, entry))) consider(join(nm, entry, sub));
      } else consider(join(nm, entry));
    }
  }
  return [...names].sort();
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Plugins similar to a reference that resolves to nothing, best first: installed plugin packages
 * (and the built-ins) whose name is close to the reference's last segment, and for a path also
 * plugin directories next to where it points (written as the path should have been).
 */
export function similarPlugins(ref: string, baseDir: string, max = 3): string[] {
  const last = (name: string) =>
    name
      .replace(/[\\/]+$/, '')
      .split(/[\\/]/)
      .pop() ?? name;
  const byLast = new Map<string, string>();
  for (const name of [...installedPluginNames(baseDir), ...BUILTIN_PLUGIN_PACKAGES])
    if (!byLast.has(last(name))) byLast.set(last(name), name);
  if (isPathRef(ref)) {
    const trimmed = ref.replace(/[\\/]+$/, '');
    const parent = dirname(resolve(baseDir, trimmed));
    for (const entry of safeReaddir(parent)) {
      if (!existsSync(join(parent, entry, 'package.json'))) continue;
      const written = join(dirname(trimmed), entry);
      byLast.set(entry, isPathRef(written) ? written : `./${written}`);
    }
  }
  return closestMatches(last(ref), byLast.keys(), max).map((k) => byLast.get(k)!);
}

/**
 * Resolve a plugin reference: a path (relative to `baseDir`) or a package name (looked up from
 * `baseDir`). Undefined when nothing is there.
 */
export function resolvePluginRef(ref: string, baseDir: string): string | undefined {
  if (isPathRef(ref)) {
    const dir = resolve(baseDir, ref);
    return existsSync(dir) ? dir : undefined;
  }
  return resolvePackageDir(ref, baseDir);
}

/** The built-in plugins to load, per the option, the environment, the workspace or the fixed list. */
export function builtinPluginRefs(
  override?: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): { refs: PluginRef[]; errors: PluginError[] } {
  let names: readonly string[] | undefined = override;
  if (names === undefined && env[BUILTINS_ENV] !== undefined) {
    names = env[BUILTINS_ENV]!.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  if (names === undefined) {
    const root = workspaceRoot();
    if (root)
      return {
        refs: scanWorkspacePlugins(root).map((p) => ({ ref: p.name, dir: p.dir, origin: 'builtin' })),
        errors: [],
      };
    names = BUILTIN_PLUGIN_PACKAGES;
  }
  const refs: PluginRef[] = [];
  const errors: PluginError[] = [];
  for (const name of names) {
    const dir = isPathRef(name) ? resolvePluginRef(name, cwd) : resolvePackageDir(name, ENGINE_DIR);
    if (dir) refs.push({ ref: name, dir, origin: 'builtin' });
    else errors.push(new PluginError('built-in plugin not found (is it installed?)', name, 'discover'));
  }
  return { refs, errors };
}
