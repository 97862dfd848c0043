/**
 * Small, correct implementations of a module type and a search strategy for the kit's own tests,
 * each with switchable flaws that break one clause of the contract (so that the tests can check
 * that the suites catch exactly that).
 */
import type {
  Architecture,
  Job,
  JobResult,
  ModuleTypes,
  PeftModuleType,
  RngState,
  SearchContext,
  SearchOutcome,
  SearchStrategy,
} from '@peftkit/api';
import { Rng, deriveSeed, searchBatches, siteValue } from '@peftkit/api';
import { type TensorData, type Value, ops } from '@peftkit/graph';
import { toModuleTypes } from '../src/index.js';

export type LoraFlaw =
  'none' | 'wrong-shape' | 'ignores-gate' | 'detached-gate' | 'bad-merge' | 'bad-init' | 'rank-scaled';

/** y + g·((x·A) ⊙ m)·B at linear points; A [in, r], B [r, out]; merge: W + A·B. */
export function toyLora(flaw: LoraFlaw = 'none'): PeftModuleType {
  return {
    name: 'toy-lora',
    description: 'Toy LoRA for the kit tests',
    attachesTo: ['linear'],
    ranked: true,
    order: 10,
    accepts: (p) => p.inFeatures !== undefined && p.outFeatures !== undefined,
    params: (p, r) => [
      { name: 'A', shape: [p.inFeatures!, r!], rankAxis: 1 },
      { name: 'B', shape: [r!, p.outFeatures!], rankAxis: 0 },
    ],
    init(p, r, _o, rng) {
      const A = Float32Array.from({ length: p.inFeatures! * r! }, () => rng.normal() * 0.1);
      const B = new Float32Array(r! * p.outFeatures! - (flaw === 'bad-init' ? 1 : 0));
      return { A, B };
    },
    apply(ctx, site) {
      if (site.kind !== 'linear') return siteValue(site);
      if (flaw === 'wrong-shape') return site.x;
      let h: Value = ops.matmul(site.x, ctx.param('A'));
      if (ctx.rankMask) h = ops.mul(h, ctx.rankMask);
      let delta = ops.matmul(h, ctx.param('B'));
      // Scaled by 1/r of the built rank, without saying so (exactRankSlice): a mask of r at r_max is not rank r.
      if (flaw === 'rank-scaled') delta = ops.mul(delta, 1 / ctx.rank!);
      const gate = flaw === 'detached-gate' ? ctx.gateDetached : ctx.gate;
      if (gate && flaw !== 'ignores-gate') delta = ops.mul(delta, gate);
      return ops.add(site.y, delta);
    },
    merge(p, r, _o, params, role, frozen): TensorData | null {
      if (role !== 'weight') return null;
      const [I, O] = [p.inFeatures!, p.outFeatures!];
      const out = Float32Array.from(frozen.data as Float32Array);
      const sign = flaw === 'bad-merge' ? -1 : 1;
      for (let i = 0; i < I; i++)
        for (let o = 0; o < O; o++) {
          let s = 0;
          for (let k = 0; k < r!; k++) s += params.A![i * r! + k]! * params.B![k * O + o]!;
          out[i * O + o]! += sign * s;
        }
      return { dtype: 'float32', shape: [...frozen.shape], data: out };
    },
  };
}

/** A trainable bias added after linear layers (unranked). */
export const toyBias: PeftModuleType = {
  name: 'toy-bias',
  description: 'Toy bias for the kit tests',
  attachesTo: ['linear'],
  ranked: false,
  order: 20,
  accepts: (p) => p.outFeatures !== undefined,
  params: (p) => [{ name: 'b', shape: [p.outFeatures!] }],
  init: (p) => ({ b: new Float32Array(p.outFeatures!) }),
  apply(ctx, site) {
    if (site.kind !== 'linear') return siteValue(site);
    return ops.add(site.y, ctx.gate ? ops.mul(ctx.param('b'), ctx.gate) : ctx.param('b'));
  },
};

export const toyTypes: ModuleTypes = toModuleTypes([toyLora(), toyBias]);

export type StrategyFlaw =
  | 'none'
  | 'math-random'
  | 'ignores-resume'
  | 'test-split'
  | 'over-budget'
  | 'rng-in-state'
  | 'ungrouped-batches';

interface ToyState {
  /** Gradient batches of the training split asked so far. */
  walked: number;
  archs: Architecture[];
  scores: number[];
  rng: RngState | Rng;
}

/**
 * Walks the training split once in gradient batches (loss only, as a search's weight steps would
 * batch it), then samples three architectures within the budget (each candidate on with
 * probability 1/2, at a random rank), evaluates each freshly initialised on the validation split,
 * one per ask, and keeps the best.
 */
export class ToyBestOf implements SearchStrategy {
  private ctx!: SearchContext;
  private st!: ToyState;
  private rng!: Rng;

  constructor(private readonly flaw: StrategyFlaw = 'none') {}

  start(ctx: SearchContext, resumed?: unknown): void {
    this.ctx = ctx;
    if (resumed && this.flaw !== 'ignores-resume') {
      this.st = resumed as ToyState;
      this.rng = Rng.fromState(this.st.rng as RngState);
      return;
    }
    this.rng = new Rng(deriveSeed(ctx.seed, 'toy'));
    const draw = () => (this.flaw === 'math-random' ? Math.random() : this.rng.next());
    const archs: Architecture[] = [];
    for (let n = 0; n < 3; n++) {
      const modules = [];
      let used = 0;
      for (const c of ctx.space.candidates) {
        const rank = c.ranks ? c.ranks[Math.floor(draw() * c.ranks.length)]! : null;
        const size = ctx.modules.count(c.type, c.point, rank, { ...c.options });
        if (draw() < 0.5 && (this.flaw === 'over-budget' || used + size <= ctx.budget.params)) {
          modules.push({ type: c.type, point: c.point, rank, options: { ...c.options } });
          used += size;
        }
      }
      archs.push({ modules });
    }
    this.st = {
      walked: 0,
      archs,
      scores: [],
      rng: this.flaw === 'rng-in-state' ? this.rng : this.rng.state(),
    };
  }

  /** The training split's first-epoch batches: the search kit's, or plain slices of a permutation. */
  private batches(): number[][] {
    const recipe = this.ctx.recipes.search;
    if (this.flaw !== 'ungrouped-batches')
      return [...searchBatches(this.ctx, 'train', recipe, 'toy-w').epoch(0)];
    const perm = new Rng(deriveSeed(this.ctx.seed, 'toy-w-0')).permutation(this.ctx.splitSizes.train);
    const out: number[][] = [];
    for (let i = 0; i < perm.length; i += recipe.batchSize) out.push(perm.slice(i, i + recipe.batchSize));
    return out;
  }

  ask(): readonly Job[] | null {
    const walk = this.batches();
    if (this.st.walked < walk.length) {
      const program = { modules: [] };
      const params = this.ctx.modules.init(program, new Rng(deriveSeed(this.ctx.seed, 'toy-head')));
      return [
        { kind: 'gradient', program, params, split: 'train', indices: walk[this.st.walked]!, want: {} },
      ];
    }
    const i = this.st.scores.length;
    if (i >= this.st.archs.length) return null;
    const program = { modules: this.st.archs[i]!.modules };
    return [
      {
        kind: 'evaluate',
        program,
        params: this.ctx.modules.init(program, new Rng(this.rng.nextUint32())),
        split: this.flaw === 'test-split' ? 'test' : 'validation',
        batchSize: 16,
      },
    ];
  }

  tell(results: readonly JobResult[]): void {
    const r = results[0]!;
    if (r.kind === 'gradient') {
      this.st.walked++;
      return;
    }
    if (r.kind !== 'evaluate') throw new Error('expected an evaluate or gradient result');
    this.st.scores.push(r.metrics.accuracy ?? 0);
    if (this.flaw !== 'rng-in-state') this.st.rng = this.rng.state();
  }

  state(): unknown {
    return this.st;
  }

  outcome(): SearchOutcome {
    const best = this.st.scores.indexOf(Math.max(...this.st.scores));
    const architecture =
      this.flaw === 'over-budget'
        ? {
            modules: this.ctx.space.candidates.map((c) => ({
              type: c.type,
              point: c.point,
              rank: c.ranks ? c.ranks[c.ranks.length - 1]! : null,
              options: {},
            })),
          }
        : this.st.archs[best]!;
    return { architecture, summary: { scores: this.st.scores } };
  }
}
