/**
 * Random search (the classic NAS baseline) over a search space within the budget: sample
 * architectures that fit (sampler.ts), train each briefly from scratch on the weight half of the
 * training data, score it on the architecture half, and return the best; the engine re-trains it
 * from scratch. Validation and test data are never seen during the search.
 *
 * The number of trials is given directly (`trials`) or as a compute budget in optimiser steps
 * (`computeSteps`), so that random search can be matched to another strategy's search cost:
 * trials = max(1, floor(computeSteps / steps per trial)).
 *
 * Trial i samples its architecture from a stream derived from (run seed, i) and trains with the
 * seed deriveSeed(run seed, i), so trials do not depend on each other and a resumed search asks
 * exactly the trials an uninterrupted one would. One ask is one trial (or `parallel` trials), so a
 * checkpoint lands between trials.
 */
import type {
  Architecture,
  Job,
  JobResult,
  JsonSchema,
  Metrics,
  SearchContext,
  SearchOutcome,
  SearchStrategy,
  StrategyCheckContext,
  TrainJob,
  TrainRecipe,
  TrainResult,
} from '@peftkit/api';
import { ConfigError, Rng, checkBudgetFloor, deriveSeed } from '@peftkit/api';
import { sampleArchitecture } from './sampler.js';

export interface RandomOptions {
  trials?: number;
  computeSteps?: number;
  onProbability?: number;
  trialEpochs?: number;
  parallel?: number;
  maxAttempts?: number;
}

export const randomOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    trials: {
      type: 'integer',
      minimum: 1,
      description: 'Number of architectures to sample and train (default 10; exclusive with computeSteps).',
    },
    computeSteps: {
      type: 'integer',
      minimum: 1,
      description:
        'Total optimiser steps to spend on trials: trials = max(1, floor(computeSteps / steps per trial)). Use it to match another strategy’s search compute.',
    },
    onProbability: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 1,
      default: 0.5,
      description: 'Probability that a candidate module is on in a sample.',
    },
    trialEpochs: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description:
        'Epochs of each trial over the weight half of the training data (search recipe otherwise).',
    },
    parallel: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: 'Trials asked per batch (an executor may run them in parallel).',
    },
    maxAttempts: {
      type: 'integer',
      minimum: 1,
      default: 100,
      description:
        'Samples drawn per trial before the last one is cut down to the budget by dropping random modules.',
    },
  },
};

export interface TrialRecord {
  index: number;
  architecture: Architecture;
  params: number;
  /** The task's first metric on the selection split (search.arch). */
  score: number;
  metrics: Metrics;
  steps: number;
  seconds: number;
  attempts: number;
  dropped: string[];
}

interface State {
  trials: TrialRecord[];
}

const TRAIN_SPLIT = 'search.weight';
const SELECT_SPLIT = 'search.arch';

export class RandomSearchStrategy implements SearchStrategy {
  private readonly opts: Required<Omit<RandomOptions, 'trials' | 'computeSteps'>> &
    Pick<RandomOptions, 'trials' | 'computeSteps'>;
  private ctx!: SearchContext;
  private st!: State;
  private total = 0;
  private stepsPerTrial = 0;
  /** Sampling details of the batch in flight (recomputed identically after a resume). */
  private pending: { index: number; params: number; attempts: number; dropped: string[] }[] = [];

  constructor(options: RandomOptions = {}) {
    if (options.trials !== undefined && options.computeSteps !== undefined) {
      throw new ConfigError(
        'give either trials or computeSteps, not both',
        undefined,
        'strategy.options.computeSteps',
      );
    }
    this.opts = {
      trials: options.trials,
      computeSteps: options.computeSteps,
      onProbability: options.onProbability ?? 0.5,
      trialEpochs: options.trialEpochs ?? 1,
      parallel: options.parallel ?? 1,
      maxAttempts: options.maxAttempts ?? 100,
    };
    const p = this.opts.onProbability;
    if (!(p > 0 && p <= 1)) {
      throw new ConfigError(
        `got ${p}, expected a probability in (0, 1]`,
        undefined,
        'strategy.options.onProbability',
      );
    }
  }

  /** The recipe of one trial: the search recipe for `trialEpochs` epochs. */
  private get recipe(): TrainRecipe {
    return { ...this.ctx.recipes.search, epochs: this.opts.trialEpochs };
  }

  /** A budget below the smallest module of the space is refused before anything runs. */
  check(ctx: StrategyCheckContext): void {
    checkBudgetFloor(ctx.budget, ctx.space.candidates, ctx.modules);
  }

  start(ctx: SearchContext, resumed?: unknown): void {
    this.ctx = ctx;
    const r = this.recipe;
    const n = ctx.splitSizes[TRAIN_SPLIT];
    if (n === 0) throw new ConfigError(`the ${TRAIN_SPLIT} split is empty`, undefined, 'task');
    this.stepsPerTrial = Math.min(r.epochs * Math.ceil(n / r.batchSize), r.maxSteps ?? Infinity);
    this.total =
      this.opts.computeSteps !== undefined
        ? Math.max(1, Math.floor(this.opts.computeSteps / this.stepsPerTrial))
        : (this.opts.trials ?? 10);
    if (resumed) {
      this.st = resumed as State;
      return;
    }
    this.checkSpace();
    this.st = { trials: [] };
    ctx.emit({
      type: 'search-start',
      candidates: ctx.space.candidates.length,
      trials: this.total,
      stepsPerTrial: this.stepsPerTrial,
      budget: ctx.budget.params,
    });
  }

  private checkSpace(): void {
    const { space, modules, budget } = this.ctx;
    if (space.candidates.length === 0) {
      throw new ConfigError(`search space ${space.name} has no candidates`, undefined, 'space');
    }
    checkBudgetFloor(budget, space.candidates, modules);
  }

  ask(): readonly Job[] | null {
    const next = this.st.trials.length;
    if (next >= this.total) return null;
    const count = Math.min(this.opts.parallel, this.total - next);
    this.pending = [];
    const jobs: TrainJob[] = [];
    for (let index = next; index < next + count; index++) {
      const s = sampleArchitecture(
        this.ctx.space.candidates,
        this.ctx.modules,
        this.ctx.budget.params,
        new Rng(deriveSeed(this.ctx.seed, `random-arch-${index}`)),
        { onProbability: this.opts.onProbability, maxAttempts: this.opts.maxAttempts },
      );
      this.pending.push({ index, params: s.params, attempts: s.attempts, dropped: s.dropped });
      jobs.push({
        kind: 'train',
        id: `random-trial-${index}`,
        phase: 'search',
        architecture: s.architecture,
        recipe: this.recipe,
        train: TRAIN_SPLIT,
        select: SELECT_SPLIT,
        score: [],
        seed: deriveSeed(this.ctx.seed, `random-trial-${index}`),
      });
    }
    this.asked = jobs;
    return jobs;
  }

  private asked: TrainJob[] = [];

  tell(results: readonly JobResult[]): void {
    const metric = this.ctx.task.metrics[0]!;
    results.forEach((res, k) => {
      const r = res as TrainResult;
      const p = this.pending[k]!;
      const metrics = r.metrics[SELECT_SPLIT] ?? {};
      const score = metrics[metric];
      const rec: TrialRecord = {
        index: p.index,
        architecture: this.asked[k]!.architecture,
        params: p.params,
        score: typeof score === 'number' && Number.isFinite(score) ? score : -Infinity,
        metrics,
        steps: r.steps,
        seconds: r.seconds,
        attempts: p.attempts,
        dropped: p.dropped,
      };
      this.st.trials.push(rec);
      this.ctx.emit({
        type: 'trial',
        trial: rec.index,
        of: this.total,
        params: rec.params,
        modules: rec.architecture.modules.length,
        [metric]: rec.score,
        steps: rec.steps,
      });
    });
    this.pending = [];
    this.asked = [];
  }

  state(): unknown {
    return this.st;
  }

  /** The best trial by the task's first metric on the selection split (ties: the earlier trial). */
  private best(): TrialRecord {
    const t = this.st.trials;
    if (t.length === 0) throw new Error('random search: outcome() before any trial finished');
    return t.reduce((a, b) => (b.score > a.score ? b : a));
  }

  outcome(): SearchOutcome {
    const best = this.best();
    return {
      architecture: best.architecture,
      summary: {
        trials: this.st.trials.length,
        stepsPerTrial: this.stepsPerTrial,
        stepsSpent: this.st.trials.reduce((a, t) => a + t.steps, 0),
        computeSteps: this.opts.computeSteps ?? null,
        trialEpochs: this.opts.trialEpochs,
        onProbability: this.opts.onProbability,
        metric: this.ctx.task.metrics[0],
        selectionSplit: SELECT_SPLIT,
        best: best.index,
        bestScore: best.score,
        trainableParams: best.params,
        all: this.st.trials.map((t) => ({
          index: t.index,
          architecture: t.architecture,
          params: t.params,
          score: t.score,
          steps: t.steps,
          attempts: t.attempts,
          dropped: t.dropped,
        })),
      },
    };
  }
}
