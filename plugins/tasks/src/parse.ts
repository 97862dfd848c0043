/**
 * Readers for users' TSV and JSONL files (GLUE/SuperGLUE style). Every problem is a DataError that
 * names the file, the line and the column or field, and says what was expected.
 *
 * TSV: one row per line, fields separated by tabs, no quoting or escaping (as in the GLUE files);
 * blank lines are skipped; every row must have as many fields as the header (or, without a header,
 * as the first row). JSONL: one JSON object per line; blank lines are skipped.
 */
import { readFileSync } from 'node:fs';
import { DataError, decodeText, textLines } from '@peftkit/api';

/** A column by name (header or JSON key) or by 0-based index (TSV). */
export type ColumnRef = string | number;

export interface LabelSpec {
  type: 'classification' | 'regression';
  /** Label names in class-index order; when absent, classification labels are integers >= 0. */
  names?: readonly string[];
}

export interface ParsedRow {
  text: string;
  pair?: string;
  label: number;
  /** 1-based line in its file, for later messages. */
  line: number;
}

export interface Columns {
  text: ColumnRef;
  pair?: ColumnRef;
  label: ColumnRef;
}

/** Read a whole file; missing files, directories, files that are not UTF-8 text and empty files get DataErrors. */
export function readDataFile(path: string, role: string): string[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, not a file' : String(err);
    throw new DataError(`${role} data: ${why}; expected a readable data file`, path);
  }
  const decoded = decodeText(bytes, path, `${role} data`);
  if (decoded.text.trim() === '')
    throw new DataError(`${role} data: file is empty; expected at least one row`, path);
  return textLines(decoded);
}

/** Class indices above this are refused: a typo'd label would otherwise build a huge head. */
export const MAX_CLASS_INDEX = 9_999;

/** A field's value as shown in messages: quoted, control characters escaped, at most 60 characters. */
function show(raw: unknown): string {
  const s = typeof raw === 'string' ? JSON.stringify(raw) : (JSON.stringify(raw) ?? String(raw));
  return s.length > 60 ? `${s.slice(0, 59)}…` : s;
}

/** Parse a label field (already a string or a JSON value) into a class index or target value. */
function parseLabel(raw: unknown, spec: LabelSpec, column: string, file: string, line: number): number {
  const shown = show(raw);
  if (spec.type === 'regression') {
    const v =
      typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (!Number.isFinite(v)) {
      const what =
        Number.isNaN(v) && !/^\s*[+-]?nan\s*$/i.test(String(raw)) ? 'not a number' : `${v} (not finite)`;
      throw new DataError(
        `${column}: ${shown} is ${what}; expected a finite real-valued regression target`,
        file,
        line,
      );
    }
    return v;
  }
  if (spec.names) {
    const key =
      typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : '';
    const index = spec.names.indexOf(key);
    if (index < 0) {
      throw new DataError(
        `${column}: unknown label ${shown}; expected one of ${spec.names.map((n) => show(n)).join(', ')}`,
        file,
        line,
      );
    }
    return index;
  }
  const v =
    typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(v) || v < 0) {
    throw new DataError(
      `${column}: ${shown} is not a class index; expected an integer 0..C-1 ` +
        '(or list the label names in the `labels` option)',
      file,
      line,
    );
  }
  if (v > MAX_CLASS_INDEX) {
    throw new DataError(
      `${column}: class index ${shown} is above the limit of ${MAX_CLASS_INDEX} (a task has at most ${MAX_CLASS_INDEX + 1} classes); expected an integer 0..C-1`,
      file,
      line,
    );
  }
  return v;
}

export function parseTsv(
  file: string,
  role: string,
  columns: Columns,
  header: boolean,
  spec: LabelSpec,
): ParsedRow[] {
  const lines = readDataFile(file, role);
  let names: string[] | undefined;
  let first = 0;
  if (header) {
    names = lines[0]!.split('\t');
    first = 1;
  }
  const width = names?.length ?? lines.find((l) => l.trim() !== '')!.split('\t').length;
  const describeColumn = (i: number) => (names ? `column '${names[i]}'` : `column ${i}`);
  const resolve = (ref: ColumnRef, option: string): number => {
    if (typeof ref === 'number') {
      if (ref >= width) {
        throw new DataError(
          `column ${ref} (option ${option}) is out of range; expected an index below ${width}, the number of columns`,
          file,
          1,
        );
      }
      return ref;
    }
    if (!names) {
      throw new DataError(
        `option ${option} names column '${ref}', but the file has no header; expected a 0-based index`,
        file,
      );
    }
    const i = names.indexOf(ref);
    if (i < 0) {
      throw new DataError(
        `column '${ref}' (option ${option}) is not in the header; expected one of ${names.map((n) => `'${n}'`).join(', ')}`,
        file,
        1,
      );
    }
    return i;
  };
  const textAt = resolve(columns.text, 'textColumn');
  const pairAt = columns.pair === undefined ? undefined : resolve(columns.pair, 'pairColumn');
  const labelAt = resolve(columns.label, 'labelColumn');

  const rows: ParsedRow[] = [];
  for (let i = first; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const line = i + 1;
    const fields = raw.split('\t');
    if (fields.length !== width) {
      const detail =
        fields.length < width
          ? `${describeColumn(fields.length)} is missing`
          : `there is an extra field after ${describeColumn(width - 1)}`;
      throw new DataError(
        `expected ${width} tab-separated columns${names ? ` (${names.join(', ')})` : ''}, found ${fields.length}: ${detail}`,
        file,
        line,
      );
    }
    const text = fields[textAt]!;
    if (text.trim() === '')
      throw new DataError(`${describeColumn(textAt)} is empty; expected text`, file, line);
    const row: ParsedRow = {
      text,
      label: parseLabel(fields[labelAt]!, spec, describeColumn(labelAt), file, line),
      line,
    };
    if (pairAt !== undefined) {
      const pair = fields[pairAt]!;
      if (pair.trim() === '')
        throw new DataError(`${describeColumn(pairAt)} is empty; expected text`, file, line);
      row.pair = pair;
    }
    rows.push(row);
  }
  if (rows.length === 0)
    throw new DataError(`${role} data: no rows after the header; expected at least one`, file);
  return rows;
}

export function parseJsonl(file: string, role: string, columns: Columns, spec: LabelSpec): ParsedRow[] {
  const lines = readDataFile(file, role);
  const rows: ParsedRow[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const line = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new DataError(
        `invalid JSON (${(err as Error).message}); expected one JSON object per line`,
        file,
        line,
      );
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new DataError(
        `expected a JSON object, found ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`,
        file,
        line,
      );
    }
    const obj = value as Record<string, unknown>;
    // A missing key is most often a column option that does not match the data: say which.
    const missing = (ref: ColumnRef, option: string, what: string) =>
      new DataError(
        `field '${ref}' (${option}) is missing; expected ${what} (the line has: ${Object.keys(obj).join(', ') || 'no fields'})`,
        file,
        line,
      );
    const text = (ref: ColumnRef, option: string): string => {
      const v = obj[String(ref)];
      if (v === undefined) throw missing(ref, option, 'a non-empty string');
      if (typeof v !== 'string' || v.trim() === '') {
        throw new DataError(
          `field '${ref}' is ${JSON.stringify(v)}; expected a non-empty string`,
          file,
          line,
        );
      }
      return v;
    };
    const labelKey = String(columns.label);
    if (obj[labelKey] === undefined || obj[labelKey] === null)
      throw missing(labelKey, 'labelColumn', 'a label');
    const row: ParsedRow = {
      text: text(columns.text, 'textColumn'),
      label: parseLabel(obj[labelKey], spec, `field '${labelKey}'`, file, line),
      line,
    };
    if (columns.pair !== undefined) row.pair = text(columns.pair, 'pairColumn');
    rows.push(row);
  }
  return rows;
}
