/**
 * Architectures and search spaces. An architecture is a set of modules (type, attachment point,
 * rank); a search space lists candidate modules, each with an on/off decision (the binary space)
 * and, for ranked types, a set of candidate ranks (the dimension space), kept separate.
 */
import type { BackboneInfo } from './backbone.js';
import { type PeftModuleType, moduleId } from './peft.js';
import { matchPoints } from './targets.js';

export interface ModuleChoice {
  type: string;
  point: string;
  /** Rank, bottleneck or prefix length; null for unranked types. */
  rank: number | null;
  options?: Record<string, unknown>;
}

export interface Architecture {
  modules: ModuleChoice[];
}

export interface Candidate {
  /** `<type>@<point>` */
  readonly id: string;
  readonly type: string;
  readonly point: string;
  /** Candidate ranks, ascending (null for unranked types: on/off only). */
  readonly ranks: readonly number[] | null;
  readonly options: Readonly<Record<string, unknown>>;
}

export interface SpaceDefinition {
  readonly name: string;
  readonly candidates: readonly Candidate[];
}

/** Look up registered module types by name (for spaces and strategies). */
export interface ModuleTypes {
  get(name: string): PeftModuleType;
  names(): string[];
}

/** Extension point `search-space`: enumerate the candidates a backbone offers. */
export interface SearchSpace {
  build(backbone: BackboneInfo, types: ModuleTypes): SpaceDefinition;
}

/** One line of a pattern-based space: a module type placed on the points its globs match. */
export interface SpaceEntry {
  type: string;
  /** Glob patterns over attachment-point names (see targets.ts). */
  targets: string[];
  /** Per-module options of the type. */
  options?: Record<string, unknown>;
}

/** JSON Schema of an `entries` option (a list of SpaceEntry), for spaces that accept one. */
export const SPACE_ENTRIES_SCHEMA = {
  type: 'array',
  description:
    'Module types and the attachment-point patterns they are placed on (replaces the default entries).',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'targets'],
    properties: {
      type: { type: 'string', description: 'Module type name (lora, bitfit, lnfit, adapter, ...).' },
      targets: {
        type: 'array',
        items: { type: 'string' },
        minItems: 1,
        description: 'Glob patterns over attachment-point names.',
      },
      options: { type: 'object', description: 'Per-module options of the type.' },
    },
  },
} as const;

/**
 * The candidates of a pattern-based space: every point each entry's patterns match (and its type
 * accepts), once per (type, point), in entry then backbone order; ranked types get `ranks`.
 */
export function expandSpaceEntries(
  entries: readonly SpaceEntry[],
  backbone: BackboneInfo,
  types: ModuleTypes,
  ranks: readonly number[],
): Candidate[] {
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    const type = types.get(e.type);
    for (const p of matchPoints(e.targets, backbone.points, type.attachesTo)) {
      if (!type.accepts(p)) continue;
      const id = moduleId(e.type, p.name);
      if (seen.has(id)) continue;
      seen.add(id);
      candidates.push({
        id,
        type: e.type,
        point: p.name,
        ranks: type.ranked ? [...ranks] : null,
        options: { ...(e.options ?? {}) },
      });
    }
  }
  return candidates;
}
