/**
 * From the searched supernet to the architecture the engine re-trains (method spec §2.10): the
 * derivation (the keep mask, or argmax on/off, at argmax or frozen ranks), the budget repair that
 * guarantees the exact count, and the optional budget fill. Each step reports what it changed, so
 * that result.json can say whether the search itself met the budget (`derivedParams`, `repair`).
 */
import type { Architecture, Candidate, ModuleChoice, ModuleToolkit } from '@peftkit/api';
import { greedyUnderBudget, moduleId } from '@peftkit/api';
import type { Supernet } from './supernet.js';

/** One module the repair took out of the derived architecture. */
export interface RepairEntry {
  module: string;
  rank: number | null;
  params: number;
}

export interface Derivation {
  architecture: Architecture;
  /** Exact trainable parameters of the derived architecture, before any repair or fill. */
  derivedParams: number;
  /** What the repair removed ([] when the derived architecture fitted). */
  repair: RepairEntry[];
  /** Modules the budget fill added (fillBudget only). */
  filled: string[];
}

const sizeOf = (toolkit: ModuleToolkit, m: ModuleChoice): number =>
  toolkit.count(m.type, m.point, m.rank, m.options ?? {});

/**
 * Guarantee the budget with exact counts: drop the least important modules until the architecture
 * fits, then put back every dropped module that fits again, most important first (the last removal
 * can free far more than the excess). A search whose schedule completed never needs it; a search
 * stopped by the epochs before its last round, or one without early selection (the argmax
 * architecture ignores the budget), does.
 */
export function repairToBudget(
  arch: Architecture,
  toolkit: ModuleToolkit,
  budget: number,
  scores: ReadonlyMap<string, number>,
): { architecture: Architecture; removed: RepairEntry[] } {
  const score = (m: ModuleChoice): number => scores.get(moduleId(m.type, m.point)) ?? 0;
  const kept = new Set(arch.modules);
  let total = toolkit.countArchitecture(arch);
  const removed: ModuleChoice[] = [];
  for (const m of [...arch.modules].sort((a, b) => score(a) - score(b))) {
    if (total <= budget) break;
    kept.delete(m);
    total -= sizeOf(toolkit, m);
    removed.push(m);
  }
  for (const m of [...removed].reverse()) {
    if (total + sizeOf(toolkit, m) > budget) continue;
    kept.add(m);
    total += sizeOf(toolkit, m);
  }
  return {
    architecture: { modules: arch.modules.filter((m) => kept.has(m)) },
    removed: arch.modules
      .filter((m) => !kept.has(m))
      .map((m) => ({ module: moduleId(m.type, m.point), rank: m.rank, params: sizeOf(toolkit, m) })),
  };
}

/**
 * Spend the budget the derivation left unused: the trigger's greedy knapsack (§2.7) over the slack.
 * Modules outside the architecture are put back, most important first (a pruned module by the
 * importance it had when pruned, since its score decays afterwards), each at the rank it had,
 * whenever the exact count still fits. Deterministic: ties keep candidate order.
 */
export function fillBudget(
  arch: Architecture,
  net: Supernet,
  budget: number,
  importance: (c: Candidate) => number,
): { architecture: Architecture; added: string[] } {
  const toolkit = net.toolkit;
  const inArch = new Set(arch.modules.map((m) => moduleId(m.type, m.point)));
  const outside = net.candidates
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => !inArch.has(c.id))
    .sort((a, b) => importance(b.c) - importance(a.c) || a.i - b.i);
  const slack = budget - toolkit.countArchitecture(arch);
  const { chosen } = greedyUnderBudget(outside, ({ c }) => sizeOf(toolkit, net.choiceOf(c)), slack);
  const added = new Set(chosen.map(({ c }) => c.id));
  if (added.size === 0) return { architecture: arch, added: [] };
  // Candidate order, as derive() gives it.
  const byId = new Map(arch.modules.map((m) => [moduleId(m.type, m.point), m]));
  const modules = net.candidates
    .filter((c) => byId.has(c.id) || added.has(c.id))
    .map((c) => byId.get(c.id) ?? net.choiceOf(c));
  return { architecture: { modules }, added: [...added] };
}

/** Derive, repair and (optionally) fill, recording what each step did. */
export function deriveArchitecture(
  net: Supernet,
  opts: {
    budget: number;
    useKeepMask: boolean;
    scores: ReadonlyMap<string, number>;
    /** fillBudget: the importance each module is filled by (absent: no fill). */
    fillImportance?: (c: Candidate) => number;
  },
): Derivation {
  const derived = net.derive(opts.useKeepMask);
  const derivedParams = net.toolkit.countArchitecture(derived);
  const repaired = repairToBudget(derived, net.toolkit, opts.budget, opts.scores);
  let architecture = repaired.architecture;
  let filled: string[] = [];
  if (opts.fillImportance) {
    const f = fillBudget(architecture, net, opts.budget, opts.fillImportance);
    architecture = f.architecture;
    filled = f.added;
  }
  return { architecture, derivedParams, repair: repaired.removed, filled };
}
