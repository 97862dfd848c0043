/**
 * Where each configuration value was written: a preset file and line, the command line (`--set`),
 * or the engine's defaults. Errors name the origin of the value they are about, following values
 * through `extends` chains and overrides.
 */

export type PathSegment = string | number;
export type ConfigPath = readonly PathSegment[];

export interface Origin {
  /** A preset file as users see it (relative to the working directory), `command line` or `defaults`. */
  readonly file: string;
  readonly line?: number;
  /** Absolute directory of the file, for paths written in it (plugins, architecture files). */
  readonly dir?: string;
}

export const COMMAND_LINE: Origin = { file: 'command line' };
export const DEFAULTS: Origin = { file: 'defaults' };

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `strategy.options.lr`, `seeds[1]`, `options["lora@layer.0.attn.q"]`. */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENT.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out === '' ? '(top level)' : out;
}

/** `presets/a.yaml:12`, `command line`. */
export function formatOrigin(o: Origin): string {
  return o.line !== undefined ? `${o.file}:${o.line}` : o.file;
}

function key(path: ConfigPath): string {
  return JSON.stringify(path);
}

function startsWith(path: ConfigPath, prefix: ConfigPath): boolean {
  if (prefix.length > path.length) return false;
  for (let i = 0; i < prefix.length; i++) if (path[i] !== prefix[i]) return false;
  return true;
}

/** Origins of the values of one configuration tree, by path. */
export class Origins {
  private readonly map = new Map<string, { path: ConfigPath; origin: Origin }>();

  set(path: ConfigPath, origin: Origin): void {
    this.map.set(key(path), { path: [...path], origin });
  }

  /** The origin of the value at `path`, or of its closest recorded ancestor. */
  get(path: ConfigPath): Origin | undefined {
    for (let n = path.length; n >= 0; n--) {
      const hit = this.map.get(key(path.slice(0, n)));
      if (hit) return hit.origin;
    }
    return undefined;
  }

  /** Forget the origins of `path` and everything under it. */
  deleteSubtree(path: ConfigPath): void {
    for (const [k, v] of this.map) if (startsWith(v.path, path)) this.map.delete(k);
  }

  /** Copy `other`'s origins of `path` and everything under it (same root), replacing ours. */
  replaceSubtree(path: ConfigPath, other: Origins): void {
    this.deleteSubtree(path);
    for (const [k, v] of other.map) if (startsWith(v.path, path)) this.map.set(k, v);
  }

  /** Record `origin` for `path` and every path below it in `value` that has none yet. */
  fill(path: ConfigPath, value: unknown, origin: Origin): void {
    if (!this.map.has(key(path))) this.set(path, origin);
    if (Array.isArray(value)) value.forEach((v, i) => this.fill([...path, i], v, origin));
    else if (isPlainObject(value))
      for (const [k, v] of Object.entries(value)) this.fill([...path, k], v, origin);
  }

  clone(): Origins {
    const o = new Origins();
    for (const [k, v] of this.map) o.map.set(k, v);
    return o;
  }

  entries(): Array<{ path: ConfigPath; origin: Origin }> {
    return [...this.map.values()];
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);
}
