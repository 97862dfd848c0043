/**
 * Per-example predictions: the input files `peftkit predict` reads (TSV or JSONL texts, with an
 * optional second text and gold label) and the JSONL rows it and `peftkit eval --predictions`
 * write: the text(s), the predicted label, its probabilities by label and the raw logits.
 */
import type { Example, TaskInfo } from '@peftkit/api';
import { DataError } from '@peftkit/api';
import { readFileSync } from 'node:fs';

export interface Prediction {
  split?: string;
  text: string;
  pair?: string;
  /** Predicted label (its name when the task has names), or the predicted value for regression. */
  label: string | number;
  /** Softmax over the logits by label (classification). */
  probabilities?: Record<string, number>;
  logits: number[];
  /** The gold label, when the input had one. */
  gold?: string | number;
}

const labelName = (info: TaskInfo, i: number): string | number => info.labelNames?.[i] ?? i;

/**
 * A gold label as the task's class index: a label name of the task, or an integer index (for
 * regression, the number). `where` names the place in the file for errors.
 */
function goldIndex(info: TaskInfo, raw: unknown, file: string, where: string): number {
  if (info.type === 'regression') {
    const v = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isFinite(v))
      throw new DataError(`${where}: label: expected a number, found ${JSON.stringify(raw)}`, file);
    return v;
  }
  const byName = info.labelNames?.indexOf(String(raw)) ?? -1;
  if (byName >= 0) return byName;
  const i = typeof raw === 'number' ? raw : /^\d+$/.test(String(raw)) ? Number(raw) : NaN;
  if (Number.isInteger(i) && i >= 0 && i < info.numClasses) return i;
  throw new DataError(
    `${where}: label: expected one of ${(info.labelNames ?? []).map((n) => JSON.stringify(n)).join(', ') || `0..${info.numClasses - 1}`}, found ${JSON.stringify(raw)}`,
    file,
  );
}

/** Texts to predict from a .jsonl file or a TSV file with a header row. */
export function readPredictionInput(file: string, info: TaskInfo): Example[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DataError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  }
  const lines = text.split(/\r?\n/);
  const out: Example[] = [];
  const add = (where: string, t: unknown, pair: unknown, label: unknown): void => {
    if (typeof t !== 'string' || t === '')
      throw new DataError(`${where}: text: expected a non-empty string`, file);
    if (info.pair && (typeof pair !== 'string' || pair === ''))
      throw new DataError(
        `${where}: pair: the task classifies text pairs, so every row needs its second text`,
        file,
      );
    out.push({
      text: t,
      ...(info.pair ? { pair: pair as string } : {}),
      // NaN: no gold label.
      label: label === undefined || label === '' ? NaN : goldIndex(info, label, file, where),
    });
  };
  if (/\.jsonl?$/i.test(file)) {
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch (e) {
        throw new DataError(`line ${i + 1}: not valid JSON: ${(e as Error).message}`, file);
      }
      if (typeof row !== 'object' || row === null || Array.isArray(row))
        throw new DataError(
          `line ${i + 1}: expected an object {"text": ..., "pair"?: ..., "label"?: ...}`,
          file,
        );
      const r = row as Record<string, unknown>;
      add(`line ${i + 1}`, r.text, r.pair, r.label);
    });
  } else {
    const header = (lines[0] ?? '').split('\t');
    const col = (name: string) => header.indexOf(name);
    if (col('text') < 0)
      throw new DataError(
        `line 1: expected a header row with a "text" column (and optionally "pair", "label"), found ${JSON.stringify(header)}`,
        file,
      );
    lines.slice(1).forEach((line, i) => {
      if (line.trim() === '') return;
      const cells = line.split('\t');
      if (cells.length !== header.length)
        throw new DataError(`line ${i + 2}: ${cells.length} columns, the header has ${header.length}`, file);
      const cell = (name: string) => (col(name) >= 0 ? cells[col(name)] : undefined);
      add(`line ${i + 2}`, cell('text'), cell('pair'), cell('label'));
    });
  }
  if (out.length === 0) throw new DataError('no texts to predict', file);
  return out;
}

/** Prediction rows for `examples` from their logits ([N, C]; [N] for regression). */
export function predictionsOf(
  info: TaskInfo,
  examples: readonly Example[],
  logits: Float32Array,
  split?: string,
): Prediction[] {
  const C = info.type === 'regression' ? 1 : info.numClasses;
  return examples.map((e, i) => {
    const row = Array.from(logits.subarray(i * C, (i + 1) * C));
    const gold = Number.isNaN(e.label)
      ? {}
      : { gold: info.type === 'regression' ? e.label : labelName(info, e.label) };
    const base = {
      ...(split ? { split } : {}),
      text: e.text,
      ...(e.pair !== undefined ? { pair: e.pair } : {}),
    };
    if (info.type === 'regression') return { ...base, label: row[0]!, logits: row, ...gold };
    const max = Math.max(...row);
    const exp = row.map((v) => Math.exp(v - max));
    const z = exp.reduce((a, b) => a + b, 0);
    let best = 0;
    for (let k = 1; k < C; k++) if (row[k]! > row[best]!) best = k;
    const probabilities = Object.fromEntries(exp.map((v, k) => [String(labelName(info, k)), v / z]));
    return { ...base, label: labelName(info, best), probabilities, logits: row, ...gold };
  });
}

export function toJsonl(rows: readonly object[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}
