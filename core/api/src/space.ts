/**
 * Architectures and search spaces. An architecture is a set of modules (type, attachment point,
 * rank); a search space lists candidate modules, each with an on/off decision (the binary space)
 * and, for ranked types, a set of candidate ranks (the dimension space), kept separate.
 */
import type { BackboneInfo } from './backbone.js';
import type { PeftModuleType } from './peft.js';

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
