/**
 * The S3Delta search strategy (Hu et al., NeurIPS 2022; method spec §5.5; thunlp/S3Delta
 * NAS_global): one logit a_i per candidate module, a shifted global sigmoid whose shift is
 * re-solved every step so that the expected size equals the budget, binary-concrete soft gates,
 * and second-order DARTS on the two halves of the training split (weights on `search.weight`,
 * logits on `search.arch`).
 *
 * One iteration (one weight batch), as the released `s3deltaTrainer.train_step`:
 *   1. draw u ~ U(0,1)^N once; z = gates(a, b(a), u) for the four architecture passes;
 *   2. `virtual`:    ∇_w L_train(w) → w' = one virtual step of the weight optimiser (ξ = its lr);
 *   3. `validation`: ∇_a L_val(w') and v = ∇_{w'} L_val(w');
 *   4. `hessian`:    ∇_a L_train(w ± εv), ε = 0.01/‖v‖ → g_a = ∇_a L_val(w') − ξ·HVP;
 *      clip g_a to norm 2, AdamW step on a (lr 0.1, wd 0, linear decay);
 *   5. `weight`:     fresh u, z from the updated a; ∇_w L_train(w), clip, weight optimiser step.
 * Gradient jobs: 4 for the architecture update (2 with `firstOrder`, which drops step 4's Hessian
 * term) plus 1 for the weight update, i.e. 5 (3) per iteration.
 *
 * After every `recipe.evalEvery` epochs the currently derived architecture is scored on the
 * validation split; with `selection: 'best-validation'` (the released code keeps the best
 * checkpoint by validation score) the final logits are those of the best evaluation. Derivation:
 * modules sorted by p_i, added greedily while the exact parameter total stays within the budget.
 * The engine re-trains the result from scratch.
 */
import type {
  Architecture,
  Candidate,
  EvaluateResult,
  GradientJob,
  GradientResult,
  Job,
  JobResult,
  Metrics,
  ParamSet,
  ProgramSpec,
  RngState,
  SearchContext,
  SearchOutcome,
  SearchStrategy,
  StrategyCheckContext,
} from '@peftkit/api';
import {
  ConfigError,
  Rng,
  type SplitBatches,
  checkBudgetFloor,
  deriveSeed,
  greedyUnderBudget,
  searchBatches,
} from '@peftkit/api';
import {
  AdamFamily,
  type Optimizer,
  type OptimizerState,
  clipGradNorm,
  createOptimizer,
  globalNorm,
  lrAt,
} from '@peftkit/train';
import { type ConcreteSample, type RelaxOptions, concreteBackward, concreteGates } from './concrete.js';
import { addScaled, finiteDifferenceHvp, hvpEpsilon, unrolledArchGradient } from './darts.js';
import { probabilities, solveShift } from './shift.js';
import type { S3DeltaOptions } from './options.js';

type Phase = 'virtual' | 'validation' | 'hessian' | 'weight' | 'eval' | 'done';

interface JobCounts {
  virtual: number;
  validation: number;
  hessian: number;
  weight: number;
  evaluate: number;
}

interface State {
  phase: Phase;
  step: number;
  epoch: number;
  /** Index of the next weight batch in the current epoch (search kit `SplitBatches`). */
  cursor: number;
  archEpoch: number;
  /** Index of the next architecture batch in the architecture half's current pass. */
  archCursor: number;
  /** Cursors count batches (checkpoints written before counted examples). */
  cursorUnit?: 'batch';
  logits: Float32Array;
  params: ParamSet;
  weightOpt: OptimizerState;
  archOpt: OptimizerState;
  rng: RngState;
  /** Uniforms of the pending sample (the architecture passes of a step, or its weight pass). */
  u: Float64Array | null;
  archIndices: number[] | null;
  /** w' and v = ∇_{w'} L_val of the pending architecture update. */
  virtual: ParamSet | null;
  direction: ParamSet | null;
  epsilon: number | null;
  valArchGrad: Float64Array | null;
  lossTrain: number | null;
  lossVal: number | null;
  archGradNorm: number | null;
  jobs: JobCounts;
  validation: { epoch: number; step: number; metrics: Metrics; trainableParams: number }[];
  best: { score: number; epoch: number; step: number; logits: Float32Array } | null;
  warning: string | null;
  skipped: boolean;
}

export class S3DeltaStrategy implements SearchStrategy {
  private readonly opts: Required<S3DeltaOptions>;
  private ctx!: SearchContext;
  private st!: State;
  private candidates: readonly Candidate[] = [];
  private sizes = new Float64Array(0);
  private spec!: ProgramSpec;
  private weightOpt!: Optimizer;
  private archOpt!: Optimizer;
  /** The sample the pending jobs were built with (rebuilt by `ask` after a resume). */
  private sample: ConcreteSample | null = null;
  private weightBatches!: SplitBatches;
  private archBatches!: SplitBatches;

  constructor(options: S3DeltaOptions = {}) {
    this.opts = {
      firstOrder: options.firstOrder ?? false,
      virtualStep: options.virtualStep ?? 'optimizer',
      archLr: options.archLr ?? 0.1,
      archBetas: options.archBetas ?? [0.9, 0.999],
      archWeightDecay: options.archWeightDecay ?? 0,
      archSchedule: options.archSchedule ?? 'linear',
      archClipNorm: options.archClipNorm === undefined ? 2 : options.archClipNorm,
      beta: options.beta ?? 1,
      rescale: options.rescale ?? true,
      hessianScale: options.hessianScale ?? 0.01,
      selection: options.selection ?? 'best-validation',
    };
  }

  private get recipe() {
    return this.ctx.recipes.search;
  }

  private get relax(): RelaxOptions {
    return { beta: this.opts.beta, rescale: this.opts.rescale };
  }

  private get batchesPerEpoch(): number {
    return this.weightBatches.perEpoch;
  }

  private get totalSteps(): number {
    return Math.min(this.recipe.epochs * this.batchesPerEpoch, this.recipe.maxSteps ?? Infinity);
  }

  /** A budget below the smallest module of the space is refused before anything runs. */
  check(ctx: StrategyCheckContext): void {
    checkBudgetFloor(ctx.budget, ctx.space.candidates, ctx.modules);
  }

  start(ctx: SearchContext, resumed?: unknown): void {
    this.ctx = ctx;
    this.candidates = ctx.space.candidates;
    for (const c of this.candidates) {
      if (c.ranks && c.ranks.length !== 1) {
        throw new ConfigError(
          `candidate ${c.id} offers ranks [${c.ranks.join(', ')}], but S3Delta only decides on/off: every candidate needs one size`,
          undefined,
          'space',
          'use the s3pet-m or s3pet-l space (or a space whose ranked candidates have a single rank)',
        );
      }
    }
    this.sizes = Float64Array.from(this.candidates, (c) =>
      ctx.modules.count(c.type, c.point, c.ranks ? c.ranks[0]! : null, c.options as Record<string, unknown>),
    );
    this.spec = {
      modules: this.candidates.map((c) => ({
        type: c.type,
        point: c.point,
        rank: c.ranks ? c.ranks[0]! : null,
        options: c.options as Record<string, unknown>,
        gated: true,
      })),
    };
    this.weightBatches = searchBatches(ctx, 'search.weight', this.recipe, 's3delta-w');
    this.archBatches = searchBatches(ctx, 'search.arch', this.recipe, 's3delta-a');
    this.weightOpt = createOptimizer(this.recipe);
    this.archOpt = new AdamFamily(true, {
      betas: this.opts.archBetas,
      eps: 1e-8,
      weightDecay: this.opts.archWeightDecay,
    });
    if (resumed) {
      this.st = resumed as State;
      if (this.st.cursorUnit !== 'batch') {
        // Older checkpoints counted examples (whole batches, never grouped by length).
        this.st.cursor /= this.recipe.batchSize;
        this.st.archCursor = Math.ceil(this.st.archCursor / this.recipe.batchSize);
        this.st.cursorUnit = 'batch';
      }
      this.weightOpt.restore(this.st.weightOpt);
      this.archOpt.restore(this.st.archOpt);
      return;
    }
    const warning = this.checkBudget();
    const rng = new Rng(deriveSeed(ctx.seed, 's3delta'));
    const params = ctx.modules.init(this.spec, rng.fork('weights'));
    this.st = {
      phase: 'virtual',
      step: 0,
      epoch: 0,
      cursor: 0,
      archEpoch: 0,
      archCursor: 0,
      cursorUnit: 'batch',
      // The released code initialises every logit to 0 (p_i = B / Σ n at the first step).
      logits: new Float32Array(this.candidates.length),
      params,
      weightOpt: this.weightOpt.state(),
      archOpt: this.archOpt.state(),
      rng: rng.state(),
      u: null,
      archIndices: null,
      virtual: null,
      direction: null,
      epsilon: null,
      valArchGrad: null,
      lossTrain: null,
      lossVal: null,
      archGradNorm: null,
      jobs: { virtual: 0, validation: 0, hessian: 0, weight: 0, evaluate: 0 },
      validation: [],
      best: null,
      warning,
      skipped: warning !== null,
    };
    ctx.emit({
      type: 'search-start',
      candidates: this.candidates.length,
      supernetParams: this.sizes.reduce((a, b) => a + b, 0),
      budget: ctx.budget.params,
      epochs: this.recipe.epochs,
      batchesPerEpoch: this.batchesPerEpoch,
      firstOrder: this.opts.firstOrder,
    });
    if (this.st.skipped) this.st.phase = 'done';
    else this.beginStep();
  }

  /** Budgets below the smallest module are an error; a budget covering every module needs no search. */
  private checkBudget(): string | null {
    const { ctx } = this;
    checkBudgetFloor(ctx.budget, this.candidates, ctx.modules);
    const total = this.sizes.reduce((a, b) => a + b, 0);
    if (ctx.budget.params >= total) {
      const w = `the budget (${ctx.budget.params}) covers the whole space (${total} parameters): every module is kept without searching`;
      ctx.log.warn(w);
      return w;
    }
    return null;
  }

  private lrWeight(): number {
    return lrAt(Math.min(this.st.step, this.totalSteps - 1), this.totalSteps, this.recipe);
  }

  private lrArch(): number {
    return lrAt(Math.min(this.st.step, this.totalSteps - 1), this.totalSteps, {
      lr: this.opts.archLr,
      schedule: this.opts.archSchedule,
      warmupRatio: 0,
    });
  }

  private drawUniforms(): void {
    const rng = Rng.fromState(this.st.rng);
    this.st.u = Float64Array.from(this.candidates, () => rng.nextOpen());
    this.st.rng = rng.state();
  }

  private weightBatch(): number[] {
    return this.weightBatches.at(this.st.epoch, this.st.cursor);
  }

  /** The next batch of the architecture half (its own passes, restarted when used up). */
  private nextArchBatch(): number[] {
    if (this.st.archCursor >= this.archBatches.perEpoch) {
      this.st.archEpoch++;
      this.st.archCursor = 0;
    }
    return this.archBatches.at(this.st.archEpoch, this.st.archCursor++);
  }

  private beginStep(): void {
    this.st.archIndices = this.nextArchBatch();
    this.drawUniforms();
    this.st.phase = 'virtual';
  }

  private currentSample(): ConcreteSample {
    const shift = solveShift(this.st.logits, this.sizes, this.ctx.budget.params, this.opts.beta);
    return concreteGates(this.st.logits, shift, this.st.u!, this.relax);
  }

  private gradientJob(
    split: GradientJob['split'],
    indices: readonly number[],
    params: ParamSet,
    want: GradientJob['want'],
  ): GradientJob {
    return {
      kind: 'gradient',
      program: this.spec,
      params,
      gates: Float32Array.from(this.sample!.z),
      // The detached copy is 1 so that every module is multiplied by z exactly once (LoRA and
      // adapters multiply by both copies; S3Delta gates the module output once).
      gatesDetached: new Float32Array(this.candidates.length).fill(1),
      split,
      indices,
      want,
    };
  }

  ask(): readonly Job[] | null {
    const st = this.st;
    switch (st.phase) {
      case 'done':
        return null;
      case 'eval':
        return [
          {
            kind: 'evaluate',
            program: this.spec,
            params: st.params,
            gates: Float32Array.from(this.derivedMask(st.logits), (on) => (on ? 1 : 0)),
            split: 'validation',
            batchSize: Math.max(64, this.recipe.batchSize),
          },
        ];
      case 'virtual':
        this.sample = this.currentSample();
        return [this.gradientJob('search.weight', this.weightBatch(), st.params, { params: true })];
      case 'validation':
        this.sample = this.currentSample();
        return [
          this.gradientJob('search.arch', st.archIndices!, st.virtual!, {
            params: !this.opts.firstOrder,
            gates: true,
          }),
        ];
      case 'hessian': {
        this.sample = this.currentSample();
        const batch = this.weightBatch();
        const eps = st.epsilon!;
        return [
          this.gradientJob('search.weight', batch, addScaled(st.params, st.direction!, eps), { gates: true }),
          this.gradientJob('search.weight', batch, addScaled(st.params, st.direction!, -eps), {
            gates: true,
          }),
        ];
      }
      case 'weight':
        this.sample = this.currentSample();
        return [this.gradientJob('search.weight', this.weightBatch(), st.params, { params: true })];
    }
  }

  tell(results: readonly JobResult[]): void {
    const st = this.st;
    switch (st.phase) {
      case 'eval':
        this.tellEval(results[0] as EvaluateResult);
        break;
      case 'virtual':
        this.tellVirtual(results[0] as GradientResult);
        break;
      case 'validation':
        this.tellValidation(results[0] as GradientResult);
        break;
      case 'hessian':
        this.tellHessian(results[0] as GradientResult, results[1] as GradientResult);
        break;
      case 'weight':
        this.tellWeight(results[0] as GradientResult);
        break;
      case 'done':
        throw new Error('s3delta: tell after the search finished');
    }
    st.weightOpt = this.weightOpt.state();
    st.archOpt = this.archOpt.state();
  }

  /** w' from ∇_w L_train(w): the weight optimiser's update on a copy (or plain SGD), at lr ξ. */
  private tellVirtual(r: GradientResult): void {
    const st = this.st;
    st.jobs.virtual++;
    st.lossTrain = r.loss;
    const xi = this.lrWeight();
    const w: ParamSet = {};
    for (const [k, v] of Object.entries(st.params)) w[k] = v.slice();
    if (this.opts.virtualStep === 'sgd') {
      for (const [k, g] of Object.entries(r.grads)) {
        const t = w[k]!;
        for (let i = 0; i < t.length; i++) t[i] = t[i]! - xi * g[i]!;
      }
    } else {
      // A copy of the optimiser state, so the virtual step leaves the real one untouched (the
      // released code deep-copies the AdamW state the same way).
      const virtualOpt = createOptimizer(this.recipe);
      virtualOpt.restore(this.weightOpt.state());
      virtualOpt.step(w, r.grads, xi);
    }
    st.virtual = w;
    st.phase = 'validation';
  }

  private tellValidation(r: GradientResult): void {
    const st = this.st;
    st.jobs.validation++;
    st.lossVal = r.loss;
    const da = concreteBackward(this.sample!, r.gateGrads!, this.relax);
    st.virtual = null;
    if (this.opts.firstOrder) {
      this.updateLogits(da);
      return;
    }
    st.valArchGrad = da;
    st.direction = r.grads;
    st.epsilon = hvpEpsilon(r.grads, this.opts.hessianScale);
    st.phase = 'hessian';
  }

  private tellHessian(plus: GradientResult, minus: GradientResult): void {
    const st = this.st;
    st.jobs.hessian += 2;
    // The chain rule to the logits is linear in dL/dz for a fixed sample, so it commutes with the
    // finite difference.
    const hvp = finiteDifferenceHvp(
      concreteBackward(this.sample!, plus.gateGrads!, this.relax),
      concreteBackward(this.sample!, minus.gateGrads!, this.relax),
      st.epsilon!,
    );
    const grad = unrolledArchGradient(st.valArchGrad!, hvp, this.lrWeight());
    st.valArchGrad = null;
    st.direction = null;
    st.epsilon = null;
    this.updateLogits(grad);
  }

  private updateLogits(grad: Float64Array): void {
    const st = this.st;
    const grads = { logits: Float32Array.from(grad) };
    st.archGradNorm =
      this.opts.archClipNorm === null ? globalNorm(grads) : clipGradNorm(grads, this.opts.archClipNorm);
    this.archOpt.step({ logits: st.logits }, grads, this.lrArch());
    this.drawUniforms();
    st.phase = 'weight';
  }

  private tellWeight(r: GradientResult): void {
    const st = this.st;
    st.jobs.weight++;
    const grads = { ...r.grads };
    if (this.recipe.clipNorm !== null) clipGradNorm(grads, this.recipe.clipNorm);
    const lr = this.lrWeight();
    this.weightOpt.step(st.params, grads, lr);
    st.step++;
    st.cursor++;
    this.ctx.emit({
      type: 'step',
      step: st.step,
      epoch: st.epoch,
      done: st.step,
      total: this.totalSteps,
      lossTrain: st.lossTrain,
      lossVal: st.lossVal,
      lossWeight: r.loss,
      shift: this.sample!.shift,
      lrWeight: lr,
      archGradNorm: st.archGradNorm,
    });
    let evaluate = false;
    if (st.cursor >= this.batchesPerEpoch) {
      st.cursor = 0;
      st.epoch++;
      evaluate = st.epoch % this.recipe.evalEvery === 0;
    }
    const finished = st.step >= this.totalSteps;
    if (this.opts.selection === 'best-validation' && (evaluate || finished)) {
      st.phase = 'eval';
      return;
    }
    if (finished) st.phase = 'done';
    else this.beginStep();
  }

  private tellEval(r: EvaluateResult): void {
    const st = this.st;
    st.jobs.evaluate++;
    const metric = this.ctx.task.metrics[0]!;
    const score = r.metrics[metric] ?? -Infinity;
    const trainableParams = this.ctx.modules.countArchitecture(this.derive(st.logits));
    st.validation.push({ epoch: st.epoch, step: st.step, metrics: r.metrics, trainableParams });
    // `>=` as the released trainer: a later evaluation with an equal score wins.
    if (Number.isFinite(score) && (st.best === null || score >= st.best.score)) {
      st.best = { score, epoch: st.epoch, step: st.step, logits: st.logits.slice() };
    }
    this.ctx.emit({
      type: 'search-eval',
      epoch: st.epoch,
      step: st.step,
      validation: r.metrics,
      trainableParams,
    });
    if (st.step >= this.totalSteps) st.phase = 'done';
    else this.beginStep();
  }

  /** Greedy derivation: modules by p_i (equivalently by logit) while the exact total fits. */
  private derivedMask(logits: Float32Array): boolean[] {
    return selectUnderBudget(logits, this.sizes, this.ctx.budget.params);
  }

  private derive(logits: Float32Array): Architecture {
    const on = this.st.skipped ? this.candidates.map(() => true) : this.derivedMask(logits);
    const modules = this.candidates
      .filter((_, i) => on[i])
      .map((c) => ({
        type: c.type,
        point: c.point,
        rank: c.ranks ? c.ranks[0]! : null,
        ...(Object.keys(c.options).length ? { options: { ...(c.options as Record<string, unknown>) } } : {}),
      }));
    return { modules };
  }

  state(): unknown {
    return this.st;
  }

  outcome(): SearchOutcome {
    const st = this.st;
    const fromBest = this.opts.selection === 'best-validation' && st.best !== null;
    const logits = fromBest ? st.best!.logits : st.logits;
    const architecture = this.derive(logits);
    const on = new Set(architecture.modules.map((m) => `${m.type}@${m.point}`));
    let p: Float64Array | null = null;
    let shift: number | null = null;
    if (!st.skipped) {
      shift = solveShift(logits, this.sizes, this.ctx.budget.params, this.opts.beta);
      p = probabilities(logits, shift, this.opts.beta);
    }
    const gradientJobs = st.jobs.virtual + st.jobs.validation + st.jobs.hessian + st.jobs.weight;
    return {
      architecture,
      summary: {
        steps: st.step,
        epochs: st.epoch + st.cursor / this.batchesPerEpoch,
        gradientJobs,
        jobs: { ...st.jobs },
        gradientJobsPerArchitectureStep: this.opts.firstOrder ? 2 : 4,
        gradientJobsPerIteration: this.opts.firstOrder ? 3 : 5,
        firstOrder: this.opts.firstOrder,
        virtualStep: this.opts.virtualStep,
        rescale: this.opts.rescale,
        selection: fromBest
          ? { from: 'best-validation', epoch: st.best!.epoch, step: st.best!.step, score: st.best!.score }
          : { from: 'last', step: st.step },
        shift,
        final: this.candidates.map((c, i) => ({
          id: c.id,
          params: this.sizes[i],
          logit: logits[i],
          p: p ? p[i] : 1,
          selected: on.has(c.id),
        })),
        searchValidation: st.validation,
        trainableParams: this.ctx.modules.countArchitecture(architecture),
        budget: this.ctx.budget.params,
        warning: st.warning,
      },
    };
  }
}

/**
 * S3Delta's `hard_forward_structure`: visit modules by decreasing score (ties: lower index first)
 * and keep each one whose size still fits in what is left of the budget (the search kit's greedy).
 */
export function selectUnderBudget(
  scores: ArrayLike<number>,
  sizes: ArrayLike<number>,
  budget: number,
): boolean[] {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort(
    (a, b) => scores[b]! - scores[a]! || a - b,
  );
  const on = new Array<boolean>(scores.length).fill(false);
  for (const i of greedyUnderBudget(order, (j) => sizes[j]!, budget).chosen) on[i] = true;
  return on;
}
