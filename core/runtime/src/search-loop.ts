/**
 * The search loop: start the strategy, then ask → run (through the executor) → tell until the
 * strategy is done, checkpointing the strategy's state as it goes; then re-train the found
 * architecture from scratch (unless the strategy already trained its final model) and score it.
 *
 * A resumed loop restores the strategy from its last checkpoint and continues; since every random
 * stream and every data order is derived from the run seed and the checkpointed state, the final
 * result equals that of an uninterrupted run.
 */
import type {
  Budget,
  Executor,
  Logger,
  RunEvent,
  SearchContext,
  SearchOutcome,
  SearchStrategy,
  SpaceDefinition,
  StrategyEvent,
  TrainJob,
  TrainRecipe,
  TrainResult,
} from '@peftkit/api';
import { PluginError, Rng, deriveSeed } from '@peftkit/api';
import type { TrainJobState } from './trainer.js';
import type { Workbench } from './workbench.js';

/** What a search spent: forward-backward passes on batches, and evaluations. */
export interface SearchCompute {
  /** Gradient jobs (one forward-backward pass on one batch each). */
  gradientJobs: number;
  /** Optimiser steps of train jobs (trials). */
  trainSteps: number;
  /** Evaluate jobs and train-job evaluations are not counted as steps. */
  evaluateJobs: number;
  trainJobs: number;
}

export interface LoopCheckpoint {
  phase: 'search' | 'retrain' | 'done';
  compute?: SearchCompute;
  /** Strategy state after `asks` completed ask/tell rounds. */
  strategy: unknown;
  asks: number;
  searchSeconds: number;
  outcome?: SearchOutcome;
  retrain?: TrainJobState;
  final?: TrainResult;
}

export interface SearchLoopParts {
  workbench: Workbench;
  executor: Executor;
  strategy: SearchStrategy;
  space: SpaceDefinition;
  budget: Budget;
  recipes: { search: TrainRecipe; retrain: TrainRecipe };
  seed: number;
  log: Logger;
  emit(e: RunEvent): void;
  /** Persist a checkpoint (called after each ask/tell round at most every `checkpointSeconds`). */
  save?(c: LoopCheckpoint): Promise<void>;
  checkpointSeconds?: number;
  resume?: LoopCheckpoint;
  /**
   * Who the strategy is (`{ plugin: '@peftkit/bipeft', name: 'bipeft' }`), so the engine's own
   * checks of its outcome (an unknown point, an architecture over the budget) name it.
   */
  strategyOwner?: { plugin: string; name: string };
}

export interface SearchLoopResult {
  outcome: SearchOutcome;
  compute: SearchCompute;
  final: TrainResult;
  searchSeconds: number;
  retrainSeconds: number;
}

export function retrainJob(arch: SearchOutcome['architecture'], recipe: TrainRecipe, seed: number): TrainJob {
  return {
    kind: 'train',
    id: 'retrain',
    phase: 'retrain',
    architecture: arch,
    recipe,
    train: 'train',
    select: 'validation',
    score: ['validation', 'test'],
    seed: deriveSeed(seed, 'retrain'),
    keepParams: true,
  };
}

/** `loss 0.41 · params 23.1k/14k · 12 modules · val accuracy 0.861` from a strategy's step event. */
function stepStatus(e: StrategyEvent, score: Record<string, number> | null, metric: string): string {
  const k = (v: number) =>
    v >= 1e4 ? `${(v / 1e3).toFixed(0)}k` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0);
  const parts: string[] = [];
  if (typeof e.lossWeight === 'number') parts.push(`loss ${e.lossWeight.toFixed(4)}`);
  else if (typeof e.loss === 'number') parts.push(`loss ${e.loss.toFixed(4)}`);
  if (typeof e.expected === 'number' && typeof e.budget === 'number')
    parts.push(`params ${k(e.expected)}/${k(e.budget)}`);
  if (typeof e.kept === 'number') parts.push(`${e.kept} modules`);
  if (score && typeof score[metric] === 'number') parts.push(`val ${metric} ${score[metric]!.toFixed(3)}`);
  return parts.join(' · ');
}

export async function runSearchLoop(p: SearchLoopParts): Promise<SearchLoopResult> {
  const wb = p.workbench;
  let lastScore: Record<string, number> | null = null;
  const metric = wb.parts.task.info.metrics[0] ?? 'accuracy';
  const ctx: SearchContext = {
    backbone: wb.parts.backbone.info,
    task: wb.parts.task.info,
    space: p.space,
    budget: p.budget,
    seed: p.seed,
    rng: new Rng(p.seed),
    splitSizes: wb.splitSizes(),
    splitLengths: wb.splitLengths(),
    recipes: p.recipes,
    modules: wb.toolkit,
    emit: (e: StrategyEvent) => {
      p.emit({ phase: 'search', ...e });
      if (e.type === 'search-eval' && e.validation) lastScore = e.validation as Record<string, number>;
      // Strategies report steps with done/total; reporters show them as progress with the budget
      // and the current score.
      if (e.type === 'step' && typeof e.done === 'number' && typeof e.total === 'number') {
        p.emit({
          type: 'progress',
          phase: 'search',
          done: e.done,
          total: e.total,
          status: stepStatus(e, lastScore, metric),
        });
      }
    },
    log: p.log,
  };
  let state: LoopCheckpoint = p.resume ?? { phase: 'search', strategy: undefined, asks: 0, searchSeconds: 0 };
  const every = (p.checkpointSeconds ?? 30) * 1000;
  let lastSave = performance.now();
  const save = async (force: boolean) => {
    if (!p.save) return;
    if (!force && performance.now() - lastSave < every) return;
    await p.save(state);
    lastSave = performance.now();
  };

  if (state.phase === 'search') {
    const t0 = performance.now();
    const prior = state.searchSeconds;
    p.strategy.start(ctx, state.strategy);
    for (;;) {
      const jobs = p.strategy.ask();
      if (!jobs) break;
      const results = await p.executor.run(jobs, p.emit);
      const compute = {
        ...(state.compute ?? { gradientJobs: 0, trainSteps: 0, evaluateJobs: 0, trainJobs: 0 }),
      };
      for (const r of results) {
        if (r.kind === 'gradient') compute.gradientJobs++;
        else if (r.kind === 'evaluate') compute.evaluateJobs++;
        else {
          compute.trainJobs++;
          compute.trainSteps += r.steps;
        }
      }
      p.strategy.tell(results);
      state = {
        ...state,
        compute,
        strategy: p.strategy.state(),
        asks: state.asks + 1,
        searchSeconds: prior + (performance.now() - t0) / 1000,
      };
      await save(false);
    }
    const outcome = p.strategy.outcome();
    const owner = p.strategyOwner ?? { plugin: 'unknown', name: 'strategy' };
    const outcomeError = (message: string) =>
      new PluginError(message, owner.plugin, `search-strategy ${owner.name}: outcome`);
    if (!outcome || typeof outcome !== 'object' || !Array.isArray(outcome.architecture?.modules))
      throw outcomeError(
        `returned ${outcome === undefined ? 'nothing' : (JSON.stringify(outcome) ?? String(outcome)).slice(0, 60)}; expected {architecture: {modules: [...]}}`,
      );
    let count: number;
    try {
      count = wb.toolkit.countArchitecture(outcome.architecture);
    } catch (e) {
      throw outcomeError(`returned an architecture the engine cannot count: ${(e as Error).message}`);
    }
    if (!Number.isFinite(count)) throw outcomeError(`returned an architecture of ${count} parameters`);
    if (count > p.budget.params) {
      if (!outcome.budgetIgnored) {
        throw outcomeError(
          `returned an architecture with ${count} trainable parameters, over the budget of ${p.budget.params}`,
        );
      }
      p.log.warn(
        `${outcome.budgetIgnored}: ${count} trainable parameters, over the budget of ${p.budget.params}`,
      );
    }
    state = { ...state, phase: 'retrain', outcome, searchSeconds: prior + (performance.now() - t0) / 1000 };
    p.emit({
      type: 'search-end',
      phase: 'search',
      architecture: outcome.architecture,
      trainableParams: count,
      seconds: state.searchSeconds,
    });
    await save(true);
  }

  const outcome = state.outcome!;
  let final = state.final;
  let retrainSeconds = 0;
  if (!final) {
    if (outcome.final) {
      final = outcome.final;
    } else {
      // The search's programs (supernets, their evaluation programs) are not used again.
      await wb.releaseAll();
      const job = retrainJob(outcome.architecture, p.recipes.retrain, p.seed);
      const t0 = performance.now();
      const { runTrainJob } = await import('./trainer.js');
      final = await runTrainJob(wb, job, {
        onEvent: p.emit,
        resumeFrom: state.retrain,
        checkpoint: async (s) => {
          state = { ...state, retrain: s };
          await save(false);
        },
      });
      retrainSeconds = (performance.now() - t0) / 1000;
    }
    state = { ...state, phase: 'done', final };
    await save(true);
  }
  return {
    outcome,
    compute: state.compute ?? { gradientJobs: 0, trainSteps: 0, evaluateJobs: 0, trainJobs: 0 },
    final: final!,
    searchSeconds: state.searchSeconds,
    retrainSeconds: final!.seconds ?? retrainSeconds,
  };
}
