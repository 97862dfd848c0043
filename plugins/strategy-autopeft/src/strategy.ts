/**
 * The AutoPEFT search strategy (Zhou et al., TACL 2024; method spec §5.6; cambridgeltl/autopeft):
 * multi-objective Bayesian optimisation of (parameter ratio ↓, validation score ↑) over the
 * AutoPEFT configuration space (one size per module type, one insert flag per layer).
 *
 *   1. `initialDesigns` random configurations within the budget, trained in one batch of jobs;
 *      the reference point is inferred from them once (BoTorch's rule: the front's nadir score
 *      minus 10 % of its range; sizes beyond 1.1 × the budget count for nothing).
 *   2. `iterations` BO steps, one configuration each: a GP (ARD Matérn-5/2, hyperparameters by
 *      maximum marginal likelihood) models the score; the parameter count is computed exactly, so
 *      it needs no model. The acquisition is the exact 2-D expected hypervolume improvement
 *      (`pareto.ts`), maximised by local search over the discrete space from the Pareto-front
 *      points and `randomCandidates` random configurations, among configurations within the budget
 *      that were not evaluated yet (the budget is a hard constraint).
 *
 * Every evaluation is a train job: fresh PEFT modules trained on `search.weight` for `trialEpochs`,
 * the best epoch selected on `search.arch`, whose score (the task's first metric) is the objective.
 * The outcome is the best-scoring evaluated configuration within the budget (ties: fewer parameters),
 * re-trained from scratch by the engine; the summary lists every evaluated point and the front.
 */
import type {
  Architecture,
  JsonSchema,
  Job,
  JobResult,
  Metrics,
  SearchContext,
  SearchOutcome,
  SearchStrategy,
  StrategyCheckContext,
  TrainJob,
  TrainResult,
} from '@peftkit/api';
import { Rng, checkBudgetFloor, deriveSeed } from '@peftkit/api';
import { type Config, ConfigLayout } from './configs.js';
import { GaussianProcess, type GpHyperparameters } from './gp.js';
import {
  type Objectives,
  type ReferencePoint,
  expectedHypervolumeImprovement,
  hypervolume,
  paretoFront,
} from './pareto.js';

export interface AutoPeftOptions {
  initialDesigns?: number;
  iterations?: number;
  trialEpochs?: number;
  trialMaxSteps?: number;
  randomCandidates?: number;
  localSearchSteps?: number;
  gpRestarts?: number;
  gpIterations?: number;
  referenceScore?: number | null;
}

export const autopeftOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    initialDesigns: {
      type: 'integer',
      minimum: 1,
      default: 5,
      description: 'Random configurations (within the budget) evaluated before the BO steps.',
    },
    iterations: { type: 'integer', minimum: 0, default: 10, description: 'BO steps, one evaluation each.' },
    trialEpochs: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description:
        "Epochs of each trial's training run over search.weight (other settings: the search recipe).",
    },
    trialMaxSteps: { type: 'integer', minimum: 1, description: 'Cap on the optimiser steps of each trial.' },
    randomCandidates: {
      type: 'integer',
      minimum: 0,
      default: 20,
      description: 'Random start points of the acquisition local search (besides the Pareto-front points).',
    },
    localSearchSteps: {
      type: 'integer',
      minimum: 0,
      default: 20,
      description: 'Hill-climbing moves per start of the acquisition local search.',
    },
    gpRestarts: {
      type: 'integer',
      minimum: 0,
      default: 3,
      description:
        'Random restarts of the marginal-likelihood maximisation (besides the default and warm starts).',
    },
    gpIterations: {
      type: 'integer',
      minimum: 1,
      default: 150,
      description: 'Adam iterations per GP fit start.',
    },
    referenceScore: {
      type: ['number', 'null'],
      default: null,
      description: 'Score of the hypervolume reference point (null: inferred from the initial designs).',
    },
  },
};

/** Reference size in budget units: configurations up to the budget all count. */
const REFERENCE_SIZE = 1.1;
const MAX_RANDOM_TRIES = 200;

interface Point {
  index: number;
  phase: 'initial' | 'bo';
  config: Config;
  key: string;
  params: number;
  score: number | null;
  metrics: Metrics;
  seconds: number;
  /** The surrogate's view when the point was proposed (BO points). */
  predicted: { mean: number; sd: number; ehvi: number } | null;
}

interface State {
  phase: 'initial' | 'bo' | 'done';
  points: Point[];
  iteration: number;
  /** In budget units (size = params / budget). */
  reference: ReferencePoint | null;
  hyper: GpHyperparameters | null;
  hypervolume: { evaluations: number; value: number }[];
  stopped: string | null;
}

interface Pending {
  configs: Config[];
  predicted: (Point['predicted'] | null)[];
  hyper: GpHyperparameters | null;
}

export class AutoPeftStrategy implements SearchStrategy {
  private readonly opts: Required<Omit<AutoPeftOptions, 'trialMaxSteps'>> &
    Pick<AutoPeftOptions, 'trialMaxSteps'>;
  private ctx!: SearchContext;
  private st!: State;
  private layout!: ConfigLayout;
  private readonly counts = new Map<string, number>();
  private pending: Pending | null = null;

  constructor(options: AutoPeftOptions = {}) {
    this.opts = {
      initialDesigns: options.initialDesigns ?? 5,
      iterations: options.iterations ?? 10,
      trialEpochs: options.trialEpochs ?? 1,
      trialMaxSteps: options.trialMaxSteps,
      randomCandidates: options.randomCandidates ?? 20,
      localSearchSteps: options.localSearchSteps ?? 20,
      gpRestarts: options.gpRestarts ?? 3,
      gpIterations: options.gpIterations ?? 150,
      referenceScore: options.referenceScore ?? null,
    };
  }

  /** A budget below the smallest module of the space is refused before anything runs. */
  check(ctx: StrategyCheckContext): void {
    checkBudgetFloor(ctx.budget, ctx.space.candidates, ctx.modules);
  }

  start(ctx: SearchContext, resumed?: unknown): void {
    this.ctx = ctx;
    this.layout = new ConfigLayout(ctx.space.candidates, ctx.backbone.points);
    if (resumed) {
      this.st = resumed as State;
      return;
    }
    this.checkBudget();
    this.st = {
      phase: 'initial',
      points: [],
      iteration: 0,
      reference: null,
      hyper: null,
      hypervolume: [],
      stopped: null,
    };
    ctx.emit({
      type: 'search-start',
      candidates: ctx.space.candidates.length,
      types: this.layout.types,
      layers: this.layout.layers.length,
      budget: ctx.budget.params,
      initialDesigns: this.opts.initialDesigns,
      iterations: this.opts.iterations,
    });
  }

  private checkBudget(): void {
    checkBudgetFloor(this.ctx.budget, this.ctx.space.candidates, this.ctx.modules);
  }

  /** Exact trainable PEFT parameters of a configuration. */
  private paramsOf(c: Config): number {
    const key = this.layout.key(c);
    let n = this.counts.get(key);
    if (n === undefined) {
      n = this.ctx.modules.countArchitecture(this.layout.architecture(c));
      this.counts.set(key, n);
    }
    return n;
  }

  private feasible(c: Config): boolean {
    return this.paramsOf(c) <= this.ctx.budget.params;
  }

  /**
   * A random configuration within the budget that is not in `exclude`: uniform samples, each
   * shrunk at random (a size one step down or a layer off) until it fits.
   */
  private randomFeasible(rng: Rng, exclude: ReadonlySet<string>): Config | null {
    for (let t = 0; t < MAX_RANDOM_TRIES; t++) {
      let c = this.layout.random(rng);
      while (!this.feasible(c)) {
        const smaller = this.layout.reductions(c);
        c = smaller[rng.int(smaller.length)]!;
      }
      if (!exclude.has(this.layout.key(c))) return c;
    }
    return null;
  }

  private trialJob(c: Config, index: number): TrainJob {
    const search = this.ctx.recipes.search;
    return {
      kind: 'train',
      id: `autopeft-trial-${index}`,
      phase: 'search',
      architecture: this.layout.architecture(c),
      recipe: {
        ...search,
        epochs: this.opts.trialEpochs,
        ...(this.opts.trialMaxSteps !== undefined ? { maxSteps: this.opts.trialMaxSteps } : {}),
      },
      train: 'search.weight',
      select: 'search.arch',
      score: [],
      // One seed for every trial: configurations are compared under the same initialisation
      // stream and data order.
      seed: deriveSeed(this.ctx.seed, 'autopeft-trial'),
    };
  }

  ask(): readonly Job[] | null {
    const st = this.st;
    if (st.phase === 'done') return null;
    const offset = st.points.length;
    if (st.phase === 'initial') {
      const rng = new Rng(deriveSeed(this.ctx.seed, 'autopeft-initial'));
      const seen = new Set<string>();
      const configs: Config[] = [];
      for (let i = 0; i < this.opts.initialDesigns; i++) {
        const c = this.randomFeasible(rng, seen);
        if (!c) break;
        seen.add(this.layout.key(c));
        configs.push(c);
      }
      this.pending = { configs, predicted: configs.map(() => null), hyper: null };
    } else {
      this.pending = this.propose();
      if (this.pending.configs.length === 0) {
        st.stopped = 'every configuration within the budget has been evaluated';
        st.phase = 'done';
        return null;
      }
    }
    return this.pending.configs.map((c, i) => this.trialJob(c, offset + i));
  }

  private objectives(points: readonly Point[]): Objectives[] {
    return points.map((p) => ({ size: p.params / this.ctx.budget.params, score: p.score! }));
  }

  private scored(): Point[] {
    return this.st.points.filter((p) => p.score !== null);
  }

  /** One BO proposal: fit the GP, maximise EHVI by local search over unevaluated feasible configurations. */
  private propose(): Pending {
    const st = this.st;
    const scored = this.scored();
    const evaluated = new Set(st.points.map((p) => p.key));
    const rng = new Rng(deriveSeed(this.ctx.seed, `autopeft-bo-${st.iteration}`));
    if (scored.length === 0) {
      const c = this.randomFeasible(rng, evaluated);
      return { configs: c ? [c] : [], predicted: [null], hyper: null };
    }
    const gp = GaussianProcess.fit(
      scored.map((p) => this.layout.encode(p.config)),
      scored.map((p) => p.score!),
      rng.fork('gp'),
      { restarts: this.opts.gpRestarts, iterations: this.opts.gpIterations, warmStart: st.hyper },
    );
    const front = this.objectives(scored);
    const ref = st.reference!;
    const cache = new Map<
      string,
      { value: number; tie: number; predicted: NonNullable<Point['predicted']> }
    >();
    const acquisition = (c: Config) => {
      const key = this.layout.key(c);
      let a = cache.get(key);
      if (!a) {
        const { mean, variance } = gp.predict(this.layout.encode(c));
        const sd = Math.sqrt(variance);
        const ehvi = expectedHypervolumeImprovement(
          front,
          this.paramsOf(c) / this.ctx.budget.params,
          mean,
          sd,
          ref,
        );
        // Ties in EHVI (all zero far from the front) are broken by the optimistic score mean + sd.
        a = { value: ehvi, tie: mean + sd, predicted: { mean, sd, ehvi } };
        cache.set(key, a);
      }
      return a;
    };
    const better = (x: { value: number; tie: number }, y: { value: number; tie: number } | null) =>
      y === null || x.value > y.value || (x.value === y.value && x.tie > y.tie);

    const onFront = paretoFront(front);
    const starts: Config[] = scored.filter((_, i) => onFront[i]).map((p) => p.config);
    const exclude = new Set(evaluated);
    for (let i = 0; i < this.opts.randomCandidates; i++) {
      const c = this.randomFeasible(rng, exclude);
      if (!c) break;
      exclude.add(this.layout.key(c));
      starts.push(c);
    }
    let best: {
      config: Config;
      value: number;
      tie: number;
      predicted: NonNullable<Point['predicted']>;
    } | null = null;
    const consider = (c: Config) => {
      const a = acquisition(c);
      if (better(a, best)) best = { config: c, ...a };
      return a;
    };
    for (const start of starts) {
      let current = start;
      let currentValue: { value: number; tie: number } | null = evaluated.has(this.layout.key(start))
        ? null
        : consider(start);
      for (let step = 0; step < this.opts.localSearchSteps; step++) {
        let move: { config: Config; a: { value: number; tie: number } } | null = null;
        for (const n of this.layout.neighbours(current)) {
          if (evaluated.has(this.layout.key(n)) || !this.feasible(n)) continue;
          const a = consider(n);
          if (better(a, move ? move.a : null)) move = { config: n, a };
        }
        if (!move || !better(move.a, currentValue)) break;
        current = move.config;
        currentValue = move.a;
      }
    }
    const chosen = best as { config: Config; predicted: NonNullable<Point['predicted']> } | null;
    return {
      configs: chosen ? [chosen.config] : [],
      predicted: [chosen ? chosen.predicted : null],
      hyper: gp.hyper,
    };
  }

  tell(results: readonly JobResult[]): void {
    const st = this.st;
    const pending = this.pending!;
    const metric = this.ctx.task.metrics[0]!;
    results.forEach((r, i) => {
      const t = r as TrainResult;
      const c = pending.configs[i]!;
      const metrics = t.metrics['search.arch'] ?? {};
      const s = metrics[metric];
      const point: Point = {
        index: st.points.length,
        phase: st.phase === 'initial' ? 'initial' : 'bo',
        config: c,
        key: this.layout.key(c),
        params: this.paramsOf(c),
        score: s !== undefined && Number.isFinite(s) ? s : null,
        metrics,
        seconds: t.seconds,
        predicted: pending.predicted[i] ?? null,
      };
      st.points.push(point);
      this.ctx.emit({
        type: 'trial',
        index: point.index,
        stage: point.phase,
        params: point.params,
        ratio: point.params / this.ctx.budget.backboneParams,
        score: point.score,
        ...this.layout.describe(c),
        predicted: point.predicted,
      });
    });
    if (st.phase === 'initial') {
      st.reference = this.inferReference();
      st.phase = this.opts.iterations > 0 ? 'bo' : 'done';
    } else {
      st.hyper = pending.hyper;
      st.iteration++;
      if (st.iteration >= this.opts.iterations) st.phase = 'done';
    }
    st.hypervolume.push({
      evaluations: st.points.length,
      value: hypervolume(this.objectives(this.scored()), st.reference!),
    });
    this.pending = null;
  }

  /** Nadir score of the front minus 10 % of its range (BoTorch's infer_reference_point), unless set. */
  private inferReference(): ReferencePoint {
    if (this.opts.referenceScore !== null) return { size: REFERENCE_SIZE, score: this.opts.referenceScore };
    const objs = this.objectives(this.scored());
    const front = paretoFront(objs);
    const scores = objs.filter((_, i) => front[i]).map((o) => o.score);
    if (scores.length === 0) return { size: REFERENCE_SIZE, score: 0 };
    const nadir = Math.min(...scores);
    let range = Math.max(...scores) - nadir;
    if (!(range > 0)) range = Math.abs(nadir) > 0 ? Math.abs(nadir) : 1;
    return { size: REFERENCE_SIZE, score: nadir - 0.1 * range };
  }

  state(): unknown {
    return this.st;
  }

  outcome(): SearchOutcome {
    const st = this.st;
    const B = this.ctx.budget;
    const inBudget = this.scored().filter((p) => p.params <= B.params);
    if (inBudget.length === 0) {
      throw new Error('autopeft: no evaluated configuration within the budget has a finite validation score');
    }
    let best = inBudget[0]!;
    for (const p of inBudget) {
      if (p.score! > best.score! || (p.score === best.score && p.params < best.params)) best = p;
    }
    const objs = this.objectives(this.scored());
    const front = paretoFront(objs);
    const frontByIndex = new Map(this.scored().map((p, i) => [p.index, front[i]!]));
    const architecture: Architecture = this.layout.architecture(best.config);
    return {
      architecture,
      summary: {
        evaluations: st.points.length,
        iterations: st.iteration,
        stoppedBy: st.stopped ?? 'iterations',
        metric: this.ctx.task.metrics[0],
        surrogate:
          'GP (ARD Matérn-5/2, max. marginal likelihood) on the score; parameter ratio computed exactly',
        acquisition:
          'exact 2-D expected hypervolume improvement, local search over configurations within the budget',
        reference: st.reference && {
          ratio: (st.reference.size * B.params) / B.backboneParams,
          score: st.reference.score,
        },
        hypervolume: st.hypervolume,
        hypervolumeUnits: 'budget fractions × score',
        gp: st.hyper,
        points: st.points.map((p) => ({
          index: p.index,
          stage: p.phase,
          ...this.layout.describe(p.config),
          params: p.params,
          ratio: p.params / B.backboneParams,
          score: p.score,
          withinBudget: p.params <= B.params,
          onFront: frontByIndex.get(p.index) ?? false,
          predicted: p.predicted,
        })),
        best: {
          index: best.index,
          params: best.params,
          ratio: best.params / B.backboneParams,
          score: best.score,
        },
        trainableParams: this.ctx.modules.countArchitecture(architecture),
      },
    };
  }
}
