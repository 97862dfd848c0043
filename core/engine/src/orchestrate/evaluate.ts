/**
 * `peftkit eval RUN_DIR` and `peftkit predict RUN_DIR`: a finished run's trained model scoring a
 * split of its task, or predicting texts (per-example labels, probabilities and logits).
 * `peftkit eval --preset P --adapter DIR`: the same for a Hugging Face PEFT LoRA adapter loaded onto
 * the preset's backbone.
 */
import type { Architecture, DataSplit, Example, Metrics } from '@peftkit/api';
import { Rng } from '@peftkit/api';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig, loadResolvedConfig } from '../config/load.js';
import { baseDirOf } from '../config/validate.js';
import { Workbench, memoryPartsOf } from '@peftkit/runtime';
import { type LoadedRun, loadFinishedRun } from './export.js';
import { importPeftAdapter } from './peft-import.js';
import { moduleTypesOf } from './run.js';
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
      ...memoryPartsOf(config),
    });
    return await fn(wb, run);
  } finally {
    await backend.dispose();
  }
}

/** Score splits, and write every example's prediction to `predictions` when given. */
async function scoreSplits(
  wb: Workbench,
  run: Pick<LoadedRun, 'architecture' | 'params' | 'task'>,
  splits: readonly DataSplit[],
  batchSize: number,
  predictions: string | undefined,
  cwd: string,
): Promise<{ metrics: Partial<Record<DataSplit, Metrics>>; predictions?: string }> {
  const spec = Workbench.specOf(run.architecture);
  const metrics: Partial<Record<DataSplit, Metrics>> = {};
  const rows: Prediction[] = [];
  for (const s of splits) {
    metrics[s] = await wb.evaluate(spec, run.params, {}, s, batchSize);
    if (predictions) {
      const examples = run.task.splits[s as 'train' | 'validation' | 'test'];
      const logits = await wb.logits(spec, run.params, {}, wb.data[s], batchSize);
      rows.push(...predictionsOf(run.task.info, examples, logits, s));
    }
  }
  if (!predictions) return { metrics };
  const file = resolve(cwd, predictions);
  writeFileSync(file, toJsonl(rows));
  return { metrics, predictions: file };
}

export interface EvaluateAdapterOptions {
  /** The preset (or file) that names the backbone the adapter was made for and the task. */
  preset?: string;
  sets?: string[];
  /** The PEFT adapter directory (adapter_config.json + adapter_model.safetensors). */
  adapter: string;
  splits: DataSplit[];
  batchSize?: number;
  predictions?: string;
  cwd?: string;
}

/**
 * Score a Hugging Face PEFT LoRA adapter on the preset's task: the adapter's LoRA modules and head
 * (when it has one; else the backbone's head as it starts) on the preset's backbone.
 */
export async function evaluateAdapter(opts: EvaluateAdapterOptions): Promise<{
  adapter: string;
  architecture: Architecture;
  hasHead: boolean;
  metrics: Partial<Record<DataSplit, Metrics>>;
  predictions?: string;
}> {
  const cwd = opts.cwd ?? process.cwd();
  const { config, registry, origins } = await loadConfig({ preset: opts.preset, sets: opts.sets, cwd });
  const log = { info() {}, warn() {}, debug() {} };
  const ctxFor = (field: string) => registry.context({ baseDir: baseDirOf(origins, [field], cwd), log });
  const backbone = await registry.create('backbone', config.backbone, ctxFor('backbone'));
  const task = await registry.create('task', config.task, ctxFor('task'));
  const types = await moduleTypesOf(registry, ctxFor('backbone'));
  const adapter = resolve(cwd, opts.adapter);
  const imported = importPeftAdapter(adapter, backbone, task.info, types, cwd);
  const backend = await registry.create('training-backend', config.backend, ctxFor('backend'));
  try {
    const wb = new Workbench({
      backbone,
      task,
      backend,
      types,
      seed: config.seeds[0] ?? 0,
      log,
      ...memoryPartsOf(config),
    });
    const spec = Workbench.specOf(imported.architecture);
    // Parameters the adapter lacks (the head of an adapter without one) start as in training.
    const params = { ...wb.toolkit.init(spec, new Rng(0)), ...imported.params };
    const scored = await scoreSplits(
      wb,
      { architecture: imported.architecture, params, task },
      opts.splits,
      opts.batchSize ?? 64,
      opts.predictions,
      cwd,
    );
    return { adapter, architecture: imported.architecture, hasHead: imported.hasHead, ...scored };
  } finally {
    await backend.dispose();
  }
}

export async function evaluateRun(
  opts: EvaluateRunOptions,
): Promise<{ run: string; metrics: Partial<Record<DataSplit, Metrics>>; predictions?: string }> {
  const cwd = opts.cwd ?? process.cwd();
  return withWorkbench(opts.runDir, cwd, async (wb, run) => ({
    run: run.dir.path,
    ...(await scoreSplits(wb, run, opts.splits, opts.batchSize ?? 64, opts.predictions, cwd)),
  }));
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
