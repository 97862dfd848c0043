/**
 * Which journal records become TensorBoard scalars, under which tags and at which step. One
 * generic rule instead of one per strategy, so that every strategy's numbers show up:
 *
 *   - a record with a numeric `step` is plotted at that step; a `trial` record at its trial number;
 *     `run-end` (the final scores) at step 0;
 *   - its tag prefix is its phase (`search`, `retrain`), then, for records other than the plain
 *     per-step ones (`step`, `search-eval`, `epoch`), its type (`search/round/pruned`), and for a
 *     train job other than the phase's own (a trial) the job (`search/trial-3/train_loss`);
 *   - every finite number becomes a scalar, nested objects of numbers become `a/b` tags
 *     (`validation/accuracy`), arrays their length (the modules pruned in a round), and a few terse
 *     field names get readable tags (`tau` → `temperature`);
 *   - per-module `freeze` records and program `fold`s are left out (the round counts the freezes).
 */
import type { RunEvent } from '@peftkit/api';

export interface StepScalars {
  step: number;
  values: { tag: string; value: number }[];
}

/** Fields that position a record rather than measure something. */
const POSITION = new Set([
  'seq',
  't',
  'step',
  'epoch',
  'done',
  'total',
  'of',
  'trial',
  'index',
  'phase',
  'type',
  'job',
]);
/** Records whose fields sit directly under the phase. */
const PLAIN = new Set(['step', 'search-eval', 'epoch']);
/** Readable tags for terse field names. */
const NAMES: Record<string, string> = {
  tau: 'temperature',
  expected: 'expected_trainable_params',
  budget: 'budget_params',
  trainLoss: 'train_loss',
  lossWeight: 'loss_weight',
  lossArch: 'loss_arch',
  trainableParams: 'trainable_params',
  kept: 'modules_kept',
  frozen: 'ranks_frozen',
  pruned: 'modules_pruned',
  expectedBefore: 'expected_before',
  expectedAfter: 'expected_after',
};
/** Records that repeat what another record already plots: one per frozen module (the round counts them), program folds. */
const SKIP = new Set(['freeze', 'fold']);

function flatten(prefix: string, v: unknown, out: { tag: string; value: number }[], depth: number): void {
  if (typeof v === 'number') {
    if (Number.isFinite(v)) out.push({ tag: prefix, value: v });
  } else if (Array.isArray(v)) {
    out.push({ tag: prefix, value: v.length });
  } else if (v !== null && typeof v === 'object' && depth < 3) {
    for (const [k, x] of Object.entries(v)) flatten(`${prefix}/${NAMES[k] ?? k}`, x, out, depth + 1);
  }
}

/** The scalars of one journal record, or null when it has none (or no position to plot them at). */
export function scalarsOf(record: RunEvent): StepScalars | null {
  if (SKIP.has(record.type)) return null;
  let step: number;
  let prefix: string;
  if (record.type === 'run-end') {
    step = 0;
    prefix = 'final';
  } else {
    const x =
      typeof record.step === 'number'
        ? record.step
        : record.type === 'trial'
          ? (record.trial ?? record.index)
          : undefined;
    if (typeof x !== 'number' || !Number.isFinite(x)) return null;
    step = x;
    const phase = typeof record.phase === 'string' ? record.phase : 'run';
    const job = typeof record.job === 'string' && record.job !== phase ? `/${record.job}` : '';
    prefix = `${phase}${job}${PLAIN.has(record.type) ? '' : `/${record.type}`}`;
  }
  const values: { tag: string; value: number }[] = [];
  for (const [k, v] of Object.entries(record)) {
    if (POSITION.has(k)) continue;
    flatten(`${prefix}/${NAMES[k] ?? k}`, v, values, 0);
  }
  return values.length > 0 ? { step, values } : null;
}
