/**
 * Search plumbing every strategy shares (the search kit): the budget-floor check and the greedy
 * selection under a budget. One implementation, so that strategies refuse the same budgets with
 * the same error and select under a budget by the same rule.
 */
import type { Budget } from './budget.js';
import { ConfigError } from './errors.js';
import type { Candidate } from './space.js';
import type { ModuleToolkit } from './strategy.js';

export interface SpaceExtent {
  /** The smallest candidate at its smallest rank. */
  smallest: { id: string; params: number };
  /** Every candidate at its largest rank. */
  total: number;
}

const options = (c: Candidate) => c.options as Record<string, unknown>;

/** The smallest module of a space and the size of the whole space (exact counts). */
export function spaceExtent(candidates: readonly Candidate[], modules: ModuleToolkit): SpaceExtent {
  let smallest = { id: '', params: Infinity };
  let total = 0;
  for (const c of candidates) {
    const min = modules.count(c.type, c.point, c.ranks ? c.ranks[0]! : null, options(c));
    if (min < smallest.params) smallest = { id: c.id, params: min };
    total += modules.count(c.type, c.point, c.ranks ? c.ranks[c.ranks.length - 1]! : null, options(c));
  }
  return { smallest, total };
}

/**
 * The budget floor: a budget below the smallest module of the space (at its smallest rank) admits
 * no module at all, which is a configuration error naming the module and the minimum budget.
 */
export function checkBudgetFloor(
  budget: Budget,
  candidates: readonly Candidate[],
  modules: ModuleToolkit,
): SpaceExtent {
  if (candidates.length === 0)
    throw new ConfigError('the search space has no candidates', undefined, 'space');
  const extent = spaceExtent(candidates, modules);
  const { id, params } = extent.smallest;
  if (budget.params < params) {
    throw new ConfigError(
      `the budget of ${budget.params} trainable parameters is below the smallest module of the search space (${id}: ${params} parameters)`,
      undefined,
      'budget',
      `raise the budget to at least ${params} (ratio ${(params / budget.backboneParams).toExponential(3)})`,
    );
  }
  return extent;
}

/**
 * Greedy selection under a budget: visit the items in the given order (most wanted first) and take
 * each one whose size still fits in what is left, skipping one that does not and going on.
 */
export function greedyUnderBudget<T>(
  ordered: readonly T[],
  size: (item: T) => number,
  budget: number,
): { chosen: T[]; used: number } {
  const chosen: T[] = [];
  let used = 0;
  for (const item of ordered) {
    const s = size(item);
    if (used + s > budget) continue;
    chosen.push(item);
    used += s;
  }
  return { chosen, used };
}
