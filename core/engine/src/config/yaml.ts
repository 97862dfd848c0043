/** YAML (and JSON) preset files, read into plain values with the line of every value recorded. */
import { ConfigError } from '@peftkit/api';
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

export interface ParsedYaml {
  value: unknown;
  origins: Origins;
}

/** Parse `text` (shown as `file` in errors and origins). */
export function parseYamlWithOrigins(text: string, file: string, dir?: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
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

  const walk = (node: unknown, path: ConfigPath, line: number | undefined): unknown => {
    origins.set(path, { file, line, dir });
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
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
