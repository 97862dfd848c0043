/**
 * The BIPEFT search strategy (method spec §2): a first-order, DARTS-style alternation of one
 * architecture step (on a batch of the architecture half of the training data) and one weight step
 * (on the weight half) per iteration. Architecture steps alternate between the binary space (on/off,
 * ranks at their argmax) and the dimension space (ranks, on/off fixed), with hard Gumbel-softmax
 * samples at a temperature annealed from 5 to 1. Module sensitivity is tracked every iteration; from
 * the prune-begin epoch on, the budget scheduler prunes modules and freezes ranks, and the search
 * stops as soon as its rounds are used up (early selection). The found architecture is re-trained
 * from scratch by the engine.
 *
 * Ablations (spec §4.1): mode `entangled` (one joint space with rank 0 as a candidate),
 * `binary-then-dimension`, `dimension-then-binary`; `gumbel: false`; `earlySelection: false`.
 *
 * Written as an ask/tell state machine: every `tell` leaves a complete, checkpointable state. The
 * steps it drives live in their own files: arch-step.ts, importance-samples.ts, rounds.ts, fold.ts,
 * derivation.ts (options in options.ts).
 */
import type {
  BudgetScheduler,
  GradientJob,
  GradientResult,
  ImportanceEstimator,
  Job,
  JobResult,
  ParamSet,
  SearchContext,
  SearchOutcome,
  SearchStrategy,
  StrategyCheckContext,
  EvaluateResult,
  Metrics,
  RngState,
} from '@peftkit/api';
import { Rng, type SplitBatches, checkBudgetFloor, deriveSeed, searchBatches } from '@peftkit/api';
import { type Optimizer, type OptimizerState, clipGradNorm, createOptimizer, lrAt } from '@peftkit/train';
import { architectureStep } from './arch-step.js';
import type { BipeftOptions } from './options.js';
import { deriveArchitecture } from './derivation.js';
import { foldSupernet } from './fold.js';
import { importanceSamples } from './importance-samples.js';
import { applyDecision } from './rounds.js';
import { type ArchSample, Supernet, type SupernetState } from './supernet.js';

type Pending = 'arch' | 'weight' | 'eval' | 'done';

interface State {
  pending: Pending;
  epoch: number;
  /** Index of the next weight batch in the current epoch (search kit `SplitBatches`). */
  cursor: number;
  archEpoch: number;
  /** Index of the next architecture batch in the architecture half's current pass. */
  archCursor: number;
  /** Cursors count batches (checkpoints written before counted examples). */
  cursorUnit?: 'batch';
  stage: 'binary' | 'dimension';
  step: number;
  stopped: 'schedule' | 'epochs' | null;
  net: SupernetState;
  weightOpt: OptimizerState;
  archOpt: OptimizerState;
  importance: unknown;
  scheduler: unknown;
  rng: RngState;
  /** Architecture-step gradients of the current iteration, kept until the weight step. */
  archGrads: ParamSet | null;
  archLoss: number | null;
  lastSample: { gates: Float32Array; masks: Float32Array } | null;
  validation: { epoch: number; step: number; metrics: Metrics }[];
  curve: { step: number; expected: number }[];
  rounds: number;
  folds: number;
  /** Smoothed importance of each pruned module at the round that pruned it (its EMA decays after). */
  prunedImportance: Record<string, number>;
  budgetWarning: string | null;
}

export class BipeftStrategy implements SearchStrategy {
  private readonly opts: Required<BipeftOptions>;
  private ctx!: SearchContext;
  private net!: Supernet;
  private st!: State;
  private weightBatches!: SplitBatches;
  private archBatches!: SplitBatches;
  private rng!: Rng;
  private weightOpt!: Optimizer;
  private archOpt!: Optimizer;
  /** The sample of the pending architecture step (rebuilt from the RNG state on resume). */
  private archSample: ArchSample | null = null;

  constructor(
    private readonly importance: ImportanceEstimator,
    private readonly scheduler: BudgetScheduler,
    options: BipeftOptions = {},
  ) {
    this.opts = {
      mode: options.mode ?? 'iterative',
      gumbel: options.gumbel ?? true,
      earlySelection: options.earlySelection ?? true,
      pruneBeginEpoch: options.pruneBeginEpoch ?? 1,
      archLr: options.archLr ?? 0.01,
      archBetas: options.archBetas ?? [0.5, 0.999],
      archWeightDecay: options.archWeightDecay ?? 1e-4,
      regularization: options.regularization ?? 0.01,
      tauStart: options.tauStart ?? 5,
      tauEnd: options.tauEnd ?? 1,
      foldFraction: options.foldFraction ?? 0.2,
      evaluateEachEpoch: options.evaluateEachEpoch ?? true,
      fillBudget: options.fillBudget ?? false,
    };
  }

  private get recipe() {
    return this.ctx.recipes.search;
  }

  private get batchesPerEpoch(): number {
    return this.weightBatches.perEpoch;
  }

  /** Weight steps of the configured search (recipe.maxSteps caps it, for smoke runs). */
  private get totalSteps(): number {
    return Math.min(this.recipe.epochs * this.batchesPerEpoch, this.recipe.maxSteps ?? Infinity);
  }

  /** A budget below the smallest module of the space is refused before anything runs. */
  check(ctx: StrategyCheckContext): void {
    checkBudgetFloor(ctx.budget, ctx.space.candidates, ctx.modules);
  }

  start(ctx: SearchContext, resumed?: unknown): void {
    this.ctx = ctx;
    this.weightBatches = searchBatches(ctx, 'search.weight', this.recipe, 'bipeft-w');
    this.archBatches = searchBatches(ctx, 'search.arch', this.recipe, 'bipeft-a');
    const entanglement = this.opts.mode === 'entangled' ? 'entangled' : 'disentangled';
    this.weightOpt = createOptimizer(this.recipe);
    this.archOpt = createOptimizer({
      ...this.recipe,
      optimizer: 'adam',
      lr: this.opts.archLr,
      betas: this.opts.archBetas,
      eps: 1e-8,
      weightDecay: this.opts.archWeightDecay,
      headLr: undefined,
    });
    if (resumed) {
      this.st = resumed as State;
      // Checkpoints written before budget filling existed lack it.
      this.st.prunedImportance ??= {};
      if (this.st.cursorUnit !== 'batch') {
        // Older checkpoints counted examples (whole batches, never grouped by length).
        this.st.cursor /= this.recipe.batchSize;
        this.st.archCursor = Math.ceil(this.st.archCursor / this.recipe.batchSize);
        this.st.cursorUnit = 'batch';
      }
      this.rng = Rng.fromState(this.st.rng);
      this.net = new Supernet(ctx.space.candidates, ctx.modules, entanglement, this.st.net);
      this.weightOpt.restore(this.st.weightOpt);
      this.archOpt.restore(this.st.archOpt);
      this.importance.restore(this.st.importance);
      this.scheduler.restore(this.st.scheduler);
      return;
    }
    this.checkBudget();
    this.rng = new Rng(deriveSeed(ctx.seed, 'bipeft'));
    this.net = Supernet.init(ctx.space.candidates, ctx.modules, entanglement, this.rng);
    this.st = {
      pending: 'arch',
      epoch: 0,
      cursor: 0,
      archEpoch: 0,
      archCursor: 0,
      cursorUnit: 'batch',
      stage: this.opts.mode === 'dimension-then-binary' ? 'dimension' : 'binary',
      step: 0,
      stopped: null,
      net: this.net.s,
      weightOpt: this.weightOpt.state(),
      archOpt: this.archOpt.state(),
      importance: this.importance.state(),
      scheduler: this.scheduler.state(),
      rng: this.rng.state(),
      archGrads: null,
      archLoss: null,
      lastSample: null,
      validation: [],
      curve: [],
      rounds: 0,
      folds: 0,
      prunedImportance: {},
      budgetWarning: this.st?.budgetWarning ?? null,
    };
    this.st.budgetWarning = this.warning;
    ctx.emit({
      type: 'search-start',
      candidates: ctx.space.candidates.length,
      candidateIds: ctx.space.candidates.map((c) => c.id),
      supernetParams: this.supernetSize(),
      budget: ctx.budget.params,
      epochs: this.recipe.epochs,
      batchesPerEpoch: this.batchesPerEpoch,
    });
  }

  private warning: string | null = null;

  private supernetSize(): number {
    return this.ctx.space.candidates.reduce((a, c) => a + this.netFullSize(c.id), 0);
  }

  private netFullSize(id: string): number {
    const c = this.ctx.space.candidates.find((x) => x.id === id)!;
    return this.ctx.modules.count(
      c.type,
      c.point,
      c.ranks ? c.ranks[c.ranks.length - 1]! : null,
      c.options as Record<string, unknown>,
    );
  }

  /** Budgets below the smallest module are an error; budgets above the supernet keep everything. */
  private checkBudget(): void {
    const { ctx } = this;
    const { total } = checkBudgetFloor(ctx.budget, ctx.space.candidates, ctx.modules);
    if (ctx.budget.params >= total) {
      this.warning = `the budget (${ctx.budget.params}) covers the whole supernet (${total} parameters): every module is kept`;
      ctx.log.warn(this.warning);
    }
  }

  private tau(): number {
    const { tauStart, tauEnd } = this.opts;
    return tauStart - ((tauStart - tauEnd) * this.st.epoch) / this.recipe.epochs;
  }

  private weightBatch(): number[] {
    return this.weightBatches.at(this.st.epoch, this.st.cursor);
  }

  /** The next batch of the architecture half (its own passes, restarted when used up). */
  private archBatch(): number[] {
    if (this.st.archCursor >= this.archBatches.perEpoch) {
      this.st.archEpoch++;
      this.st.archCursor = 0;
    }
    return this.archBatches.at(this.st.archEpoch, this.st.archCursor++);
  }

  /** Which architecture space this iteration's architecture step optimises. */
  private archStage(): 'binary' | 'dimension' {
    const half = this.st.epoch < this.recipe.epochs / 2;
    switch (this.opts.mode) {
      case 'iterative':
        return this.st.stage;
      case 'entangled':
        return 'dimension';
      case 'binary-then-dimension':
        return half ? 'binary' : 'dimension';
      case 'dimension-then-binary':
        return half ? 'dimension' : 'binary';
    }
  }

  private gradientJob(
    split: GradientJob['split'],
    indices: number[],
    sample: ArchSample,
    want: GradientJob['want'],
  ): GradientJob {
    return {
      kind: 'gradient',
      program: this.net.program(),
      params: this.net.s.params,
      gates: sample.gates,
      rankMasks: sample.masks.length ? sample.masks : undefined,
      split,
      indices,
      want,
    };
  }

  ask(): readonly Job[] | null {
    const st = this.st;
    if (st.pending === 'done') return null;
    if (st.pending === 'eval') {
      const s = this.net.sample('derive', 1, this.rng, this.opts.gumbel, false, this.opts.earlySelection);
      return [
        {
          kind: 'evaluate',
          program: this.net.program(),
          params: this.net.s.params,
          gates: s.gates,
          rankMasks: s.masks.length ? s.masks : undefined,
          split: 'validation',
          batchSize: Math.max(64, this.recipe.batchSize),
        },
      ];
    }
    // The RNG state is committed in tell(), so asking again after a resume draws the same sample.
    const rng = Rng.fromState(st.rng);
    if (st.pending === 'arch') {
      const stage = this.archStage();
      const tau = this.tau();
      const sample =
        stage === 'binary'
          ? this.net.sample('binary', tau, rng, this.opts.gumbel, false, false)
          : this.net.sample('dimension', tau, rng, this.opts.gumbel, this.opts.earlySelection, false);
      this.archSample = sample;
      this.pendingRng = rng.state();
      const saved = { archEpoch: st.archEpoch, archCursor: st.archCursor };
      const indices = this.archBatch();
      this.pendingArchCursor = { archEpoch: st.archEpoch, archCursor: st.archCursor };
      st.archEpoch = saved.archEpoch;
      st.archCursor = saved.archCursor;
      return [
        this.gradientJob('search.arch', indices, sample, {
          params: true,
          gates: sample.binary.size > 0,
          rankMasks: sample.ranks.size > 0 || sample.joint.size > 0,
        }),
      ];
    }
    const sample = this.net.sample('binary', this.tau(), rng, this.opts.gumbel, false, false);
    this.pendingRng = rng.state();
    return [this.gradientJob('search.weight', this.weightBatch(), sample, { params: true })];
  }

  private pendingRng: RngState | null = null;
  private pendingArchCursor: { archEpoch: number; archCursor: number } | null = null;

  tell(results: readonly JobResult[]): void {
    const r = results[0]!;
    const st = this.st;
    st.rng = this.pendingRng ?? st.rng;
    this.pendingRng = null;
    if (st.pending === 'eval') this.tellEval(r as EvaluateResult);
    else if (st.pending === 'arch') this.tellArch(r as GradientResult);
    else this.tellWeight(r as GradientResult);
    st.weightOpt = this.weightOpt.state();
    st.archOpt = this.archOpt.state();
    st.importance = this.importance.state();
    st.scheduler = this.scheduler.state();
  }

  private tellArch(r: GradientResult): void {
    const st = this.st;
    if (this.pendingArchCursor) {
      st.archEpoch = this.pendingArchCursor.archEpoch;
      st.archCursor = this.pendingArchCursor.archCursor;
      this.pendingArchCursor = null;
    }
    const sample = this.archSample!;
    architectureStep(this.net, sample, r, this.archOpt, {
      lr: this.opts.archLr,
      regularization: this.opts.regularization,
      entangled: this.opts.mode === 'entangled',
    });
    st.archGrads = r.grads;
    st.archLoss = r.loss;
    if (this.opts.mode === 'iterative') st.stage = st.stage === 'binary' ? 'dimension' : 'binary';
    st.pending = 'weight';
    this.archSample = null;
  }

  private tellWeight(r: GradientResult): void {
    const st = this.st;
    const grads = { ...r.grads };
    if (this.recipe.clipNorm !== null) clipGradNorm(grads, this.recipe.clipNorm);
    const lr = lrAt(Math.min(st.step, this.totalSteps - 1), this.totalSteps, this.recipe);
    this.weightOpt.step(this.net.s.params, grads, lr);
    st.step++;
    // Sensitivity from this iteration's weight and architecture gradients.
    const samples = importanceSamples(this.net, r.grads, st.archGrads);
    this.importance.observe(st.step, samples);
    st.archGrads = null;

    const scores = this.importance.scores();
    const statuses = this.net.statuses(scores);
    const expected = this.scheduler.expectedParams(statuses);
    st.curve.push({ step: st.step, expected });
    let finished = false;
    if (this.opts.earlySelection && st.epoch >= this.opts.pruneBeginEpoch) {
      const d = this.scheduler.decide({
        step: st.step,
        epoch: st.epoch,
        budget: this.ctx.budget.params,
        modules: statuses,
      });
      if (d.prune.length > 0 || d.freeze.length > 0 || d.event?.round !== undefined) {
        for (const id of d.prune) st.prunedImportance[id] = scores.get(id) ?? 0;
        const { frozen, lowered } = applyDecision(this.net, d);
        st.rounds++;
        const after = this.scheduler.expectedParams(this.net.statuses(scores));
        // The scheduler's event fields first: on a key clash the strategy's own fields win.
        this.ctx.emit({
          ...(d.event ?? {}),
          type: 'round',
          step: st.step,
          epoch: st.epoch,
          pruned: d.prune,
          frozen,
          ...(lowered.length > 0 ? { lowered } : {}),
          expectedBefore: d.expectedParams,
          expectedAfter: after,
          budget: this.ctx.budget.params,
          kept: this.net.alive().length,
        });
        for (const f of frozen) this.ctx.emit({ type: 'freeze', step: st.step, module: f.id, rank: f.rank });
        for (const l of lowered) this.ctx.emit({ type: 'freeze', step: st.step, module: l.id, rank: l.to });
        // A lowered module already folded at its old rank must be sliced again before any program runs.
        this.maybeFold(lowered.length > 0 ? 0 : this.opts.foldFraction);
      }
      finished = d.finished;
    }
    this.ctx.emit({
      type: 'step',
      step: st.step,
      epoch: st.epoch,
      done: st.step,
      total: this.totalSteps,
      lossWeight: r.loss,
      lossArch: st.archLoss,
      lr,
      tau: this.tau(),
      expected,
      budget: this.ctx.budget.params,
      kept: this.net.alive().length,
      frozen: Object.keys(this.net.s.frozen).length,
    });
    st.cursor++;
    if (finished) {
      st.stopped = 'schedule';
      st.pending = 'eval';
      return;
    }
    if (st.step >= this.totalSteps) {
      st.stopped = 'epochs';
      st.pending = 'eval';
      return;
    }
    if (st.cursor >= this.batchesPerEpoch) {
      st.cursor = 0;
      st.epoch++;
      if (this.opts.evaluateEachEpoch || st.epoch >= this.recipe.epochs) {
        st.pending = 'eval';
        if (st.epoch >= this.recipe.epochs) st.stopped = 'epochs';
        return;
      }
    }
    st.pending = 'arch';
  }

  private tellEval(r: EvaluateResult): void {
    const st = this.st;
    st.validation.push({ epoch: st.epoch, step: st.step, metrics: r.metrics });
    this.ctx.emit({
      type: 'search-eval',
      epoch: st.epoch,
      step: st.step,
      validation: r.metrics,
      kept: this.net.alive().length,
    });
    st.pending = st.stopped ? 'done' : 'arch';
  }

  /** Fold pruned modules and frozen ranks into a smaller program once enough has changed. */
  private maybeFold(fraction: number): void {
    const folded = foldSupernet(this.net, this.ctx.modules, this.weightOpt, fraction);
    if (folded.length === 0) return;
    this.st.folds++;
    this.ctx.emit({ type: 'fold', step: this.st.step, modules: this.net.program().modules.length, folded });
  }

  state(): unknown {
    this.st.net = this.net.s;
    return this.st;
  }

  outcome(): SearchOutcome {
    const scores = this.importance.scores();
    const d = deriveArchitecture(this.net, {
      budget: this.ctx.budget.params,
      useKeepMask: this.opts.earlySelection,
      scores,
      fillImportance: this.opts.fillBudget
        ? (c) => this.st.prunedImportance[c.id] ?? scores.get(c.id) ?? 0
        : undefined,
    });
    const arch = d.architecture;
    const count = this.ctx.modules.countArchitecture(arch);
    const budget = this.ctx.budget.params;
    if (d.repair.length) {
      this.ctx.emit({
        type: 'budget-repair',
        removed: d.repair.map((r) => r.module),
        derivedParams: d.derivedParams,
        trainableParams: d.derivedParams - d.repair.reduce((a, r) => a + r.params, 0),
        budget,
      });
    }
    if (d.filled.length)
      this.ctx.emit({ type: 'budget-fill', added: d.filled, trainableParams: count, budget });
    return {
      architecture: arch,
      summary: {
        steps: this.st.step,
        epochs: this.st.epoch + this.st.cursor / this.batchesPerEpoch,
        stoppedBy: this.st.stopped,
        rounds: this.st.rounds,
        folds: this.st.folds,
        searchValidation: this.st.validation,
        expectedCurve: this.st.curve,
        derivedParams: d.derivedParams,
        repair: d.repair,
        budgetFill: d.filled,
        warning: this.st.budgetWarning,
        trainableParams: count,
        mode: this.opts.mode,
        gumbel: this.opts.gumbel,
        earlySelection: this.opts.earlySelection,
      },
    };
  }
}
