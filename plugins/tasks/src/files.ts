/**
 * `tsv` and `jsonl`: users' own GLUE/SuperGLUE-style data (single sentences or sentence pairs,
 * classification or regression) read from files named in the preset.
 */
import { resolve } from 'node:path';
import {
  ConfigError,
  DataError,
  Rng,
  deriveSeed,
  type Example,
  type MetricName,
  type Task,
} from '@peftkit/api';
import { splitSeedOption, validateOptions, type OptionSchema } from './options.js';
import {
  MAX_CLASS_INDEX,
  parseJsonl,
  parseTsv,
  type ColumnRef,
  type LabelSpec,
  type ParsedRow,
} from './parse.js';
import { assignSplits, countsByFraction, normaliseText } from './split.js';
import { thousands } from './describe.js';

export type FileFormat = 'tsv' | 'jsonl';

const METRICS: readonly MetricName[] = ['accuracy', 'f1', 'macro_f1', 'mcc', 'pearson', 'spearman'];
const REGRESSION_METRICS: ReadonlySet<MetricName> = new Set(['pearson', 'spearman']);

function fileOptionsSchema(format: FileFormat): OptionSchema {
  const column = (what: string, fallback?: string): OptionSchema => ({
    ...(format === 'tsv'
      ? {
          anyOf: [
            { type: 'string', minLength: 1 },
            { type: 'integer', minimum: 0 },
          ],
        }
      : { type: 'string', minLength: 1 }),
    ...(fallback !== undefined ? { default: fallback } : {}),
    description:
      format === 'tsv'
        ? `${what}: a header name, or a 0-based column index (required when header is false).`
        : `${what}: the key in each JSON object.`,
  });
  const path = (what: string): OptionSchema => ({
    type: 'string',
    minLength: 1,
    description: `${what} file (${format.toUpperCase()}), relative to the preset's directory or absolute.`,
  });
  return {
    type: 'object',
    additionalProperties: false,
    required: ['train', 'test'],
    properties: {
      train: path('Training'),
      validation: {
        ...path('Validation'),
        description:
          `Validation file (${format.toUpperCase()}), relative to the preset's directory or absolute. When ` +
          'absent, 10% of the training rows are held out (seeded with splitSeed, stratified by label for ' +
          'classification, identical texts kept together).',
      },
      test: path('Test (labelled)'),
      textColumn: column('Column of the (first) text', 'text'),
      pairColumn: column('Column of the second text of a sentence-pair task; absent for single sentences'),
      labelColumn: column('Column of the label', 'label'),
      ...(format === 'tsv'
        ? {
            header: {
              type: 'boolean',
              default: true,
              description: 'Whether the first line is a header of column names.',
            } satisfies OptionSchema,
          }
        : {}),
      type: {
        type: 'string',
        enum: ['classification', 'regression'],
        default: 'classification',
        description: 'Classification (class labels) or regression (real-valued targets).',
      },
      labels: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        minItems: 2,
        description:
          'Label names in class-index order, as they appear in the label column. Without it, ' +
          'classification labels must be the integers 0..C-1.',
      },
      metrics: {
        type: 'array',
        items: { type: 'string', enum: METRICS },
        minItems: 1,
        description:
          'Metrics to report; the first selects checkpoints. Default: accuracy and f1 (two classes) or ' +
          'accuracy and macro_f1 (more) for classification, pearson and spearman for regression.',
      },
      splitSeed: splitSeedOption,
    },
  };
}

export const tsvOptionsSchema = fileOptionsSchema('tsv');
export const jsonlOptionsSchema = fileOptionsSchema('jsonl');

/** Build a task from TSV files; relative paths are resolved against `baseDir`. */
export function createTsvTask(options: Record<string, unknown>, baseDir: string = process.cwd()): Task {
  return createFileTask('tsv', options, baseDir);
}

/** Build a task from JSONL files; relative paths are resolved against `baseDir`. */
export function createJsonlTask(options: Record<string, unknown>, baseDir: string = process.cwd()): Task {
  return createFileTask('jsonl', options, baseDir);
}

function createFileTask(format: FileFormat, options: Record<string, unknown>, baseDir: string): Task {
  const o = validateOptions(format, format === 'tsv' ? tsvOptionsSchema : jsonlOptionsSchema, options);
  const type = o.type as 'classification' | 'regression';
  const names = o.labels as string[] | undefined;
  const splitSeed = o.splitSeed as number;
  if (names && type === 'regression') {
    throw new ConfigError(
      `task '${format}': labels apply to classification only`,
      undefined,
      'options.labels',
    );
  }
  if (names && names.length > MAX_CLASS_INDEX + 1) {
    throw new ConfigError(
      `task '${format}': ${names.length} label names, over the limit of ${MAX_CLASS_INDEX + 1} classes`,
      undefined,
      'options.labels',
    );
  }
  if (names && new Set(names).size !== names.length) {
    throw new ConfigError(`task '${format}': label names must be distinct`, undefined, 'options.labels');
  }
  const spec: LabelSpec = { type, names };
  const columns = {
    text: o.textColumn as ColumnRef,
    pair: o.pairColumn as ColumnRef | undefined,
    label: o.labelColumn as ColumnRef,
  };
  const read = (role: string, path: string): ParsedRow[] => {
    const file = resolve(baseDir, path);
    return format === 'tsv'
      ? parseTsv(file, role, columns, o.header as boolean, spec)
      : parseJsonl(file, role, columns, spec);
  };

  const trainFile = o.train as string;
  let train = read('train', trainFile);
  // The classes are those of the training data (or the `labels` option): a label that only the
  // validation or test data has would silently grow the head and change the metrics.
  const trainLabels = new Set(train.map((r) => r.label));
  const checkLabels = (rows: ParsedRow[], path: string): ParsedRow[] => {
    if (type !== 'classification' || names) return rows;
    const bad = rows.find((r) => !trainLabels.has(r.label));
    if (bad) {
      const known = [...trainLabels].sort((a, b) => a - b);
      throw new DataError(
        `label ${bad.label} does not occur in the training data ${trainFile} (its labels: ${known.join(', ')}); ` +
          'expected one of them, or list every class in the `labels` option',
        resolve(baseDir, path),
        bad.line,
      );
    }
    return rows;
  };
  const test = checkLabels(read('test', o.test as string), o.test as string);
  let validation: ParsedRow[];
  let validationHow: string;
  if (o.validation !== undefined) {
    validation = checkLabels(read('validation', o.validation as string), o.validation as string);
    validationHow = `validation ${o.validation as string} (${thousands(validation.length)} rows)`;
  } else {
    const rng = new Rng(deriveSeed(splitSeed, `${format}/validation`));
    const cellOf = (r: ParsedRow) => (type === 'classification' ? String(r.label) : 'all');
    const groupOf = (r: ParsedRow) => `${normaliseText(r.text)}\t${normaliseText(r.pair ?? '')}`;
    [train, validation] = assignSplits(
      train,
      { cellOf, groupOf, counts: (_, n) => countsByFraction(n, 0.1, 0) },
      rng,
    );
    if (validation.length === 0) {
      throw new DataError(
        `train data: ${train.length} rows are too few to hold out 10% for validation; expected a \`validation\` file`,
        resolve(baseDir, trainFile),
      );
    }
    validationHow =
      `validation = ${thousands(validation.length)} rows held out from the training file (10%, seeded with ` +
      `splitSeed ${splitSeed}, which is independent of the training seed` +
      `${type === 'classification' ? ', stratified by label' : ''}, identical texts kept in one split)`;
  }

  let numClasses = 1;
  if (type === 'classification') {
    numClasses = names?.length ?? Math.max(...trainLabels) + 1;
    if (numClasses < 2) {
      throw new DataError('every label is 0; expected at least two classes', resolve(baseDir, trainFile));
    }
  }
  const metrics = (o.metrics as MetricName[] | undefined) ?? defaultMetrics(type, numClasses);
  for (const m of metrics) {
    const ok =
      type === 'regression'
        ? REGRESSION_METRICS.has(m)
        : !REGRESSION_METRICS.has(m) && (m !== 'f1' || numClasses === 2);
    if (!ok) {
      throw new ConfigError(
        `task '${format}': metric '${m}' does not fit a ${type} task${type === 'classification' ? ` with ${numClasses} classes` : ''}`,
        undefined,
        'options.metrics',
        m === 'f1' ? 'use macro_f1 for more than two classes' : undefined,
      );
    }
  }

  const pair = columns.pair !== undefined;
  const description =
    `User data read from ${format.toUpperCase()} files: train ${trainFile} (${thousands(train.length)} rows after ` +
    `any hold-out), ${validationHow}, test ${o.test as string} (${thousands(test.length)} rows); paths resolved ` +
    `against ${baseDir}. Text column '${columns.text}'${pair ? `, pair column '${columns.pair}'` : ''}, label ` +
    `column '${columns.label}'; ${type}` +
    (type === 'classification'
      ? ` with ${numClasses} classes (${names ? names.join(', ') : `integer labels 0..${numClasses - 1}`})`
      : '') +
    `. Source and license: as stated by the data's owner; peftkit does not know or check them.`;
  const toExample = (r: ParsedRow): Example =>
    r.pair === undefined ? { text: r.text, label: r.label } : { text: r.text, pair: r.pair, label: r.label };
  return {
    info: { name: format, type, numClasses, labelNames: names, pair, metrics, description },
    splits: { train: train.map(toExample), validation: validation.map(toExample), test: test.map(toExample) },
  };
}

function defaultMetrics(type: 'classification' | 'regression', numClasses: number): MetricName[] {
  if (type === 'regression') return ['pearson', 'spearman'];
  return numClasses === 2 ? ['accuracy', 'f1'] : ['accuracy', 'macro_f1'];
}
