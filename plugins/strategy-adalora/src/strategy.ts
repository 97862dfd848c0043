/**
 * AdaLoRA as a strategy that trains the final model itself (method spec §5.7; PEFT's AdaLoraModel
 * and RankAllocator). SVD-form modules (`adalora`, module.ts) at the targets start at `initRank`
 * triplets each; training runs as gradient jobs on the training split; after every optimiser step
 * the triplet importance is updated and, on the cubic schedule (schedule.ts), the least important
 * triplets are masked out through the program's rank mask (and their Λ entries zeroed, as PEFT's
 * masked_fill_). At step T − t_final the allocation is fixed at b(T) triplets that fit the budget;
 * the model is then fine-tuned with that mask, scored on validation after each epoch (model
 * selection among the epochs with the final mask) and the selected model on test.
 *
 * The outcome's `final` is that model (the engine does not re-train), and its architecture is each
 * target at its number of kept triplets, as `adalora` modules whose parameters are the kept
 * triplets (so architecture + parameters compute exactly the trained model).
 *
 * Written as an ask/tell state machine; `state()` after any `tell` is a complete checkpoint.
 */
import type {
  Architecture,
  AttachmentPoint,
  DataSplit,
  EvaluateResult,
  GradientJob,
  GradientResult,
  Job,
  JobResult,
  JsonSchema,
  Metrics,
  ModuleChoice,
  ParamSet,
  ProgramSpec,
  SearchContext,
  SearchOutcome,
  SearchStrategy,
  TrainRecipe,
  TrainResult,
} from '@peftkit/api';
import {
  ConfigError,
  Rng,
  type SplitBatches,
  deriveSeed,
  matchPoints,
  moduleId,
  searchBatches,
} from '@peftkit/api';
import { type Optimizer, type OptimizerState, clipGradNorm, createOptimizer, lrAt } from '@peftkit/train';
import { TripletImportance } from './importance.js';
import { ADALORA, DEFAULT_ALPHA } from './module.js';
import { type OrthForm, columnsOf, gramPenalty, rowsOf } from './orthogonality.js';
import { type BudgetSchedule, budgetAt, resolveSteps } from './schedule.js';

export interface AdaLoraOptions {
  targets?: string[];
  initRank?: number;
  /** Average final rank (b(T) = targetRank · modules, capped by the budget), or `budget`. */
  targetRank?: number | 'budget';
  alpha?: number;
  tinit?: number | string;
  tfinal?: number | string;
  deltaT?: number;
  beta1?: number;
  beta2?: number;
  orthReg?: number;
  orthForm?: OrthForm;
  recipe?: 'search' | 'retrain';
}

const steps = {
  oneOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^\\d+(\\.\\d+)?%$' },
  ],
};

export const adaloraOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    targets: {
      type: 'array',
      items: { type: 'string' },
      minItems: 1,
      description: 'Linear attachment points to adapt (default: attention q, k, v, o and FFN in, out).',
    },
    initRank: {
      type: 'integer',
      minimum: 1,
      default: 12,
      description: 'Initial triplets per module (init_r).',
    },
    targetRank: {
      oneOf: [{ type: 'integer', minimum: 1 }, { const: 'budget' }],
      default: 8,
      description:
        'Average final rank: b(T) = targetRank · modules (target_r), capped by the budget; or "budget": as many triplets as the budget holds.',
    },
    alpha: {
      type: 'number',
      exclusiveMinimum: 0,
      default: DEFAULT_ALPHA,
      description: 'lora_alpha: the update is scaled by alpha / initRank.',
    },
    tinit: {
      ...steps,
      default: '10%',
      description: 'Warm-up steps before masking starts (integer steps or a percentage of all steps).',
    },
    tfinal: {
      ...steps,
      default: '50%',
      description: 'Final fine-tuning steps with the allocation fixed (integer steps or a percentage).',
    },
    deltaT: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: 'Mask every deltaT steps during the schedule.',
    },
    beta1: {
      type: 'number',
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      default: 0.85,
      description: 'EMA of the sensitivity.',
    },
    beta2: {
      type: 'number',
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      default: 0.85,
      description: 'EMA of the uncertainty.',
    },
    orthReg: {
      type: 'number',
      minimum: 0,
      default: 0.1,
      description: 'Weight γ of the orthogonality regulariser.',
    },
    orthForm: {
      enum: ['paper', 'peft'],
      default: 'paper',
      description:
        'paper: γ·Σ(‖PᵀP−I‖²_F + ‖QQᵀ−I‖²_F); peft: γ·mean over the P and Q matrices of the unsquared norm (PEFT/official code).',
    },
    recipe: {
      enum: ['search', 'retrain'],
      default: 'search',
      description: "Which of the run's recipes trains the model.",
    },
  },
};

interface Target {
  point: AttachmentPoint;
  id: string;
  /** Parameters of one triplet: in + out + 1. */
  size: number;
  /** Offset of the module's triplets in the concatenated mask. */
  offset: number;
}

interface State {
  pending: 'train' | 'eval' | 'test' | 'done';
  epoch: number;
  /** Index of the next batch in the current epoch (search kit `SplitBatches`). */
  cursor: number;
  /** The cursor counts batches (checkpoints written before counted examples). */
  cursorUnit?: 'batch';
  step: number;
  params: ParamSet;
  optimizer: OptimizerState;
  importance: { avg: ParamSet; unc: ParamSet };
  /** 0/1 per triplet, modules concatenated in program order. */
  mask: Float32Array;
  finalMasked: boolean;
  /** Stop after the evaluation that is pending. */
  last: boolean;
  lossSum: number;
  batches: number;
  curve: number[];
  orth: number;
  best: { params: ParamSet; epoch: number; step: number; score: number } | null;
  validation: { epoch: number; step: number; kept: number; metrics: Metrics }[];
  test: Metrics | null;
  keptCurve: { step: number; budget: number; kept: number }[];
  seconds: number;
}

const TRAIN: DataSplit = 'train';

export class AdaLoraStrategy implements SearchStrategy {
  private readonly o: Required<Omit<AdaLoraOptions, 'targets'>> & { targets: string[] };
  private ctx!: SearchContext;
  private st!: State;
  private targets!: Target[];
  private schedule!: BudgetSchedule;
  private optimizer!: Optimizer;
  private importance!: TripletImportance;
  private mark = 0;
  private batches!: SplitBatches;
  private warning: string | null = null;

  constructor(options: AdaLoraOptions = {}) {
    this.o = {
      targets: options.targets ?? ['layer.*.attn.{q,k,v,o}', 'layer.*.ffn.{in,out}'],
      initRank: options.initRank ?? 12,
      targetRank: options.targetRank ?? 8,
      alpha: options.alpha ?? DEFAULT_ALPHA,
      tinit: options.tinit ?? '10%',
      tfinal: options.tfinal ?? '50%',
      deltaT: options.deltaT ?? 1,
      beta1: options.beta1 ?? 0.85,
      beta2: options.beta2 ?? 0.85,
      orthReg: options.orthReg ?? 0.1,
      orthForm: options.orthForm ?? 'paper',
      recipe: options.recipe ?? 'search',
    };
  }

  private get recipe(): TrainRecipe {
    return this.ctx.recipes[this.o.recipe];
  }

  private get batchesPerEpoch(): number {
    return this.batches.perEpoch;
  }

  private get moduleOptions(): Record<string, unknown> {
    return { alpha: this.o.alpha, scalingRank: this.o.initRank };
  }

  start(ctx: SearchContext, resumed?: unknown): void {
    this.ctx = ctx;
    this.mark = performance.now();
    this.resolveTargets();
    this.batches = searchBatches(ctx, TRAIN, this.recipe, 'adalora-order');
    this.schedule = this.makeSchedule();
    this.optimizer = createOptimizer(this.recipe);
    if (resumed) {
      this.st = resumed as State;
      if (this.st.cursorUnit !== 'batch') {
        // Older checkpoints counted examples (whole batches, never grouped by length).
        this.st.cursor /= this.recipe.batchSize;
        this.st.cursorUnit = 'batch';
      }
      this.optimizer.restore(this.st.optimizer);
      this.importance = new TripletImportance(this.o.beta1, this.o.beta2, this.st.importance);
      return;
    }
    const r0 = this.o.initRank;
    this.importance = new TripletImportance(this.o.beta1, this.o.beta2);
    this.st = {
      pending: 'train',
      epoch: 0,
      cursor: 0,
      cursorUnit: 'batch',
      step: 0,
      params: ctx.modules.init(this.program(), new Rng(deriveSeed(ctx.seed, 'adalora-init'))),
      optimizer: this.optimizer.state(),
      importance: this.importance.s,
      mask: new Float32Array(this.targets.length * r0).fill(1),
      finalMasked: false,
      last: false,
      lossSum: 0,
      batches: 0,
      curve: [],
      orth: 0,
      best: null,
      validation: [],
      test: null,
      keptCurve: [],
      seconds: 0,
    };
    ctx.emit({
      type: 'search-start',
      modules: this.targets.length,
      initialTriplets: this.schedule.initial,
      targetTriplets: this.schedule.target,
      initialParams: this.targets.reduce((a, t) => a + r0 * t.size, 0),
      budget: ctx.budget.params,
      totalSteps: this.schedule.total,
      tinit: this.schedule.tinit,
      tfinal: this.schedule.tfinal,
    });
  }

  private resolveTargets(): void {
    const { ctx } = this;
    let points: AttachmentPoint[];
    try {
      points = matchPoints(this.o.targets, ctx.backbone.points, ['linear']);
    } catch (e) {
      throw new ConfigError((e as Error).message, undefined, 'strategy.options.targets');
    }
    const types = ctx.modules.types.names();
    if (!types.includes(ADALORA)) {
      throw new ConfigError(
        `module type ${ADALORA} is not registered (registered: ${types.join(', ')})`,
        undefined,
        'plugins',
      );
    }
    this.targets = points.map((point, k) => ({
      point,
      id: moduleId(ADALORA, point.name),
      size: ctx.modules.count(ADALORA, point.name, 1, this.moduleOptions),
      offset: k * this.o.initRank,
    }));
  }

  /**
   * b(0) = initRank · modules. b(T) = targetRank · modules (PEFT's target_r), capped by the number
   * of triplets the budget holds at the mean triplet size, floor(budget / mean(in + out + 1)) (with
   * `budget`: that number). The final allocation then keeps the b(T) most important triplets that
   * fit the budget exactly (final mask, `allocate`).
   */
  private makeSchedule(): BudgetSchedule {
    const { ctx, o } = this;
    const M = this.targets.length;
    const initial = o.initRank * M;
    const smallest = Math.min(...this.targets.map((t) => t.size));
    if (ctx.budget.params < smallest) {
      const t = this.targets.find((x) => x.size === smallest)!;
      throw new ConfigError(
        `the budget of ${ctx.budget.params} trainable parameters is below one singular triplet of the smallest module (${t.id}: ${smallest} parameters)`,
        undefined,
        'budget',
        `raise the budget to at least ${smallest}`,
      );
    }
    const mean = this.targets.reduce((a, t) => a + t.size, 0) / M;
    const byBudget = Math.max(1, Math.floor(ctx.budget.params / mean));
    const wanted = o.targetRank === 'budget' ? byBudget : Math.min(o.targetRank * M, byBudget);
    const target = Math.min(initial, wanted);
    if (target >= initial) {
      this.warning = `the target of ${wanted} triplets is not below the initial ${initial}: no triplet is masked`;
      ctx.log.warn(this.warning);
    }
    const r = this.recipe;
    const total = Math.min(r.epochs * this.batchesPerEpoch, r.maxSteps ?? Infinity);
    const tinit = resolveSteps(o.tinit, total, 'strategy.options.tinit');
    const tfinal = resolveSteps(o.tfinal, total, 'strategy.options.tfinal');
    if (tinit + tfinal >= total) {
      throw new ConfigError(
        `tinit (${tinit}) + tfinal (${tfinal}) must be below the ${total} training steps, leaving steps for the budget schedule`,
        undefined,
        'strategy.options.tinit',
      );
    }
    return { initial, target, tinit, tfinal, total, deltaT: o.deltaT };
  }

  private program(): ProgramSpec {
    return {
      modules: this.targets.map((t) => ({
        type: ADALORA,
        point: t.point.name,
        rank: this.o.initRank,
        options: this.moduleOptions,
        rankMasked: true,
      })),
    };
  }

  private names(t: Target) {
    return { P: `${t.id}/P`, lambda: `${t.id}/lambda`, Q: `${t.id}/Q` };
  }

  private batch(): number[] {
    return this.batches.at(this.st.epoch, this.st.cursor);
  }

  ask(): readonly Job[] | null {
    const st = this.st;
    if (st.pending === 'done') return null;
    if (st.pending === 'train') {
      const job: GradientJob = {
        kind: 'gradient',
        program: this.program(),
        params: st.params,
        rankMasks: st.mask,
        split: TRAIN,
        indices: this.batch(),
        want: { params: true },
        ...(this.recipe.dropout > 0
          ? { dropoutSeed: deriveSeed(this.ctx.seed, `adalora-dropout-${st.step}`) }
          : {}),
      };
      return [job];
    }
    const test = st.pending === 'test';
    return [
      {
        kind: 'evaluate',
        program: this.program(),
        params: test ? st.best!.params : st.params,
        rankMasks: st.mask,
        split: test ? 'test' : 'validation',
        batchSize: Math.max(64, this.recipe.batchSize),
      },
    ];
  }

  tell(results: readonly JobResult[]): void {
    const r = results[0]!;
    const st = this.st;
    if (st.pending === 'train') this.tellTrain(r as GradientResult);
    else if (st.pending === 'eval') this.tellEval(r as EvaluateResult);
    else if (st.pending === 'test') {
      st.test = (r as EvaluateResult).metrics;
      st.pending = 'done';
    }
    st.optimizer = this.optimizer.state();
    st.importance = this.importance.s;
    const now = performance.now();
    st.seconds += (now - this.mark) / 1000;
    this.mark = now;
  }

  private tellTrain(r: GradientResult): void {
    const st = this.st;
    const grads: ParamSet = {};
    for (const [k, v] of Object.entries(r.grads)) grads[k] = Float32Array.from(v);
    st.orth = this.addOrthogonality(grads);
    if (this.recipe.clipNorm !== null) clipGradNorm(grads, this.recipe.clipNorm);
    this.optimizer.step(st.params, grads, lrAt(st.step, this.schedule.total, this.recipe));
    st.step++;
    const budget = this.allocate(grads);
    st.lossSum += r.loss;
    st.batches++;
    st.cursor++;
    const kept = this.kept();
    this.ctx.emit({
      type: 'step',
      step: st.step,
      epoch: st.epoch,
      done: st.step,
      total: this.schedule.total,
      loss: r.loss,
      orth: st.orth,
      budget,
      kept,
    });
    const epochDone = st.cursor >= this.batchesPerEpoch;
    const stop = st.step >= this.schedule.total;
    if (!epochDone && !stop) return;
    st.curve.push(st.lossSum / Math.max(1, st.batches));
    st.keptCurve.push({ step: st.step, budget, kept });
    st.lossSum = 0;
    st.batches = 0;
    st.cursor = 0;
    st.epoch++;
    st.last = stop || st.epoch >= this.recipe.epochs;
    // Only models with the final allocation are candidates: earlier ones hold more triplets than
    // the final architecture (and the budget) allows.
    st.pending = st.finalMasked && (st.last || st.epoch % this.recipe.evalEvery === 0) ? 'eval' : 'train';
  }

  private tellEval(r: EvaluateResult): void {
    const st = this.st;
    const metric = this.ctx.task.metrics[0]!;
    st.validation.push({ epoch: st.epoch, step: st.step, kept: this.kept(), metrics: r.metrics });
    const score = r.metrics[metric] ?? -Infinity;
    if (st.best === null || score > st.best.score) {
      const copy: ParamSet = {};
      for (const [k, v] of Object.entries(st.params)) copy[k] = v.slice();
      st.best = { params: copy, epoch: st.epoch, step: st.step, score };
    }
    this.ctx.emit({
      type: 'epoch',
      epoch: st.epoch,
      step: st.step,
      validation: r.metrics,
      kept: this.kept(),
    });
    st.pending = st.last ? 'test' : 'train';
  }

  /** γ·∇R added to the P and Q gradients; returns γ·R. */
  private addOrthogonality(grads: ParamSet): number {
    const gamma = this.o.orthReg;
    if (gamma === 0) return 0;
    const form = this.o.orthForm;
    const r = this.o.initRank;
    // PEFT averages over every P and Q matrix; the paper sums over modules.
    const w = form === 'peft' ? gamma / (2 * this.targets.length) : gamma;
    let total = 0;
    for (const t of this.targets) {
      const n = this.names(t);
      total += gramPenalty(this.st.params[n.P]!, columnsOf(t.point.inFeatures!, r), form, grads[n.P], w);
      total += gramPenalty(this.st.params[n.Q]!, rowsOf(r, t.point.outFeatures!), form, grads[n.Q], w);
    }
    return w * total;
  }

  /**
   * PEFT's update_and_allocate after optimiser step t: before T − t_final, update the importance and
   * mask to b(t) on the schedule; at T − t_final fix the final allocation; after it keep the mask.
   * Returns b(t).
   */
  private allocate(grads: ParamSet): number {
    const st = this.st;
    const boundary = this.schedule.total - this.schedule.tfinal;
    if (st.step < boundary) {
      const names = this.targets.flatMap((t) => Object.values(this.names(t)));
      this.importance.update(st.params, grads, names);
      const { budget, mask } = budgetAt(st.step, this.schedule);
      if (mask) this.maskTo(budget, false);
      return budget;
    }
    if (st.step === boundary) {
      this.maskTo(this.schedule.target, true);
      st.finalMasked = true;
      this.importance.reset();
      this.ctx.emit({
        type: 'allocation',
        step: st.step,
        kept: this.kept(),
        trainableParams: this.ctx.modules.countArchitecture(this.architecture()),
        budget: this.ctx.budget.params,
        ranks: Object.fromEntries(this.architecture().modules.map((m) => [m.point, m.rank])),
      });
    }
    return this.schedule.target;
  }

  /**
   * Keep the `count` triplets with the highest scores (ties: lower index first) and mask the rest;
   * the final allocation also keeps the exact parameter count within the budget (a triplet that
   * would overflow it is skipped for the next one that fits). Masked Λ entries are zeroed.
   */
  private maskTo(count: number, final: boolean): void {
    const r0 = this.o.initRank;
    const scores = new Float64Array(this.targets.length * r0);
    for (const t of this.targets) {
      scores.set(
        this.importance.tripletScores(this.names(t), t.point.inFeatures!, r0, t.point.outFeatures!),
        t.offset,
      );
    }
    const order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
    const mask = new Float32Array(scores.length);
    let kept = 0;
    let params = 0;
    for (const idx of order) {
      if (kept >= count) break;
      const size = this.targets[Math.floor(idx / r0)]!.size;
      if (final && params + size > this.ctx.budget.params) continue;
      mask[idx] = 1;
      kept++;
      params += size;
    }
    this.st.mask = mask;
    for (const t of this.targets) {
      const lambda = this.st.params[this.names(t).lambda]!;
      for (let i = 0; i < r0; i++) if (mask[t.offset + i] === 0) lambda[i] = 0;
    }
  }

  private kept(): number {
    return this.st.mask.reduce((a, b) => a + b, 0);
  }

  /** Each target at its number of kept triplets (targets with none are left out). */
  private architecture(): Architecture {
    const r0 = this.o.initRank;
    const modules: ModuleChoice[] = [];
    for (const t of this.targets) {
      const k = this.st.mask.subarray(t.offset, t.offset + r0).reduce((a, b) => a + b, 0);
      if (k > 0) modules.push({ type: ADALORA, point: t.point.name, rank: k, options: this.moduleOptions });
    }
    return { modules };
  }

  /** The kept triplets of `params` as the parameters of `architecture()` (plus the task head). */
  private compact(params: ParamSet): ParamSet {
    const r0 = this.o.initRank;
    const out: ParamSet = {};
    for (const [k, v] of Object.entries(params)) if (!k.startsWith(`${ADALORA}@`)) out[k] = v.slice();
    for (const t of this.targets) {
      const keep: number[] = [];
      for (let i = 0; i < r0; i++) if (this.st.mask[t.offset + i] === 1) keep.push(i);
      if (keep.length === 0) continue;
      const n = this.names(t);
      const inF = t.point.inFeatures!;
      const outF = t.point.outFeatures!;
      const P = params[n.P]!;
      const Q = params[n.Q]!;
      const L = params[n.lambda]!;
      const k = keep.length;
      const P2 = new Float32Array(inF * k);
      for (let a = 0; a < inF; a++) keep.forEach((i, j) => (P2[a * k + j] = P[a * r0 + i]!));
      const Q2 = new Float32Array(k * outF);
      keep.forEach((i, j) => Q2.set(Q.subarray(i * outF, (i + 1) * outF), j * outF));
      out[n.P] = P2;
      out[n.lambda] = Float32Array.from(keep, (i) => L[i]!);
      out[n.Q] = Q2;
    }
    return out;
  }

  state(): unknown {
    return this.st;
  }

  outcome(): SearchOutcome {
    const st = this.st;
    if (st.pending !== 'done' || !st.best || !st.test)
      throw new Error('adalora: outcome() before training finished');
    const architecture = this.architecture();
    const count = this.ctx.modules.countArchitecture(architecture);
    if (count > this.ctx.budget.params) {
      throw new Error(
        `adalora: the final allocation has ${count} parameters, over the budget of ${this.ctx.budget.params}`,
      );
    }
    const params = this.compact(st.best.params);
    const final: TrainResult = {
      kind: 'train',
      metrics: { validation: st.validation.find((v) => v.epoch === st.best!.epoch)!.metrics, test: st.test },
      bestEpoch: st.best.epoch,
      steps: st.step,
      seconds: st.seconds,
      trainableParams: count,
      headParams: (params['head/weight']?.length ?? 0) + (params['head/bias']?.length ?? 0),
      curve: st.curve,
      params,
    };
    return {
      architecture,
      final,
      summary: {
        initRank: this.o.initRank,
        targetRank: this.o.targetRank,
        initialTriplets: this.schedule.initial,
        targetTriplets: this.schedule.target,
        keptTriplets: this.kept(),
        ranks: Object.fromEntries(architecture.modules.map((m) => [m.point, m.rank])),
        trainableParams: count,
        budget: this.ctx.budget.params,
        totalSteps: this.schedule.total,
        tinit: this.schedule.tinit,
        tfinal: this.schedule.tfinal,
        deltaT: this.schedule.deltaT,
        orthReg: this.o.orthReg,
        orthForm: this.o.orthForm,
        recipe: this.o.recipe,
        validation: st.validation,
        keptCurve: st.keptCurve,
        warning: this.warning,
      },
    };
  }
}
