/**
 * Example-level statistics of a comparison's summary rows (Node only: the rows are also rendered in
 * the dashboard's browser page, which loads compare-report.ts without its dependencies): for every
 * row whose runs all stored their per-example test predictions, a 95 % bootstrap interval of its mean
 * test score over test examples and seeds, and a paired comparison with the manual type chosen by
 * validation for its (task, budget) (report/stats.ts).
 */
import type { MetricName, SplitPredictions } from '@peftkit/api';
import { computeMetrics } from '@peftkit/train';
import {
  type CompareCell,
  type CompareEntry,
  type SummaryRow,
  cellsOfRow,
  manualChoice,
} from './compare-report.js';
import { type Metric, type ScoredRun, bootstrapMeanInterval, pairedComparison } from './stats.js';

/** The primary metric recomputed from per-example predictions (what the bootstrap resamples). */
function metricOf(name: string): Metric {
  return (predictions, labels) => {
    const integer = Array.prototype.every.call(labels, (v: number) => Number.isInteger(v));
    const m = computeMetrics(
      [name as MetricName],
      predictions,
      labels,
      integer ? 'classification' : 'regression',
    );
    return (m as Record<string, number>)[name]!;
  };
}

/** Adds `testInterval` and `vsReference` to the rows (in place) where predictions allow. */
export function addExampleStatistics(
  rows: SummaryRow[],
  cells: readonly CompareEntry[],
  predictions: (cell: CompareCell) => SplitPredictions | null,
): SummaryRow[] {
  const scored = new Map<SummaryRow, ScoredRun[]>();
  for (const row of rows) {
    const runs = cellsOfRow(cells, row).map((c) => ({ seed: c.seed, p: predictions(c) }));
    if (runs.length === 0 || runs.some((r) => !r.p)) continue;
    const full = runs.map((r) => ({ seed: r.seed, predictions: r.p!.predictions, labels: r.p!.labels }));
    scored.set(row, full);
    row.testInterval = bootstrapMeanInterval(full, metricOf(row.metric));
  }
  for (const row of rows) {
    const runs = scored.get(row);
    const choice = manualChoice(rows, row.task, row.budget);
    if (!runs || !choice || choice.byValidation === row) continue;
    const ref = scored.get(choice.byValidation);
    if (!ref) continue;
    const paired = pairedComparison(runs, ref, metricOf(row.metric));
    if (paired) row.vsReference = { reference: choice.byValidation.label, ...paired };
  }
  return rows;
}
