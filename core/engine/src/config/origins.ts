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

interface OriginNode {
  origin?: Origin;
  children?: Map<PathSegment, OriginNode>;
}

function copyNode(n: OriginNode): OriginNode {
  const out: OriginNode = n.origin ? { origin: n.origin } : {};
  if (n.children) out.children = new Map([...n.children].map(([k, c]) => [k, copyNode(c)]));
  return out;
}

/**
 * Origins of the values of one configuration tree, by path: a tree of path segments, so that
 * every operation costs the length of its path (or the size of the subtree it copies), and
 * merging a preset of many keys stays linear.
 */
export class Origins {
  private root: OriginNode = {};

  private node(path: ConfigPath, create: boolean): OriginNode | undefined {
    let n: OriginNode | undefined = this.root;
    for (const seg of path) {
      let next: OriginNode | undefined = n.children?.get(seg);
      if (!next) {
        if (!create) return undefined;
        n.children ??= new Map();
        next = {};
        n.children.set(seg, next);
      }
      n = next;
    }
    return n;
  }

  set(path: ConfigPath, origin: Origin): void {
    this.node(path, true)!.origin = origin;
  }

  /** The origin of the value at `path`, or of its closest recorded ancestor. */
  get(path: ConfigPath): Origin | undefined {
    let n: OriginNode | undefined = this.root;
    let found = n.origin;
    for (const seg of path) {
      n = n.children?.get(seg);
      if (!n) break;
      if (n.origin) found = n.origin;
    }
    return found;
  }

  /** Forget the origins of `path` and everything under it. */
  deleteSubtree(path: ConfigPath): void {
    if (path.length === 0) {
      this.root = {};
      return;
    }
    this.node(path.slice(0, -1), false)?.children?.delete(path[path.length - 1]!);
  }

  /** Copy `other`'s origins of `path` and everything under it (same root), replacing ours. */
  replaceSubtree(path: ConfigPath, other: Origins): void {
    const theirs = other.node(path, false);
    this.deleteSubtree(path);
    if (!theirs) return;
    if (path.length === 0) {
      this.root = copyNode(theirs);
      return;
    }
    const parent = this.node(path.slice(0, -1), true)!;
    parent.children ??= new Map();
    parent.children.set(path[path.length - 1]!, copyNode(theirs));
  }

  /** Record `origin` for `path` and every path below it in `value` that has none yet. */
  fill(path: ConfigPath, value: unknown, origin: Origin): void {
    const n = this.node(path, true)!;
    n.origin ??= origin;
    if (Array.isArray(value)) value.forEach((v, i) => this.fill([...path, i], v, origin));
    else if (isPlainObject(value))
      for (const [k, v] of Object.entries(value)) this.fill([...path, k], v, origin);
  }

  clone(): Origins {
    const o = new Origins();
    o.root = copyNode(this.root);
    return o;
  }

  entries(): Array<{ path: ConfigPath; origin: Origin }> {
    const out: Array<{ path: ConfigPath; origin: Origin }> = [];
    const walk = (n: OriginNode, path: PathSegment[]) => {
      if (n.origin) out.push({ path, origin: n.origin });
      for (const [k, c] of n.children ?? []) walk(c, [...path, k]);
    };
    walk(this.root, []);
    return out;
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);
}
