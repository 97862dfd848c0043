/**
 * Training a fixed architecture (train jobs: trials and re-training). Fresh initialisation from the
 * job seed (or the run's starting values, an imported adapter), minibatches in an order derived from (seed, epoch), the recipe's optimiser, schedule and
 * clipping, model selection on the selection split, scores of the selected model on the other
 * splits. State is checkpointed at epoch ends so an interrupted job resumes where it stopped and
 * finishes exactly as if it had not been interrupted.
 */
import type {
  DataSplit,
  Metrics,
  ParamSet,
  RunEvent,
  SplitPredictions,
  TrainJob,
  TrainResult,
} from '@peftkit/api';
import { ConfigError, Rng, SplitBatches, deriveSeed } from '@peftkit/api';
import { type OptimizerState, clipGradNorm, createOptimizer, lrAt } from '@peftkit/train';
import { Workbench } from './workbench.js';

/** Everything a train job needs to continue after its last completed epoch. */
export interface TrainJobState {
  jobId: string;
  epoch: number;
  step: number;
  params: ParamSet;
  optimizer: OptimizerState;
  best: ParamSet | null;
  bestScore: number | null;
  bestEpoch: number;
  curve: number[];
  seconds: number;
}

export interface TrainHooks {
  onEvent?(e: RunEvent): void;
  /** Called after every epoch with the state to persist. */
  checkpoint?(state: TrainJobState): Promise<void> | void;
  /** A state saved earlier for this job (resume). */
  resumeFrom?: TrainJobState;
}

function copyParams(p: ParamSet): ParamSet {
  const out: ParamSet = {};
  for (const [k, v] of Object.entries(p)) out[k] = v.slice();
  return out;
}

export async function runTrainJob(
  wb: Workbench,
  job: TrainJob,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const started = performance.now();
  const { recipe } = job;
  if (recipe.dropout > 0) {
    // Dropout would need a per-step random stream inside the compiled graph that a resumed run can
    // reproduce; until that exists it is refused rather than silently ignored.
    throw new ConfigError(
      `recipe.dropout = ${recipe.dropout} is not supported yet`,
      undefined,
      'recipes.*.dropout',
      'set dropout to 0',
    );
  }
  const spec = Workbench.specOf(job.architecture);
  const train = await wb.compile(spec, 'train');
  const data = wb.data[job.train];
  if (data.length === 0) throw new Error(`train job ${job.id}: split ${job.train} is empty`);
  const order = new SplitBatches({
    size: data.length,
    lengths: (recipe.groupByLength ?? true) ? wb.lengths(job.train) : null,
    batchSize: recipe.batchSize,
    seedOf: (epoch) => deriveSeed(job.seed, `order-${epoch}`),
  });
  const stepsPerEpoch = order.perEpoch;
  const totalSteps = Math.min(recipe.epochs * stepsPerEpoch, recipe.maxSteps ?? Infinity);
  const metric = wb.parts.task.info.metrics[0]!;
  const optimizer = createOptimizer(recipe);

  let state: TrainJobState;
  if (hooks.resumeFrom && hooks.resumeFrom.jobId === job.id) {
    state = hooks.resumeFrom;
    optimizer.restore(state.optimizer);
  } else {
    state = {
      jobId: job.id,
      epoch: 0,
      step: 0,
      params: wb.initParams(spec, new Rng(deriveSeed(job.seed, 'init'))),
      optimizer: optimizer.state(),
      best: null,
      bestScore: null,
      bestEpoch: -1,
      curve: [],
      seconds: 0,
    };
  }
  const fetches = ['loss', ...train.layout.params.map((p) => `grad:${p.name}`)];
  const emit = (e: RunEvent) => hooks.onEvent?.({ phase: job.phase, job: job.id, ...e });
  // Seconds spent in earlier processes on this job (resume), plus this process's time.
  const prior = state.seconds;

  while (state.epoch < recipe.epochs && state.step < totalSteps) {
    const batches = order.epoch(state.epoch);
    let lossSum = 0;
    let batchCount = 0;
    for (const idx of batches) {
      if (state.step >= totalSteps) break;
      const out = await wb.step(train, job.train, idx, state.params, {}, fetches);
      const loss = out.loss!.data[0] as number;
      if (!Number.isFinite(loss))
        throw new ConfigError(
          `train job ${job.id}: the training loss became ${loss} at step ${state.step} (lr ${recipe.lr})`,
          undefined,
          `recipes.${job.phase}.lr`,
          'lower the learning rate, or set clipNorm; resume from the last checkpoint after fixing it',
        );
      const grads: ParamSet = {};
      for (const p of train.layout.params) grads[p.name] = out[`grad:${p.name}`]!.data as Float32Array;
      if (recipe.clipNorm !== null) clipGradNorm(grads, recipe.clipNorm);
      optimizer.step(state.params, grads, lrAt(state.step, totalSteps, recipe));
      state.step++;
      lossSum += loss;
      batchCount++;
      emit({
        type: 'progress',
        done: state.step,
        total: totalSteps,
        status: `epoch ${state.epoch + 1}/${recipe.epochs} loss ${loss.toFixed(4)}`,
      });
    }
    state.curve.push(lossSum / Math.max(1, batchCount));
    state.epoch++;
    const epochEvent: RunEvent = {
      type: 'epoch',
      epoch: state.epoch,
      step: state.step,
      trainLoss: state.curve[state.curve.length - 1],
      // The learning rate of the epoch's last step.
      lr: lrAt(Math.max(0, state.step - 1), totalSteps, recipe),
    };
    const last = state.epoch >= recipe.epochs || state.step >= totalSteps;
    if (job.select && (state.epoch % recipe.evalEvery === 0 || last)) {
      const m = await wb.evaluate(spec, state.params, {}, job.select, Math.max(recipe.batchSize, 64));
      const score = m[metric] ?? -Infinity;
      epochEvent[job.select] = m;
      if (state.bestScore === null || score > state.bestScore) {
        state.bestScore = score;
        state.best = copyParams(state.params);
        state.bestEpoch = state.epoch;
      }
    }
    emit(epochEvent);
    state.optimizer = optimizer.state();
    state.seconds = prior + (performance.now() - started) / 1000;
    await hooks.checkpoint?.(state);
  }

  const finalParams = job.select && state.best ? state.best : state.params;
  const metrics: Partial<Record<string, Metrics>> = {};
  const predictions: Partial<Record<DataSplit, SplitPredictions>> = {};
  const scoreSplits = [...new Set([...(job.select ? [job.select] : []), ...job.score])];
  for (const s of scoreSplits) {
    const p = await wb.predict(spec, finalParams, {}, s, Math.max(recipe.batchSize, 64));
    metrics[s] = p.metrics;
    predictions[s] = { predictions: p.predictions, labels: p.labels };
  }
  const trainable = wb.toolkit.countArchitecture(job.architecture);
  return {
    kind: 'train',
    metrics,
    bestEpoch: job.select ? state.bestEpoch : state.epoch,
    steps: state.step,
    seconds: prior + (performance.now() - started) / 1000,
    trainableParams: trainable,
    headParams: wb.toolkit.headParams(),
    curve: state.curve,
    params: job.keepParams ? finalParams : undefined,
    predictions,
  };
}
