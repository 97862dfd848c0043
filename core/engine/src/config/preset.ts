/**
 * Presets: YAML files under presets/ (named by file stem) that may `extends` another preset by
 * name or relative path. Objects deep-merge (the extending file wins key by key); arrays and
 * scalars replace. `--set path=value` overrides apply last; values are parsed as YAML.
 */
import { ConfigError } from '@peftkit/api';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { displayPath, ENGINE_DIR, workspaceRoot } from '../util/paths.js';
import { closestMatches, showValue } from '../util/suggest.js';
import {
  COMMAND_LINE,
  formatOrigin,
  isPlainObject,
  Origins,
  type ConfigPath,
  type PathSegment,
} from './origins.js';
import { parseYamlWithOrigins, readConfigText, UNSAFE_KEYS, unsafeKeyMessage } from './yaml.js';

export const PRESET_EXTENSIONS = ['.yaml', '.yml', '.json'] as const;

/** A preset merged through its `extends` chain (and overrides), not yet validated. */
export interface PresetSource {
  /** The merged fields (no `extends`). */
  value: Record<string, unknown>;
  origins: Origins;
  /** Files of the chain, the named preset first, then what it extends. */
  files: string[];
  /** The named preset's file stem (the default run name). */
  name?: string;
  /** Working directory relative paths on the command line resolve against. */
  cwd: string;
}

export interface PresetLookup {
  cwd?: string;
  /**
   * Directories searched for presets by name; default: ./presets, then the repository's presets/
   * (an installed engine: the copy packed into it).
   */
  presetDirs?: readonly string[];
}

export function defaultPresetDirs(cwd = process.cwd()): string[] {
  const dirs = [resolve(cwd, 'presets')];
  const root = workspaceRoot();
  // `npm run pack` copies the repository's presets/ into the engine package.
  dirs.push(root ? join(root, 'presets') : join(ENGINE_DIR, 'presets'));
  return [...new Set(dirs)];
}

/** Whether a preset or plugin reference is a path (else a name; `@scope/name` is a package name). */
export function isPathRef(ref: string): boolean {
  if (ref.startsWith('.') || isAbsolute(ref)) return true;
  if (ref.startsWith('@')) return false;
  return ref.includes('/') || ref.includes('\\') || /\.(ya?ml|json)$/i.test(ref);
}

export interface PresetSummary {
  name: string;
  file: string;
  description?: string;
  extends?: string;
  /** Why the file could not be read, if it could not. */
  error?: string;
}

/** Presets found in `dirs` (a name in an earlier directory hides the same name in later ones). */
export function listPresets(lookup: PresetLookup = {}): PresetSummary[] {
  const cwd = lookup.cwd ?? process.cwd();
  const out = new Map<string, PresetSummary>();
  for (const dir of lookup.presetDirs ?? defaultPresetDirs(cwd)) {
    if (!isDir(dir)) continue;
    for (const entry of readdirSync(dir).sort()) {
      const ext = extname(entry);
      if (!(PRESET_EXTENSIONS as readonly string[]).includes(ext)) continue;
      const name = basename(entry, ext);
      if (out.has(name)) continue;
      const file = join(dir, entry);
      const summary: PresetSummary = { name, file: displayPath(file, cwd) };
      try {
        const v = parseYamlWithOrigins(readConfigText(file, summary.file), summary.file).value;
        if (isPlainObject(v)) {
          if (typeof v.description === 'string') summary.description = v.description;
          if (typeof v.extends === 'string') summary.extends = v.extends;
        } else summary.error = 'not a mapping of fields';
      } catch (e) {
        summary.error = (e as Error).message;
      }
      out.set(name, summary);
    }
  }
  return [...out.values()];
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Find a preset by name (searching `fromDir` first, then the preset directories) or by path. */
function findPreset(
  ref: string,
  fromDir: string | undefined,
  lookup: PresetLookup,
): { file: string } | { message: string; hint?: string } {
  const cwd = lookup.cwd ?? process.cwd();
  if (isPathRef(ref)) {
    const file = resolve(fromDir ?? cwd, ref);
    if (existsSync(file) && !isDir(file)) return { file };
    // `--preset ./presets/mine` finds mine.yaml, as a name would.
    for (const ext of PRESET_EXTENSIONS)
      if (existsSync(file + ext) && !isDir(file + ext)) return { file: file + ext };
    return { message: `preset file ${JSON.stringify(ref)} not found (looked for ${displayPath(file, cwd)})` };
  }
  const dirs = [...(fromDir ? [fromDir] : []), ...(lookup.presetDirs ?? defaultPresetDirs(cwd))];
  for (const dir of dirs) {
    for (const ext of PRESET_EXTENSIONS) {
      const file = join(dir, ref + ext);
      if (existsSync(file)) return { file };
    }
  }
  const known = listPresets({ cwd, presetDirs: [...new Set(dirs)] }).map((p) => p.name);
  const close = closestMatches(ref, known, 2);
  return {
    message: `unknown preset ${JSON.stringify(ref)} (expected the name of a file in ${[...new Set(dirs)].map((d) => displayPath(d, cwd)).join(', ')}, or a path)`,
    hint:
      (close.length > 0 ? `did you mean ${close.map((c) => JSON.stringify(c)).join(' or ')}? ` : '') +
      (known.length > 0 ? `available: ${known.join(', ')}` : 'no presets found'),
  };
}

/** Load a preset by name or path, following `extends`. */
export function loadPreset(ref: string, lookup: PresetLookup = {}): PresetSource {
  const cwd = lookup.cwd ?? process.cwd();
  const chain = loadChain(ref, undefined, [], undefined, lookup);
  const top = chain.files[0]!;
  return {
    value: chain.value,
    origins: chain.origins,
    files: chain.files,
    name: basename(top, extname(top)),
    cwd,
  };
}

/** An empty source, for configurations given entirely with `--set`. */
export function emptySource(cwd = process.cwd()): PresetSource {
  return { value: {}, origins: new Origins(), files: [], cwd };
}

interface Chain {
  value: Record<string, unknown>;
  origins: Origins;
  files: string[];
}

function loadChain(
  ref: string,
  fromDir: string | undefined,
  stack: readonly string[],
  extendsAt: string | undefined,
  lookup: PresetLookup,
): Chain {
  const cwd = lookup.cwd ?? process.cwd();
  const found = findPreset(ref, fromDir, lookup);
  if (!('file' in found)) {
    throw new ConfigError(
      found.message,
      extendsAt ?? COMMAND_LINE.file,
      extendsAt ? 'extends' : undefined,
      found.hint,
    );
  }
  const file = found.file;
  const shown = displayPath(file, cwd);
  if (stack.includes(file)) {
    const cycle = [...stack.slice(stack.indexOf(file)), file].map((f) => displayPath(f, cwd)).join(' → ');
    throw new ConfigError(`extends cycle: ${cycle}`, extendsAt, 'extends', 'remove one of the extends links');
  }
  const parsed = parseYamlWithOrigins(readConfigText(file, shown), shown, dirname(file));
  if (!isPlainObject(parsed.value)) {
    throw new ConfigError(
      `a preset must be a mapping of fields (backbone:, task:, ...), got ${showValue(parsed.value)}`,
      shown,
    );
  }
  const value = parsed.value;
  const origins = parsed.origins;
  if (!('extends' in value)) return { value, origins, files: [file] };

  const parentRef = value.extends;
  const at = formatOrigin(origins.get(['extends'])!);
  if (typeof parentRef !== 'string' || parentRef === '') {
    throw new ConfigError(
      `expected the name or relative path of a preset, got ${showValue(parentRef)}`,
      at,
      'extends',
    );
  }
  const parent = loadChain(parentRef, dirname(file), [...stack, file], at, lookup);
  delete value.extends;
  origins.deleteSubtree(['extends']);
  const merged = mergeSources(parent, { value, origins });
  return { value: merged.value, origins: merged.origins, files: [file, ...parent.files] };
}

/** Deep-merge `over` onto `base`: objects merge key by key; arrays and scalars replace. */
export function mergeSources(
  base: { value: Record<string, unknown>; origins: Origins },
  over: { value: Record<string, unknown>; origins: Origins },
): { value: Record<string, unknown>; origins: Origins } {
  const origins = base.origins.clone();
  const value = mergeValue(base.value, over.value, [], origins, over.origins) as Record<string, unknown>;
  return { value, origins };
}

function mergeValue(
  base: unknown,
  over: unknown,
  path: PathSegment[],
  origins: Origins,
  overOrigins: Origins,
): unknown {
  if (isPlainObject(base) && isPlainObject(over)) {
    const own = overOrigins.get(path);
    if (own) origins.set(path, own);
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over))
      out[k] = mergeValue(base[k], v, [...path, k], origins, overOrigins);
    return out;
  }
  origins.replaceSubtree(path, overOrigins);
  return structuredClone(over);
}

/** Parse `path.to.field=value` (value as a YAML scalar or flow collection). */
/** Where an override is, for errors: `command line (--set a.b=1)`, a long argument shortened. */
function overrideOrigin(arg: string): string {
  return `command line (--set ${arg.length > 80 ? `${arg.slice(0, 79)}…` : arg})`;
}

export function parseOverride(arg: string): { path: PathSegment[]; value: unknown } {
  const eq = arg.indexOf('=');
  const where = overrideOrigin(arg);
  if (eq <= 0) {
    throw new ConfigError(`--set expects path.to.field=value, got ${JSON.stringify(arg)}`, COMMAND_LINE.file);
  }
  const pathText = arg.slice(0, eq).trim();
  const path: PathSegment[] = [];
  for (const part of pathText.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m || (m[1] === '' && m[2] === '')) {
      throw new ConfigError(
        `--set path ${JSON.stringify(pathText)} has an empty or malformed segment`,
        where,
      );
    }
    if (UNSAFE_KEYS.includes(m[1]!)) throw new ConfigError(unsafeKeyMessage(m[1]!), where, pathText);
    if (m[1] !== '') path.push(m[1]!);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) path.push(Number(idx[1]));
  }
  if (path[0] === 'extends') {
    throw new ConfigError(
      'extends cannot be set on the command line',
      where,
      'extends',
      'choose the preset with --preset',
    );
  }
  let value: unknown;
  try {
    // Through the bounded parser: the same limits and refused keys as a preset file.
    value = parseYamlWithOrigins(arg.slice(eq + 1), where).value;
  } catch (e) {
    let message = (e as Error).message;
    if (message.startsWith(where)) message = message.slice(where.length).replace(/^(:\d+)?: /, '');
    throw new ConfigError(`invalid value: ${message.split('\n')[0]}`, where, pathText);
  }
  return { path, value };
}

/** Apply `--set` overrides in order; their values' origin is the command line. */
export function applyOverrides(source: PresetSource, sets: readonly string[]): PresetSource {
  if (sets.length === 0) return source;
  const value = structuredClone(source.value);
  const origins = source.origins.clone();
  for (const arg of sets) {
    const { path, value: v } = parseOverride(arg);
    setAt(value, path, v, origins, arg);
  }
  return { ...source, value, origins };
}

function setAt(
  root: Record<string, unknown>,
  path: PathSegment[],
  v: unknown,
  origins: Origins,
  arg: string,
): void {
  let cur: unknown = root;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    const here: ConfigPath = path.slice(0, i + 1);
    let container: Record<string | number, unknown>;
    let k: string | number;
    if (Array.isArray(cur)) {
      const idx = typeof seg === 'number' ? seg : /^\d+$/.test(seg) ? Number(seg) : NaN;
      if (!Number.isInteger(idx) || idx > cur.length) {
        throw new ConfigError(
          `cannot set ${JSON.stringify(String(seg))} in a list of ${cur.length} items (expected an index 0..${cur.length})`,
          overrideOrigin(arg),
        );
      }
      container = cur as unknown as Record<number, unknown>;
      k = idx;
    } else if (isPlainObject(cur)) {
      container = cur;
      k = String(seg);
    } else {
      throw new ConfigError(
        `cannot set ${path.map(String).join('.')}: ${path.slice(0, i).map(String).join('.')} is ${showValue(cur)}, not a mapping`,
        overrideOrigin(arg),
      );
    }
    if (last) {
      container[k] = structuredClone(v);
      origins.deleteSubtree(here);
      origins.fill(here, v, COMMAND_LINE);
      return;
    }
    if (container[k] === undefined || container[k] === null) {
      container[k] = typeof path[i + 1] === 'number' ? [] : {};
      origins.set(here, COMMAND_LINE);
    }
    cur = container[k];
  }
}
