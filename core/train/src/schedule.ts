/**
 * Learning-rate schedules, as Hugging Face transformers' get_{constant,linear,cosine}_schedule_with_warmup
 * driven by torch's LambdaLR.
 *
 * Step convention: `step` counts the optimiser steps already taken, so the k-th optimiser step
 * (k = 0, 1, …, totalSteps − 1) uses the multiplier at step k. This is LambdaLR's: the scheduler
 * sets lr = base·λ(0) when it is created, the loop calls optimizer.step() and then
 * scheduler.step(), so the first update uses λ(0) (0 with warm-up, 1 without) and the last one
 * uses λ(totalSteps − 1); λ(totalSteps) (0 for linear and cosine) is never applied.
 *
 * Warm-up length: ceil(totalSteps · warmupRatio), as TrainingArguments.get_warmup_steps computes
 * it (the float product is ceiled as is, so 100 · 0.07 = 7.000000000000001 gives 8, as in HF).
 */
import { ConfigError, type TrainRecipe } from '@peftkit/api';

export type ScheduleKind = TrainRecipe['schedule'];

const SCHEDULES: readonly ScheduleKind[] = ['constant', 'linear', 'cosine'];

/** Number of warm-up steps for a run of `totalSteps` optimiser steps. */
export function warmupSteps(totalSteps: number, warmupRatio: number): number {
  checkTotal(totalSteps);
  if (!(Number.isFinite(warmupRatio) && warmupRatio >= 0 && warmupRatio <= 1)) {
    throw new ConfigError(`got ${warmupRatio}, expected a number in [0, 1]`, undefined, 'recipe.warmupRatio');
  }
  return Math.ceil(totalSteps * warmupRatio);
}

/**
 * The multiplier λ(step) of the base learning rate, with w = warm-up steps and T = totalSteps:
 *   step < w:  step / max(1, w)                                  (all schedules)
 *   constant:  1
 *   linear:    max(0, (T − step) / max(1, T − w))
 *   cosine:    max(0, 0.5·(1 + cos(π·p))),  p = (step − w) / max(1, T − w)   (half a cosine cycle)
 * `constant` with a warm-up is HF's get_constant_schedule_with_warmup (without one, get_constant_schedule).
 */
export function lrMultiplier(
  step: number,
  totalSteps: number,
  schedule: ScheduleKind,
  warmup: number,
): number {
  checkTotal(totalSteps);
  if (!SCHEDULES.includes(schedule)) {
    throw new ConfigError(
      `got ${JSON.stringify(schedule)}, expected ${SCHEDULES.join(' | ')}`,
      undefined,
      'recipe.schedule',
    );
  }
  if (!Number.isInteger(step) || step < 0 || step > totalSteps) {
    throw new RangeError(
      `learning-rate schedule: step must be an integer in [0, ${totalSteps}], got ${step}`,
    );
  }
  if (!Number.isInteger(warmup) || warmup < 0 || warmup > totalSteps) {
    throw new RangeError(
      `learning-rate schedule: warm-up must be an integer in [0, ${totalSteps}], got ${warmup}`,
    );
  }
  if (step < warmup) return step / Math.max(1, warmup);
  if (schedule === 'constant') return 1;
  if (schedule === 'linear') return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmup));
  const progress = (step - warmup) / Math.max(1, totalSteps - warmup);
  // HF writes cos(π · num_cycles · 2 · progress) with num_cycles = 0.5; the product is exactly π·progress.
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** The learning rate of the optimiser step that follows `step` completed steps. */
export function lrAt(
  step: number,
  totalSteps: number,
  recipe: Pick<TrainRecipe, 'lr' | 'schedule' | 'warmupRatio'>,
): number {
  const w = warmupSteps(totalSteps, recipe.warmupRatio);
  return recipe.lr * lrMultiplier(step, totalSteps, recipe.schedule, w);
}

function checkTotal(totalSteps: number): void {
  if (!Number.isInteger(totalSteps) || totalSteps < 1) {
    throw new RangeError(`learning-rate schedule: totalSteps must be an integer >= 1, got ${totalSteps}`);
  }
}
