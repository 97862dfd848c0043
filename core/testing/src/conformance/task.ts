/**
 * Conformance suite for tasks (extension point `task`).
 *
 *   import { describeTask } from '@peftkit/testing';
 *   describeTask('sentiment', () => createSentimentTask({}));
 *
 * It creates the task twice and checks the documented contract of Task and TaskInfo:
 * - train, validation and test are non-empty lists of examples with a non-empty `text`, a `pair`
 *   exactly when the task is a pair task, and a label that fits the task (a class index below
 *   `numClasses` for classification, a finite number for regression);
 * - the info is consistent: a name and description, `numClasses` >= 2 for classification and 1
 *   for regression, one label name per class when names are given, a non-empty list of known
 *   metrics that suit the task type (no class metrics for regression; `f1`, the binary F1 of class
 *   1, only with two classes);
 * - examples with a group key keep their group within one split;
 * - the splits are deterministic: a second creation gives the same rows in the same order;
 * - the task is plain data.
 */
import type { Example, MetricName, SplitName, Task } from '@peftkit/api';
import { expect } from 'chai';
import { type Factory, SUITE_TIMEOUT_MS, plainDataProblem } from './common.js';
import { mocha } from './mocha.js';

export interface TaskSuiteOptions {
  /** Per-test time limit in ms (default 60 s). */
  timeout?: number;
}

const SPLITS: readonly SplitName[] = ['train', 'validation', 'test'];
const METRICS: readonly MetricName[] = ['accuracy', 'f1', 'macro_f1', 'mcc', 'pearson', 'spearman'];
const CLASS_METRICS: readonly MetricName[] = ['accuracy', 'f1', 'macro_f1', 'mcc'];

function exampleProblem(e: Example, task: Task): string | null {
  const info = task.info;
  if (typeof e.text !== 'string' || e.text.trim() === '') return 'text must be a non-empty string';
  if (info.pair && (typeof e.pair !== 'string' || e.pair.trim() === ''))
    return 'the task is a pair task, so pair must be a non-empty string';
  if (!info.pair && e.pair !== undefined) return 'the task is not a pair task, but the example has a pair';
  if (info.type === 'classification') {
    if (!Number.isInteger(e.label) || e.label < 0 || e.label >= info.numClasses)
      return `label ${e.label} is not a class index in [0, ${info.numClasses})`;
  } else if (typeof e.label !== 'number' || !Number.isFinite(e.label)) {
    return `label ${e.label} is not a finite number`;
  }
  if (e.group !== undefined && typeof e.group !== 'string') return 'group must be a string';
  return null;
}

export function describeTask(name: string, factory: Factory<Task>, opts: TaskSuiteOptions = {}): void {
  const { describe, it } = mocha('describeTask');

  describe(`task ${name} (conformance)`, function () {
    this.timeout(opts.timeout ?? SUITE_TIMEOUT_MS);
    let first: Promise<Task> | undefined;
    const task = () => (first ??= Promise.resolve(factory()));

    it('has non-empty train, validation and test splits of well-formed examples', async () => {
      const t = await task();
      for (const split of SPLITS) {
        const rows = t.splits[split];
        expect(Array.isArray(rows) && rows.length > 0, `split ${split} must be a non-empty list`).to.equal(
          true,
        );
        rows.forEach((e, i) => {
          const p = exampleProblem(e, t);
          expect(p, `${split}[${i}]: ${p}`).to.equal(null);
        });
      }
    });

    it('describes itself consistently: type, classes, label names and metrics', async () => {
      const { info } = await task();
      expect(info.name, 'info.name').to.be.a('string').and.not.equal('');
      expect(info.description, 'info.description').to.be.a('string').and.not.equal('');
      expect(['classification', 'regression'], 'info.type').to.include(info.type);
      if (info.type === 'classification') {
        expect(
          Number.isInteger(info.numClasses) && info.numClasses >= 2,
          `numClasses ${info.numClasses}`,
        ).to.equal(true);
      } else {
        expect(info.numClasses, 'a regression task has numClasses 1').to.equal(1);
      }
      if (info.labelNames !== undefined) {
        expect(info.labelNames, 'one label name per class').to.have.length(info.numClasses);
      }
      expect(typeof info.pair, 'info.pair').to.equal('boolean');
      expect(info.metrics.length, 'at least one metric (the first selects checkpoints)').to.be.greaterThan(0);
      for (const m of info.metrics) {
        expect(METRICS, `unknown metric ${m}`).to.include(m);
        if (info.type === 'regression') {
          expect(CLASS_METRICS.includes(m), `${m} needs classes, but the task is a regression`).to.equal(
            false,
          );
        }
        if (m === 'f1') {
          expect(info.numClasses, 'f1 is the binary F1 of class 1; multi-class tasks use macro_f1').to.equal(
            2,
          );
        }
      }
    });

    it('keeps every group (related examples) within one split', async () => {
      const t = await task();
      const home = new Map<string, SplitName>();
      for (const split of SPLITS) {
        for (const e of t.splits[split]) {
          if (e.group === undefined) continue;
          const h = home.get(e.group);
          expect(h === undefined || h === split, `group ${e.group} occurs in ${h} and ${split}`).to.equal(
            true,
          );
          home.set(e.group, split);
        }
      }
    });

    it('is deterministic and plain data: a second creation gives the same rows in the same order', async () => {
      const a = await task();
      const b = await factory();
      const problem = plainDataProblem({ info: a.info, splits: a.splits }, 'task');
      expect(problem, `the task must be plain data: ${problem}`).to.equal(null);
      expect(b.info, 'info').to.deep.equal(a.info);
      for (const split of SPLITS) {
        expect(b.splits[split].length, `${split} size`).to.equal(a.splits[split].length);
        const i = b.splits[split].findIndex(
          (e, k) => JSON.stringify(e) !== JSON.stringify(a.splits[split][k]),
        );
        expect(i, `${split}[${i}] differs between two creations`).to.equal(-1);
      }
    });
  });
}
