/**
 * Evaluation metrics for classification (class indices) and regression (real values).
 *
 * Conventions where a metric is undefined (documented because the literature disagrees):
 * - f1 (binary, positive class 1): 0 when there is no positive label and no positive prediction
 *   (2·tp + fp + fn = 0), as scikit-learn does with `zero_division=0`.
 * - macro_f1: the mean of per-class F1 over the classes that occur in the labels or the predictions;
 *   every such class has 2·tp + fp + fn > 0, so each term is defined.
 * - mcc: Gorodkin's R_K, which equals Matthews' coefficient for two classes; 0 when either side is
 *   constant (a zero denominator), because a constant predictor carries no information.
 * - pearson and spearman: 0 when either series is constant (zero variance), for the same reason.
 * Scores are never NaN, so that "best checkpoint" comparisons stay well-defined.
 */
import type { MetricName, Metrics } from '@peftkit/api';

export type TaskType = 'classification' | 'regression';

const CLASSIFICATION_ONLY: ReadonlySet<MetricName> = new Set(['accuracy', 'f1', 'macro_f1', 'mcc']);

/**
 * Compute the named metrics. For classification, predictions and labels are class indices
 * (non-negative integers); for regression, real values.
 */
export function computeMetrics(
  names: readonly MetricName[],
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
  type: TaskType,
): Metrics {
  if (predictions.length !== labels.length) {
    throw new Error(`computeMetrics: ${predictions.length} predictions but ${labels.length} labels`);
  }
  if (labels.length === 0) throw new Error('computeMetrics: no examples to score');
  if (type === 'classification') {
    checkClassIndices(predictions, 'prediction');
    checkClassIndices(labels, 'label');
  } else {
    checkFinite(predictions, 'prediction');
    checkFinite(labels, 'label');
  }
  const out: Metrics = {};
  for (const name of names) {
    if (type === 'regression' && CLASSIFICATION_ONLY.has(name)) {
      throw new Error(`computeMetrics: metric '${name}' needs class indices, but the task is a regression`);
    }
    out[name] = computeOne(name, predictions, labels);
  }
  return out;
}

function computeOne(name: MetricName, p: ArrayLike<number>, y: ArrayLike<number>): number {
  switch (name) {
    case 'accuracy':
      return accuracy(p, y);
    case 'f1':
      return binaryF1(p, y);
    case 'macro_f1':
      return macroF1(p, y);
    case 'mcc':
      return matthews(p, y);
    case 'pearson':
      return pearson(p, y);
    case 'spearman':
      return spearman(p, y);
  }
}

function checkClassIndices(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0) {
      throw new Error(`computeMetrics: ${what} ${i} is ${v}; expected a class index (integer >= 0)`);
    }
  }
}

function checkFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new Error(`computeMetrics: ${what} ${i} is ${values[i]}; expected a finite number`);
    }
  }
}

export function accuracy(p: ArrayLike<number>, y: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < y.length; i++) if (p[i] === y[i]) correct++;
  return correct / y.length;
}

/** F1 of class `positive` (default 1): 2·tp / (2·tp + fp + fn); 0 when that denominator is 0. */
export function binaryF1(p: ArrayLike<number>, y: ArrayLike<number>, positive = 1): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < y.length; i++) {
    const predicted = p[i] === positive;
    const actual = y[i] === positive;
    if (predicted && actual) tp++;
    else if (predicted) fp++;
    else if (actual) fn++;
  }
  const denominator = 2 * tp + fp + fn;
  return denominator === 0 ? 0 : (2 * tp) / denominator;
}

export function macroF1(p: ArrayLike<number>, y: ArrayLike<number>): number {
  const classes = new Set<number>();
  for (let i = 0; i < y.length; i++) {
    classes.add(y[i]!);
    classes.add(p[i]!);
  }
  let sum = 0;
  for (const c of classes) sum += binaryF1(p, y, c);
  return sum / classes.size;
}

/**
 * Matthews correlation, multi-class R_K (Gorodkin 2004):
 *   (c·s − Σ_k p_k·t_k) / sqrt((s² − Σ_k p_k²)(s² − Σ_k t_k²))
 * with c correct predictions, s examples, p_k predictions of class k and t_k labels of class k.
 * For two classes this is exactly (tp·tn − fp·fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)).
 */
export function matthews(p: ArrayLike<number>, y: ArrayLike<number>): number {
  const predicted = new Map<number, number>();
  const actual = new Map<number, number>();
  let correct = 0;
  for (let i = 0; i < y.length; i++) {
    predicted.set(p[i]!, (predicted.get(p[i]!) ?? 0) + 1);
    actual.set(y[i]!, (actual.get(y[i]!) ?? 0) + 1);
    if (p[i] === y[i]) correct++;
  }
  const s = y.length;
  let sumPT = 0;
  for (const [k, pk] of predicted) sumPT += pk * (actual.get(k) ?? 0);
  let sumP2 = 0;
  for (const pk of predicted.values()) sumP2 += pk * pk;
  let sumT2 = 0;
  for (const tk of actual.values()) sumT2 += tk * tk;
  const denominator = Math.sqrt((s * s - sumP2) * (s * s - sumT2));
  return denominator === 0 ? 0 : (correct * s - sumPT) / denominator;
}

/** Pearson correlation; 0 when either series has zero variance. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let meanA = 0;
  let meanB = 0;
  for (let i = 0; i < n; i++) {
    meanA += a[i]!;
    meanB += b[i]!;
  }
  meanA /= n;
  meanB /= n;
  let cov = 0;
  let varA = 0;
  let varB = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - meanA;
    const db = b[i]! - meanB;
    cov += da * db;
    varA += da * da;
    varB += db * db;
  }
  if (varA === 0 || varB === 0) return 0;
  // Clamp: rounding can push a perfect correlation a hair past ±1.
  return Math.max(-1, Math.min(1, cov / Math.sqrt(varA * varB)));
}

/** Spearman rank correlation: Pearson on ranks, ties getting the average of the ranks they span. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return pearson(averageRanks(a), averageRanks(b));
}

/** 1-based ranks; tied values share the mean of the ranks they occupy. */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((i, j) => values[i]! - values[j]!);
  const ranks = new Float64Array(values.length);
  let start = 0;
  while (start < order.length) {
    let end = start + 1;
    while (end < order.length && values[order[end]!] === values[order[start]!]) end++;
    // Positions start..end-1 hold equal values: ranks start+1..end, mean (start+1+end)/2.
    const rank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) ranks[order[k]!] = rank;
    start = end;
  }
  return ranks;
}

/**
 * The index of the largest logit in each row of a row-major [rows, numClasses] matrix. Ties go to
 * the lowest index; NaN never wins (a row of NaN gives 0).
 */
export function argmaxRows(logits: Float32Array, numClasses: number): Int32Array {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`argmaxRows: numClasses is ${numClasses}; expected a positive integer`);
  }
  if (logits.length % numClasses !== 0) {
    throw new Error(`argmaxRows: ${logits.length} logits is not a multiple of numClasses ${numClasses}`);
  }
  const rows = logits.length / numClasses;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestValue = -Infinity;
    for (let c = 0; c < numClasses; c++) {
      const v = logits[r * numClasses + c]!;
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[r] = best;
  }
  return out;
}
