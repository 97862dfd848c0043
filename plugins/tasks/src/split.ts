/**
 * Seeded, stratified, group-aware splitting shared by all tasks.
 *
 * `assignSplits` gives every stratum ("cell": a label, or domain × label) an exact number of rows per
 * split, while keeping all rows of a group (the same normalised text, the same speech) in one split.
 * Groups with several rows are placed first, each in a split drawn in proportion to the room left
 * there; single rows then fill the remaining room in shuffled order. The counts are exact whenever
 * the groups fit, which they do for every built-in corpus (the tests check the counts).
 */
import type { Rng } from '@peftkit/api';

/** Rows per split, in the order train, validation, test. */
export type SplitCounts = readonly [train: number, validation: number, test: number];

export const SPLIT_NAMES = ['train', 'validation', 'test'] as const;

/**
 * Text key used for duplicate detection and the "no text in two splits" check: Unicode NFKC,
 * lower case, runs of whitespace collapsed to one space, trimmed.
 */
export function normaliseText(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** Split `n` rows by fractions: validation and test are rounded, train takes the rest. */
export function countsByFraction(n: number, validation: number, test: number): SplitCounts {
  const v = Math.round(n * validation);
  const t = Math.round(n * test);
  return [n - v - t, v, t];
}

export interface SplitPlan<T> {
  /** Stratum of a row. */
  cellOf(item: T): string;
  /** Group of a row; rows with the same key always land in the same split. */
  groupOf(item: T): string;
  /** Rows per split for a cell of `size` rows (must sum to `size`). */
  counts(cell: string, size: number): SplitCounts;
}

export function assignSplits<T>(items: readonly T[], plan: SplitPlan<T>, rng: Rng): [T[], T[], T[]] {
  const sizes = new Map<string, number>();
  for (const item of items) sizes.set(plan.cellOf(item), (sizes.get(plan.cellOf(item)) ?? 0) + 1);
  const room = new Map<string, number[]>();
  for (const [cell, size] of sizes) {
    const counts = plan.counts(cell, size);
    if (counts.some((c) => c < 0) || counts[0] + counts[1] + counts[2] !== size) {
      throw new Error(`split counts ${counts.join('/')} do not partition the ${size} rows of '${cell}'`);
    }
    room.set(cell, [...counts]);
  }

  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = plan.groupOf(item);
    const g = groups.get(key);
    if (g) g.push(item);
    else groups.set(key, [item]);
  }
  const order = rng.shuffle(Array.from(groups.values()));
  const out: [T[], T[], T[]] = [[], [], []];

  for (const group of order.filter((g) => g.length > 1)) {
    const need = new Map<string, number>();
    for (const item of group) need.set(plan.cellOf(item), (need.get(plan.cellOf(item)) ?? 0) + 1);
    const slack = (s: number) => Math.min(...[...need].map(([cell, n]) => room.get(cell)![s]! - n));
    let candidates = [0, 1, 2].filter((s) => slack(s) >= 0);
    // A group too big for any split keeps its rows together and lets that split overflow.
    if (candidates.length === 0) candidates = [[0, 1, 2].reduce((a, b) => (slack(b) > slack(a) ? b : a))];
    const first = room.get(plan.cellOf(group[0]!))!;
    const s = weightedPick(
      candidates,
      candidates.map((c) => Math.max(first[c]!, 0)),
      rng,
    );
    for (const item of group) {
      room.get(plan.cellOf(item))![s]!--;
      out[s].push(item);
    }
  }
  for (const group of order.filter((g) => g.length === 1)) {
    const item = group[0]!;
    const r = room.get(plan.cellOf(item))!;
    let s = r.findIndex((c) => c > 0);
    if (s < 0) s = r.indexOf(Math.max(...r));
    r[s]!--;
    out[s as 0 | 1 | 2].push(item);
  }
  // Multi-row groups were placed first; shuffle so that they are not bunched at the front.
  for (const split of out) rng.shuffle(split);
  return out;
}

function weightedPick(candidates: readonly number[], weights: readonly number[], rng: Rng): number {
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) return candidates[0]!;
  let u = rng.next() * total;
  for (let i = 0; i < candidates.length; i++) {
    u -= weights[i]!;
    if (u < 0) return candidates[i]!;
  }
  return candidates[candidates.length - 1]!;
}

/**
 * At most `max` rows, drawn without replacement, keeping the label proportions of `items`
 * (largest-remainder rounding). Returns all rows, shuffled, when there are no more than `max`.
 */
export function sampleStratified<T>(
  items: readonly T[],
  labelOf: (t: T) => number,
  max: number,
  rng: Rng,
): T[] {
  if (items.length <= max) return rng.shuffle([...items]);
  const byLabel = new Map<number, T[]>();
  for (const item of items) {
    const l = labelOf(item);
    const list = byLabel.get(l);
    if (list) list.push(item);
    else byLabel.set(l, [item]);
  }
  const labels = [...byLabel.keys()].sort((a, b) => a - b);
  const exact = labels.map((l) => (max * byLabel.get(l)!.length) / items.length);
  const quota = exact.map(Math.floor);
  let left = max - quota.reduce((a, b) => a + b, 0);
  const byRemainder = labels
    .map((_, i) => i)
    .sort((a, b) => exact[b]! - quota[b]! - (exact[a]! - quota[a]!) || a - b);
  for (const i of byRemainder) {
    if (left === 0) break;
    quota[i]!++;
    left--;
  }
  const out: T[] = [];
  labels.forEach((l, i) => out.push(...rng.shuffle([...byLabel.get(l)!]).slice(0, quota[i])));
  return rng.shuffle(out);
}

/** Count of each label value, for descriptions and reports. */
export function labelCounts(rows: readonly { label: number }[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of rows) m.set(r.label, (m.get(r.label) ?? 0) + 1);
  return m;
}
