/**
 * Collecting a comparison: every cell's result (or error) as a compare.json entry, then
 * compare.json, compare.md and report.html. Written by the coordinator only.
 */
import type { SplitPredictions } from '@peftkit/api';
import type { CompareStrategy } from '../config/types.js';
import {
  compareMarkdown,
  renderCompareReport,
  summariseCells,
  type CompareEntry,
  type FailedCompareCell,
} from '../report/compare-report.js';
import { addExampleStatistics } from '../report/compare-stats.js';
import type { RunResult } from '../report/result.js';
import { writeFileAtomic } from '../util/fs.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CellPlan } from './compare-plan.js';

export function collectEntries(
  cells: readonly CellPlan[],
  results: ReadonlyMap<string, RunResult>,
  strategies: ReadonlyMap<string, CompareStrategy>,
): CompareEntry[] {
  return cells.map((c): CompareEntry => {
    const r = results.get(c.key);
    const common = {
      label: c.label,
      strategy: strategies.get(c.label)!.strategy.name,
      task: c.task.name,
      budget: c.budgetLabel,
      seed: c.seed,
    };
    if (!r) {
      return {
        status: 'failed',
        ...common,
        budgetParams: null,
        dir: c.dir ?? null,
        error: c.error ?? 'the run did not finish',
      };
    }
    return {
      status: 'done',
      ...common,
      budgetParams: r.budget?.params ?? null,
      dir: c.dir!,
      metrics: r.metrics,
      primaryMetric: r.task.metrics[0] ?? 'accuracy',
      trainableParams: r.trainableParams,
      searchSeconds: r.timings.searchSeconds,
      retrainSeconds: r.timings.retrainSeconds,
      totalSeconds: r.timings.totalSeconds,
      searchCompute: r.searchCompute,
    };
  });
}

/** compare.json, compare.md and report.html; returns the failed entries. */
export function writeCompareReports(
  dir: string,
  entries: CompareEntry[],
  preset: string | null,
): FailedCompareCell[] {
  const failed = entries.filter((c): c is FailedCompareCell => c.status === 'failed');
  const summary = addExampleStatistics(summariseCells(entries), entries, testPredictions);
  writeFileAtomic(
    join(dir, 'compare.json'),
    `${JSON.stringify({ preset, cells: entries, summary, failed }, null, 2)}\n`,
  );
  writeFileAtomic(join(dir, 'compare.md'), compareMarkdown(entries, summary, preset));
  writeFileAtomic(join(dir, 'report.html'), renderCompareReport(entries, summary, preset));
  return failed;
}

/** A cell's per-example test predictions (predictions.json of its run), or null when it has none. */
function testPredictions(cell: { dir: string }): SplitPredictions | null {
  const file = join(cell.dir, 'predictions.json');
  if (!existsSync(file)) return null;
  return (JSON.parse(readFileSync(file, 'utf8')) as { test?: SplitPredictions }).test ?? null;
}
