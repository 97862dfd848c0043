import type { Example, SplitName, Task } from '@peftkit/api';
import { normaliseText } from '../src/split.js';

export const SPLITS: readonly SplitName[] = ['train', 'validation', 'test'];

/** Normalised texts (with the pair, if any) that occur in more than one split. */
export function textsInTwoSplits(task: Task): string[] {
  const seen = new Map<string, SplitName>();
  const shared = new Set<string>();
  for (const split of SPLITS) {
    for (const e of task.splits[split]) {
      const key = `${normaliseText(e.text)}\t${normaliseText(e.pair ?? '')}`;
      const first = seen.get(key);
      if (first === undefined) seen.set(key, split);
      else if (first !== split) shared.add(key);
    }
  }
  return [...shared];
}

export function countLabel(rows: readonly Example[], label: number): number {
  return rows.filter((e) => e.label === label).length;
}

/** "train 0.2855, validation 0.2852, test 0.2855": share of `label` per split, for the test log. */
export function ratioLine(task: Task, label: number): string {
  return SPLITS.map(
    (s) => `${s} ${(countLabel(task.splits[s], label) / task.splits[s].length).toFixed(4)}`,
  ).join(', ');
}
