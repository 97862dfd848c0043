/**
 * Optimisers for the trainable state of peftkit (PEFT parameters and the task head), which lives in
 * TypeScript as Float32Arrays: the ONNX graph returns gradients and the update runs here.
 *
 * The formulas are PyTorch's (torch.optim.AdamW, Adam and SGD, single-tensor path), so that a recipe
 * means the same thing as in the reference implementations. Per element, the arithmetic runs in
 * float64 and the results (parameters, moment buffers) are stored in float32; PyTorch computes in
 * float32, so the two agree to a few float32 ulps, not bit for bit (see
 * tools/check-optim-against-torch.py).
 *
 * State is kept per parameter name, as PyTorch keeps it per tensor: each parameter has its own step
 * count (the bias corrections of a module added late start from 1), and dropping a pruned module
 * drops its buffers. `state()` and `restore()` exchange plain objects (numbers and Float32Arrays)
 * holding everything the next step reads, so a resumed run continues bit-identically.
 */
import { ConfigError, type ParamSet, type TrainRecipe } from '@peftkit/api';

export type OptimizerKind = 'adamw' | 'adam' | 'sgd';

/**
 * Per-parameter settings selected by name. For each setting, the first group that matches the name
 * AND sets that setting decides it, so a learning-rate group (the task head) and a weight-decay group
 * (biases, LayerNorm deltas) compose. Unmatched parameters use lrScale 1 and the optimiser's decay.
 */
export interface ParamGroup {
  /** A RegExp tested against the full name (`head/bias`, `lnfit@layer.3.ln1/gamma`), or a predicate. */
  match: RegExp | ((name: string) => boolean);
  /** Multiplier on the learning rate passed to `step`. */
  lrScale?: number;
  /** Weight decay of these parameters; 0 excludes them from decay. */
  weightDecay?: number;
}

export interface StepOptions {
  /**
   * Throw when a parameter has no gradient. By default such a parameter is skipped entirely (no
   * decay, no moment update, no step count), as PyTorch skips parameters whose `.grad` is None.
   */
  requireAllGrads?: boolean;
}

/** Everything the optimiser remembers about one parameter. */
export interface ParamState {
  /** Number of updates this parameter has received. */
  step: number;
  /** Adam family: `m`, `v` (and `vMax` with amsgrad). SGD with momentum: `momentum`. */
  buffers: Record<string, Float32Array>;
}

export interface OptimizerState {
  kind: OptimizerKind;
  /** Number of `step` calls. */
  steps: number;
  params: Record<string, ParamState>;
}

export interface Optimizer {
  readonly kind: OptimizerKind;
  /** Update `params` in place from `grads` at learning rate `lr` (before group multipliers). */
  step(params: ParamSet, grads: ParamSet, lr: number, options?: StepOptions): void;
  /** A deep copy of the state (safe to keep while training continues). */
  state(): OptimizerState;
  /** Replace the state with a deep copy of `state` (from `state()` of the same kind of optimiser). */
  restore(state: OptimizerState): void;
  /** Forget the state of these parameters (a pruned module); a later step starts them afresh. */
  drop(names: Iterable<string>): void;
  /** Names of the parameters that have state. */
  tracked(): string[];
}

export interface AdamOptions {
  /** Default (0.9, 0.999), as PyTorch. */
  betas?: readonly [number, number];
  /** Added to sqrt(v̂) (not inside the root). Default 1e-8. */
  eps?: number;
  /** AdamW: decoupled decay (default 1e-2, as PyTorch). Adam: L2 penalty in the gradient (default 0). */
  weightDecay?: number;
  amsgrad?: boolean;
  groups?: readonly ParamGroup[];
}

export interface SgdOptions {
  /** Default 0 (plain SGD). Dampening is always 0. */
  momentum?: number;
  nesterov?: boolean;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay?: number;
  groups?: readonly ParamGroup[];
}

interface Resolved {
  lrScale: number;
  weightDecay: number;
}

/** Checks a hyperparameter; `where` names the field for the message (e.g. `recipe.betas[0]`). */
function check(ok: boolean, where: string, value: unknown, expected: string): void {
  if (!ok) throw new ConfigError(`got ${JSON.stringify(value)}, expected ${expected}`, undefined, where);
}

function nonNegative(x: number, where: string): void {
  check(Number.isFinite(x) && x >= 0, where, x, 'a finite number >= 0');
}

function validateGroups(groups: readonly ParamGroup[]): void {
  groups.forEach((g, i) => {
    if (g.lrScale !== undefined) nonNegative(g.lrScale, `groups[${i}].lrScale`);
    if (g.weightDecay !== undefined) nonNegative(g.weightDecay, `groups[${i}].weightDecay`);
  });
}

abstract class BaseOptimizer implements Optimizer {
  abstract readonly kind: OptimizerKind;
  protected steps = 0;
  protected perParam = new Map<string, ParamState>();
  private resolved = new Map<string, Resolved>();

  constructor(
    private readonly weightDecay: number,
    private readonly groups: readonly ParamGroup[],
  ) {
    nonNegative(weightDecay, 'weightDecay');
    validateGroups(groups);
  }

  /** Buffer names a parameter's state must have once it has been stepped. */
  protected abstract bufferNames(): string[];

  /** The update of one parameter; `state.step` has already been incremented. */
  protected abstract update(
    p: Float32Array,
    g: Float32Array,
    state: ParamState,
    lr: number,
    wd: number,
  ): void;

  step(params: ParamSet, grads: ParamSet, lr: number, options: StepOptions = {}): void {
    if (!Number.isFinite(lr) || lr < 0) {
      throw new RangeError(`optimizer step: lr must be finite and >= 0, got ${lr}`);
    }
    // Check everything before updating anything, so that a bad call leaves no half-applied step.
    for (const name of Object.keys(grads)) {
      if (!Object.hasOwn(params, name))
        throw new Error(`optimizer step: gradient "${name}" has no parameter`);
    }
    const work: [string, Float32Array, Float32Array][] = [];
    for (const [name, p] of Object.entries(params)) {
      const g = Object.hasOwn(grads, name) ? grads[name] : undefined;
      if (g === undefined) {
        if (options.requireAllGrads) throw new Error(`optimizer step: parameter "${name}" has no gradient`);
        continue;
      }
      if (g.length !== p.length) {
        throw new Error(
          `optimizer step: gradient "${name}" has ${g.length} elements, parameter has ${p.length}`,
        );
      }
      const existing = Object.values(this.perParam.get(name)?.buffers ?? {})[0];
      if (existing !== undefined && existing.length !== p.length) {
        throw new Error(
          `optimizer step: parameter "${name}" has ${p.length} elements but its optimizer state has ` +
            `${existing.length} (a resized module: drop its state first)`,
        );
      }
      work.push([name, p, g]);
    }
    for (const [name, p, g] of work) {
      let st = this.perParam.get(name);
      if (st === undefined) {
        st = { step: 0, buffers: {} };
        this.perParam.set(name, st);
      }
      const { lrScale, weightDecay } = this.resolve(name);
      st.step += 1;
      this.update(p, g, st, lr * lrScale, weightDecay);
    }
    this.steps += 1;
  }

  private resolve(name: string): Resolved {
    let r = this.resolved.get(name);
    if (r === undefined) {
      let lrScale: number | undefined;
      let weightDecay: number | undefined;
      for (const grp of this.groups) {
        // String#search ignores a RegExp's `g` flag and lastIndex, which RegExp#test would not.
        const hit = typeof grp.match === 'function' ? grp.match(name) : name.search(grp.match) !== -1;
        if (!hit) continue;
        lrScale ??= grp.lrScale;
        weightDecay ??= grp.weightDecay;
      }
      r = { lrScale: lrScale ?? 1, weightDecay: weightDecay ?? this.weightDecay };
      this.resolved.set(name, r);
    }
    return r;
  }

  state(): OptimizerState {
    const params: Record<string, ParamState> = {};
    for (const [name, st] of this.perParam) params[name] = copyParamState(st);
    return { kind: this.kind, steps: this.steps, params };
  }

  restore(state: OptimizerState): void {
    if (state.kind !== this.kind) {
      throw new Error(`optimizer restore: state is for "${state.kind}", this optimizer is "${this.kind}"`);
    }
    if (!Number.isInteger(state.steps) || state.steps < 0) {
      throw new Error(`optimizer restore: steps must be an integer >= 0, got ${state.steps}`);
    }
    const next = new Map<string, ParamState>();
    const expected = this.bufferNames();
    for (const [name, st] of Object.entries(state.params)) {
      if (!Number.isInteger(st.step) || st.step < 1) {
        throw new Error(`optimizer restore: params["${name}"].step must be an integer >= 1, got ${st.step}`);
      }
      const names = Object.keys(st.buffers).sort();
      if (names.join() !== [...expected].sort().join()) {
        throw new Error(
          `optimizer restore: params["${name}"] has buffers [${names.join(', ')}], expected [${expected.join(', ')}]`,
        );
      }
      const lengths = new Set(Object.values(st.buffers).map((b) => b.length));
      if (lengths.size > 1)
        throw new Error(`optimizer restore: params["${name}"] has buffers of different lengths`);
      for (const [b, arr] of Object.entries(st.buffers)) {
        if (!(arr instanceof Float32Array)) {
          throw new Error(`optimizer restore: params["${name}"].buffers.${b} must be a Float32Array`);
        }
      }
      next.set(name, copyParamState(st));
    }
    this.perParam = next;
    this.steps = state.steps;
  }

  drop(names: Iterable<string>): void {
    for (const name of names) this.perParam.delete(name);
  }

  tracked(): string[] {
    return [...this.perParam.keys()];
  }
}

function copyParamState(st: ParamState): ParamState {
  const buffers: Record<string, Float32Array> = {};
  for (const [b, arr] of Object.entries(st.buffers)) buffers[b] = Float32Array.from(arr);
  return { step: st.step, buffers };
}

/**
 * Adam (`decoupled` false, torch.optim.Adam) and AdamW (`decoupled` true, torch.optim.AdamW). Per
 * element, with t the parameter's step count:
 *   AdamW: p ← p·(1 − lr·wd)            Adam: g ← g + wd·p
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   (amsgrad: vMax ← max(vMax, v), used instead of v below)
 *   p ← p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
 */
export class AdamFamily extends BaseOptimizer {
  readonly kind: OptimizerKind;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly amsgrad: boolean;

  constructor(
    private readonly decoupled: boolean,
    options: AdamOptions = {},
  ) {
    super(options.weightDecay ?? (decoupled ? 1e-2 : 0), options.groups ?? []);
    this.kind = decoupled ? 'adamw' : 'adam';
    const [beta1, beta2] = options.betas ?? [0.9, 0.999];
    check(Number.isFinite(beta1) && beta1 >= 0 && beta1 < 1, 'betas[0]', beta1, 'a number in [0, 1)');
    check(Number.isFinite(beta2) && beta2 >= 0 && beta2 < 1, 'betas[1]', beta2, 'a number in [0, 1)');
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = options.eps ?? 1e-8;
    nonNegative(this.eps, 'eps');
    this.amsgrad = options.amsgrad ?? false;
  }

  protected bufferNames(): string[] {
    return this.amsgrad ? ['m', 'v', 'vMax'] : ['m', 'v'];
  }

  protected update(p: Float32Array, g: Float32Array, st: ParamState, lr: number, wd: number): void {
    const n = p.length;
    const m = (st.buffers.m ??= new Float32Array(n));
    const v = (st.buffers.v ??= new Float32Array(n));
    const vMax = this.amsgrad ? (st.buffers.vMax ??= new Float32Array(n)) : null;
    const { beta1, beta2, eps } = this;
    const stepSize = lr / (1 - beta1 ** st.step);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** st.step);
    const decay = this.decoupled ? 1 - lr * wd : 1;
    const l2 = this.decoupled ? 0 : wd;
    for (let i = 0; i < n; i++) {
      const pi = p[i]! * decay;
      const gi = g[i]! + l2 * p[i]!;
      m[i] = beta1 * m[i]! + (1 - beta1) * gi;
      v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
      let second = v[i]!;
      if (vMax !== null) {
        if (second > vMax[i]!) vMax[i] = second;
        second = vMax[i]!;
      }
      // The update reads the stored (float32) buffers, as PyTorch's does.
      p[i] = pi - (stepSize * m[i]!) / (Math.sqrt(second) / bc2Sqrt + eps);
    }
  }
}

/**
 * SGD as torch.optim.SGD with dampening 0. Per element:
 *   d ← g + wd·p
 *   momentum > 0: buf ← d on the parameter's first step, else buf ← μ·buf + d;
 *                 d ← d + μ·buf (Nesterov) or d ← buf
 *   p ← p − lr·d
 */
export class Sgd extends BaseOptimizer {
  readonly kind = 'sgd' as const;
  private readonly momentum: number;
  private readonly nesterov: boolean;

  constructor(options: SgdOptions = {}) {
    super(options.weightDecay ?? 0, options.groups ?? []);
    this.momentum = options.momentum ?? 0;
    nonNegative(this.momentum, 'momentum');
    this.nesterov = options.nesterov ?? false;
    check(!this.nesterov || this.momentum > 0, 'nesterov', this.nesterov, 'false when momentum is 0');
  }

  protected bufferNames(): string[] {
    return this.momentum > 0 ? ['momentum'] : [];
  }

  protected update(p: Float32Array, g: Float32Array, st: ParamState, lr: number, wd: number): void {
    const mu = this.momentum;
    const first = st.buffers.momentum === undefined;
    const buf = mu > 0 ? (st.buffers.momentum ??= new Float32Array(p.length)) : null;
    for (let i = 0; i < p.length; i++) {
      let d = g[i]! + wd * p[i]!;
      if (buf !== null) {
        buf[i] = first ? d : mu * buf[i]! + d;
        d = this.nesterov ? d + mu * buf[i]! : buf[i]!;
      }
      p[i] = p[i]! - lr * d;
    }
  }
}

export interface OptimizerExtras {
  /** Extra parameter groups (weight-decay masks, learning-rate multipliers). */
  groups?: readonly ParamGroup[];
  /** SGD only. */
  nesterov?: boolean;
  /** Adam and AdamW only. */
  amsgrad?: boolean;
  /** Names of task-head parameters, which `recipe.headLr` applies to. Default: the `head/` prefix. */
  head?: RegExp | ((name: string) => boolean);
}

const OPTIMIZERS: readonly OptimizerKind[] = ['adamw', 'adam', 'sgd'];

/**
 * The optimiser a recipe asks for. `step` then takes the scheduled learning rate for `recipe.lr`
 * (`lrAt`); when `recipe.headLr` is set, the head's parameters get lrScale headLr / lr, so the
 * schedule applies to both.
 */
export function createOptimizer(recipe: TrainRecipe, extras: OptimizerExtras = {}): Optimizer {
  const where = (field: string) => `recipe.${field}`;
  check(OPTIMIZERS.includes(recipe.optimizer), where('optimizer'), recipe.optimizer, OPTIMIZERS.join(' | '));
  nonNegative(recipe.lr, where('lr'));
  nonNegative(recipe.weightDecay, where('weightDecay'));
  const groups: ParamGroup[] = [];
  if (recipe.headLr !== undefined && recipe.headLr !== recipe.lr) {
    nonNegative(recipe.headLr, where('headLr'));
    check(
      recipe.lr > 0,
      where('lr'),
      recipe.lr,
      '> 0 when headLr differs from it (headLr is applied as headLr/lr)',
    );
    groups.push({ match: extras.head ?? /^head\//, lrScale: recipe.headLr / recipe.lr });
  }
  groups.push(...(extras.groups ?? []));
  if (recipe.optimizer === 'sgd') {
    nonNegative(recipe.momentum, where('momentum'));
    const nesterov = extras.nesterov ?? false;
    check(!nesterov || recipe.momentum > 0, where('momentum'), recipe.momentum, '> 0 with Nesterov momentum');
    return new Sgd({ momentum: recipe.momentum, nesterov, weightDecay: recipe.weightDecay, groups });
  }
  check(
    Array.isArray(recipe.betas) && recipe.betas.length === 2,
    where('betas'),
    recipe.betas,
    '[beta1, beta2]',
  );
  recipe.betas.forEach((b, i) =>
    check(Number.isFinite(b) && b >= 0 && b < 1, where(`betas[${i}]`), b, 'a number in [0, 1)'),
  );
  nonNegative(recipe.eps, where('eps'));
  return new AdamFamily(recipe.optimizer === 'adamw', {
    betas: recipe.betas,
    eps: recipe.eps,
    weightDecay: recipe.weightDecay,
    amsgrad: extras.amsgrad ?? false,
    groups,
  });
}
