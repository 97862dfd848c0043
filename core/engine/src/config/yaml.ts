/**
 * YAML (and JSON) preset files, read into plain values with the line of every value recorded.
 *
 * Parsing is bounded, so a small hostile or broken file cannot exhaust memory or time: the
 * document size, the number of alias uses, the number of values after aliases are expanded, and
 * the nesting depth are limited (YAML_LIMITS), and keys that would reach JavaScript's object
 * machinery (`__proto__`, `constructor`, `prototype`) are refused. Each limit's error names it.
 */
import { ConfigError, decodeText } from '@peftkit/api';
import { readFileSync, statSync } from 'node:fs';
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  stringify as stringifyYaml,
  type Document,
  type Node,
} from 'yaml';
import { Origins, type ConfigPath } from './origins.js';

export const YAML_LIMITS = {
  /** Bytes of one preset or configuration file. */
  maxBytes: 1024 * 1024,
  /** Uses of aliases (`*name`) in one document. */
  maxAliases: 100,
  /** Values (scalars, lists, mappings) in one document once its aliases are expanded. */
  maxValues: 100_000,
  /** Nesting depth of lists and mappings. */
  maxDepth: 64,
} as const;

/** Keys refused wherever user keys become object properties (they reach Object.prototype). */
export const UNSAFE_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

export function unsafeKeyMessage(key: string): string {
  return `the key ${JSON.stringify(key)} is not allowed (${UNSAFE_KEYS.join(', ')} are reserved names of JavaScript objects)`;
}

/**
 * The text of a preset or configuration file (`shown` names it in errors): refused before reading
 * when over the size limit, and when it is not UTF-8 text (UTF-16, binary).
 */
export function readConfigText(file: string, shown: string): string {
  let bytes: Buffer;
  try {
    const size = statSync(file).size;
    if (size > YAML_LIMITS.maxBytes) {
      throw new ConfigError(
        `the file is ${size} bytes, over the limit of ${YAML_LIMITS.maxBytes} bytes for a preset or configuration`,
        shown,
      );
    }
    bytes = readFileSync(file);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, shown);
  }
  try {
    return decodeText(bytes, shown, 'preset').text;
  } catch (e) {
    throw new ConfigError((e as Error).message.replace(`${shown}: `, ''), shown);
  }
}

export interface ParsedYaml {
  value: unknown;
  origins: Origins;
}

/** Parse `text` (shown as `file` in errors and origins). */
export function parseYamlWithOrigins(text: string, file: string, dir?: string): ParsedYaml {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > YAML_LIMITS.maxBytes) {
    throw new ConfigError(
      `the file is ${bytes} bytes, over the limit of ${YAML_LIMITS.maxBytes} bytes for a preset or configuration`,
      file,
    );
  }
  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    // Duplicate keys are found below with a set: the parser's own check is quadratic in the keys.
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  } catch (e) {
    if (e instanceof RangeError)
      throw new ConfigError(`nesting too deep (the limit is ${YAML_LIMITS.maxDepth} levels)`, file);
    throw e;
  }
  if (doc.errors.some((e) => /call stack/i.test(e.message)))
    throw new ConfigError(`nesting too deep (the limit is ${YAML_LIMITS.maxDepth} levels)`, file);
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0].line ?? (e.pos ? lineCounter.linePos(e.pos[0]).line : undefined);
    const extra = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more YAML errors)` : '';
    throw new ConfigError(
      `invalid YAML: ${e.message.split('\n')[0]}${extra}`,
      line !== undefined ? `${file}:${line}` : file,
    );
  }
  const origins = new Origins();
  const lineOf = (
    node: { range?: [number, number, number] | null } | null | undefined,
  ): number | undefined => (node?.range ? lineCounter.linePos(node.range[0]).line : undefined);
  const depth = new Set<Node>();
  let aliases = 0;
  let values = 0;

  const walk = (node: unknown, path: ConfigPath, line: number | undefined): unknown => {
    if (++values > YAML_LIMITS.maxValues) {
      throw new ConfigError(
        `more than ${YAML_LIMITS.maxValues} values once aliases are expanded (the limit for one document)`,
        `${file}:${line ?? 1}`,
      );
    }
    if (path.length > YAML_LIMITS.maxDepth) {
      throw new ConfigError(
        `nesting too deep (the limit is ${YAML_LIMITS.maxDepth} levels)`,
        `${file}:${line ?? 1}`,
      );
    }
    origins.set(path, { file, line, dir });
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      if (++aliases > YAML_LIMITS.maxAliases) {
        throw new ConfigError(
          `more than ${YAML_LIMITS.maxAliases} alias uses (*name) in one document (the limit)`,
          `${file}:${lineOf(node)}`,
        );
      }
      const target = node.resolve(doc as Document);
      if (!target) throw new ConfigError(`unresolved alias *${node.source}`, `${file}:${lineOf(node)}`);
      if (depth.has(target))
        throw new ConfigError(`alias *${node.source} refers to itself`, `${file}:${lineOf(node)}`);
      depth.add(target);
      const v = walk(target, path, line);
      depth.delete(target);
      return v;
    }
    if (isScalar(node)) return node.value;
    if (isSeq(node))
      return node.items.map((item, i) => walk(item, [...path, i], lineOf(item as Node) ?? line));
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const k = isScalar(pair.key) ? pair.key.value : pair.key;
        const keyLine = lineOf(pair.key as Node) ?? line;
        if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'boolean') {
          throw new ConfigError('mapping keys must be plain strings', `${file}:${keyLine}`);
        }
        const name = String(k);
        if (UNSAFE_KEYS.includes(name)) throw new ConfigError(unsafeKeyMessage(name), `${file}:${keyLine}`);
        if (Object.hasOwn(out, name))
          throw new ConfigError(`duplicate key ${JSON.stringify(name)} in a mapping`, `${file}:${keyLine}`);
        out[name] = walk(pair.value, [...path, name], keyLine);
      }
      return out;
    }
    throw new ConfigError(`unsupported YAML node`, `${file}:${lineOf(node as Node)}`);
  };
  const value = walk(doc.contents, [], lineOf(doc.contents as Node) ?? 1);
  return { value, origins };
}

/** YAML text of a configuration (for `presets show`). */
export function toYamlText(value: unknown): string {
  return stringifyYaml(value, { lineWidth: 0 });
}
