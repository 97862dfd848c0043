/**
 * AdaLoRA's budget schedule (paper eq. 12; PEFT RankAllocator.budget_schedule): the number of kept
 * singular triplets b(t) after optimiser step t of T,
 *
 *   b(t) = b(0)                                             t ≤ t_init         (warm-up, no masking)
 *          b(T) + (b(0) − b(T))·(1 − (t − t_init)/(T − t_final − t_init))³     (cubic decrease;
 *                                                           masking when t mod ΔT = 0)
 *          b(T)                                             t > T − t_final    (final fine-tuning)
 *
 * with PEFT's truncation to an integer. At t = T − t_final the cubic gives exactly b(T); that step
 * fixes the final allocation (the strategy masks then whatever ΔT says).
 */
import { ConfigError } from '@peftkit/api';

export interface BudgetSchedule {
  /** b(0): all triplets of the initial rank. */
  initial: number;
  /** b(T): triplets kept in the end. */
  target: number;
  tinit: number;
  tfinal: number;
  /** T: optimiser steps of the whole training. */
  total: number;
  deltaT: number;
}

export function budgetAt(step: number, s: BudgetSchedule): { budget: number; mask: boolean } {
  if (step <= s.tinit) return { budget: s.initial, mask: false };
  if (step > s.total - s.tfinal) return { budget: s.target, mask: true };
  const progress = 1 - (step - s.tinit) / (s.total - s.tfinal - s.tinit);
  return {
    budget: Math.trunc((s.initial - s.target) * progress ** 3 + s.target),
    mask: step % s.deltaT === 0,
  };
}

/** A step count given as an integer number of steps or as a percentage string (`"10%"`) of `total`. */
export function resolveSteps(value: number | string, total: number, where: string): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) {
      throw new ConfigError(
        `got ${value}, expected an integer >= 0 or a percentage like "10%"`,
        undefined,
        where,
      );
    }
    return value;
  }
  const m = /^(\d+(?:\.\d+)?)%$/.exec(value);
  if (!m || Number(m[1]) > 100) {
    throw new ConfigError(
      `got ${JSON.stringify(value)}, expected an integer >= 0 or a percentage like "10%"`,
      undefined,
      where,
    );
  }
  return Math.round((Number(m[1]) / 100) * total);
}
