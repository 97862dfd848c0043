/**
 * Statistics for comparisons with the power to tell strategies apart (docs/compare.md):
 *
 * - a 95 % bootstrap confidence interval of a cell's mean score over test examples and seeds: each
 *   replicate resamples the seeds with replacement and the test examples with replacement (one
 *   index draw per replicate, shared by all seeds, since every seed scores the same test set) and
 *   recomputes the mean over seeds of the metric on the resampled examples; the interval is the
 *   2.5 and 97.5 percentiles;
 * - for a strategy against a reference, the paired per-seed differences d_s = score(s) − ref(s),
 *   their paired bootstrap interval (seeds and examples resampled together for both sides), a
 *   two-sided sign test on the signs of d_s (ties dropped) and a two-sided exact paired
 *   permutation (sign-flip) test of their mean.
 *
 * With n seeds neither seed-level test can reach p < 2/2^n (0.0625 for 5 seeds): they say whether
 * the seeds agree; the bootstrap interval, which also resamples the test examples, carries the
 * examples' evidence. Deterministic: the resampling RNG is seeded.
 */
import { Rng } from '@peftkit/api';

/** One run's test predictions: per-example predictions and labels, and how to score them. */
export interface ScoredRun {
  seed: number;
  predictions: ArrayLike<number>;
  labels: ArrayLike<number>;
}

export type Metric = (predictions: ArrayLike<number>, labels: ArrayLike<number>) => number;

export interface Interval {
  low: number;
  high: number;
}

export interface BootstrapOptions {
  replicates?: number;
  level?: number;
  seed?: number;
}

function percentile(sorted: readonly number[], q: number): number {
  // Linear interpolation between order statistics (numpy's default).
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function pick(values: ArrayLike<number>, idx: Int32Array): Float64Array {
  const out = new Float64Array(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = values[idx[i]!]!;
  return out;
}

function checkRuns(runs: readonly ScoredRun[], what: string): number {
  if (runs.length === 0) throw new Error(`${what}: no runs`);
  const n = runs[0]!.labels.length;
  for (const r of runs) {
    if (r.labels.length !== n || r.predictions.length !== n)
      throw new Error(
        `${what}: every run must score the same ${n} test examples (seed ${r.seed} has ${r.labels.length})`,
      );
  }
  return n;
}

/** Bootstrap interval of mean_s f(run_s) when `diff` is absent, or of mean_s f(run_s) − f(ref_s). */
function bootstrap(
  runs: readonly ScoredRun[],
  metric: Metric,
  ref: readonly ScoredRun[] | null,
  o: BootstrapOptions,
): Interval {
  const n = checkRuns(runs, 'bootstrap');
  const B = o.replicates ?? 1000;
  const level = o.level ?? 0.95;
  const rng = new Rng(o.seed ?? 17);
  const S = runs.length;
  const stats: number[] = [];
  const idx = new Int32Array(n);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    let total = 0;
    for (let k = 0; k < S; k++) {
      const s = rng.int(S);
      const r = runs[s]!;
      let v = metric(pick(r.predictions, idx), pick(r.labels, idx));
      if (ref) v -= metric(pick(ref[s]!.predictions, idx), pick(ref[s]!.labels, idx));
      total += v;
    }
    stats.push(total / S);
  }
  stats.sort((a, b) => a - b);
  const tail = (1 - level) / 2;
  return { low: percentile(stats, tail), high: percentile(stats, 1 - tail) };
}

/** 95 % bootstrap interval of a cell's mean score over test examples and seeds. */
export function bootstrapMeanInterval(
  runs: readonly ScoredRun[],
  metric: Metric,
  options: BootstrapOptions = {},
): Interval {
  return bootstrap(runs, metric, null, options);
}

/** Two-sided sign test: P(at least as extreme a split | p = 1/2), ties dropped; 1 with no signs. */
export function signTest(differences: readonly number[]): number {
  const pos = differences.filter((d) => d > 0).length;
  const neg = differences.filter((d) => d < 0).length;
  const n = pos + neg;
  if (n === 0) return 1;
  const k = Math.min(pos, neg);
  let tail = 0;
  for (let i = 0; i <= k; i++) tail += binomial(n, i);
  return Math.min(1, (2 * tail) / 2 ** n);
}

function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}

/**
 * Two-sided exact paired permutation test of mean(d): the share of the 2^n sign flips whose |mean|
 * is at least the observed one (n ≤ 20; the observed assignment counts).
 */
export function pairedPermutationTest(differences: readonly number[]): number {
  const n = differences.length;
  if (n === 0) return 1;
  if (n > 20) throw new Error(`pairedPermutationTest: exact enumeration needs at most 20 pairs, got ${n}`);
  const observed = Math.abs(differences.reduce((a, b) => a + b, 0));
  const eps = 1e-12 * Math.max(1, observed);
  let hits = 0;
  for (let mask = 0; mask < 2 ** n; mask++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += mask & (1 << i) ? -differences[i]! : differences[i]!;
    if (Math.abs(s) >= observed - eps) hits++;
  }
  return hits / 2 ** n;
}

export interface PairedComparison {
  /** Seeds both sides ran, in order. */
  seeds: number[];
  /** d_s = score(s) − reference(s) per seed. */
  differences: number[];
  mean: number;
  /** Paired bootstrap interval of the mean difference (seeds and test examples resampled). */
  interval: Interval;
  signP: number;
  permutationP: number;
}

/** A strategy's runs against a reference's runs, paired by seed (seeds only one side has are left out). */
export function pairedComparison(
  runs: readonly ScoredRun[],
  reference: readonly ScoredRun[],
  metric: Metric,
  options: BootstrapOptions = {},
): PairedComparison | null {
  const refBySeed = new Map(reference.map((r) => [r.seed, r]));
  const a = runs.filter((r) => refBySeed.has(r.seed)).sort((x, y) => x.seed - y.seed);
  if (a.length === 0) return null;
  const b = a.map((r) => refBySeed.get(r.seed)!);
  const differences = a.map(
    (r, i) => metric(r.predictions, r.labels) - metric(b[i]!.predictions, b[i]!.labels),
  );
  return {
    seeds: a.map((r) => r.seed),
    differences,
    mean: differences.reduce((x, y) => x + y, 0) / differences.length,
    interval: bootstrap(a, metric, b, options),
    signP: signTest(differences),
    permutationP: pairedPermutationTest(differences),
  };
}
