/**
 * `peftkit eval RUN_DIR` and `peftkit predict RUN_DIR`: a finished run's trained model scoring a
 * split of its task, or predicting texts (per-example labels, probabilities and logits).
 */
import type { DataSplit, Example, Metrics } from '@peftkit/api';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadResolvedConfig } from '../config/load.js';
import { Workbench, passMemoryOf } from '@peftkit/runtime';
import { type LoadedRun, loadFinishedRun } from './export.js';
import { type Prediction, predictionsOf, readPredictionInput, toJsonl } from './predictions.js';

export interface EvaluateRunOptions {
  runDir: string;
  splits: DataSplit[];
  batchSize?: number;
  /** Also write each example's prediction (JSONL, with its split and gold label) to this file. */
  predictions?: string;
  cwd?: string;
}

/** Run `fn` on a finished run's workbench (its backbone, task and training backend). */
async function withWorkbench<T>(
  runDir: string,
  cwd: string,
  fn: (wb: Workbench, run: LoadedRun) => Promise<T>,
): Promise<T> {
  const run = await loadFinishedRun(resolve(cwd, runDir), cwd);
  const { config, registry } = await loadResolvedConfig(run.dir.file('config.json'), { cwd });
  const log = { info() {}, warn() {}, debug() {} };
  const backend = await registry.create(
    'training-backend',
    config.backend,
    registry.context({ baseDir: run.dir.info.baseDirs?.backend ?? cwd, log }),
  );
  try {
    const wb = new Workbench({
      backbone: run.backbone,
      task: run.task,
      backend,
      types: run.types,
      seed: run.dir.info.seed,
      log,
      passMemory: passMemoryOf(config),
    });
    return await fn(wb, run);
  } finally {
    await backend.dispose();
  }
}

export async function evaluateRun(
  opts: EvaluateRunOptions,
): Promise<{ run: string; metrics: Partial<Record<DataSplit, Metrics>>; predictions?: string }> {
  const cwd = opts.cwd ?? process.cwd();
  return withWorkbench(opts.runDir, cwd, async (wb, run) => {
    const spec = Workbench.specOf(run.architecture);
    const batchSize = opts.batchSize ?? 64;
    const metrics: Partial<Record<DataSplit, Metrics>> = {};
    const rows: Prediction[] = [];
    for (const s of opts.splits) {
      metrics[s] = await wb.evaluate(spec, run.params, {}, s, batchSize);
      if (opts.predictions) {
        const examples = run.task.splits[s as 'train' | 'validation' | 'test'];
        const logits = await wb.logits(spec, run.params, {}, wb.data[s], batchSize);
        rows.push(...predictionsOf(run.task.info, examples, logits, s));
      }
    }
    if (!opts.predictions) return { run: run.dir.path, metrics };
    const file = resolve(cwd, opts.predictions);
    writeFileSync(file, toJsonl(rows));
    return { run: run.dir.path, metrics, predictions: file };
  });
}

export interface PredictRunOptions {
  runDir: string;
  /** TSV (header with a `text` column, optional `pair` and `label`) or JSONL ({"text", "pair"?, "label"?}). */
  input: string;
  /** JSONL output file; absent: the predictions are returned (the CLI prints them). */
  output?: string;
  batchSize?: number;
  cwd?: string;
}

export async function predictRun(
  opts: PredictRunOptions,
): Promise<{ run: string; count: number; output?: string; predictions: Prediction[] }> {
  const cwd = opts.cwd ?? process.cwd();
  return withWorkbench(opts.runDir, cwd, async (wb, run) => {
    const examples: Example[] = readPredictionInput(resolve(cwd, opts.input), run.task.info);
    const logits = await wb.logits(
      Workbench.specOf(run.architecture),
      run.params,
      {},
      wb.encode(examples),
      opts.batchSize ?? 64,
    );
    const predictions = predictionsOf(run.task.info, examples, logits);
    if (!opts.output) return { run: run.dir.path, count: predictions.length, predictions };
    const file = resolve(cwd, opts.output);
    writeFileSync(file, toJsonl(predictions));
    return { run: run.dir.path, count: predictions.length, output: file, predictions };
  });
}
