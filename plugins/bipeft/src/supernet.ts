/**
 * The searchable supernet of BIPEFT: per candidate module its binary logits β (off, on), its rank
 * logits α (ranked modules), whether it is kept (not pruned) and whether its rank is frozen; the
 * supernet weights (ranked modules at r_max, or at their frozen rank once folded); and the program
 * spec they run in. Sampling turns the logits into the gates and rank masks a program is fed, and
 * the backward turns the gates' and masks' gradients into logit gradients.
 */
import type {
  Architecture,
  Candidate,
  ModuleChoice,
  ModuleStatus,
  ModuleToolkit,
  ParamSet,
  ProgramSpec,
  Rng,
} from '@peftkit/api';
import { type CategoricalSample, argmax, categoricalBackward, sampleCategorical, softmax } from './relax.js';

export interface SupernetState {
  beta: Record<string, number[]>;
  alpha: Record<string, number[]>;
  kept: Record<string, boolean>;
  /** Index into the candidate's ranks, for rank-frozen modules. */
  frozen: Record<string, number>;
  /** Modules whose pruning/freezing is already folded into the program. */
  folded: Record<string, 'pruned' | 'frozen'>;
  /**
   * The rank a folded ranked module's parameters are sliced to (absent in older checkpoints: its
   * frozen rank, which could not change before the final round could lower it).
   */
  foldedRanks?: Record<string, number>;
  params: ParamSet;
}

/** What one sample fed the program, kept for the backward. */
export interface ArchSample {
  gates: Float32Array;
  masks: Float32Array;
  binary: Map<string, CategoricalSample>;
  ranks: Map<string, CategoricalSample>;
  /** Joint (entangled) samples over {off} ∪ ranks. */
  joint: Map<string, CategoricalSample>;
}

export type Entanglement = 'disentangled' | 'entangled';

export class Supernet {
  readonly byId: Map<string, Candidate>;

  constructor(
    readonly candidates: readonly Candidate[],
    readonly toolkit: ModuleToolkit,
    readonly entanglement: Entanglement,
    public s: SupernetState,
  ) {
    this.byId = new Map(candidates.map((c) => [c.id, c]));
  }

  static init(
    candidates: readonly Candidate[],
    toolkit: ModuleToolkit,
    entanglement: Entanglement,
    rng: Rng,
  ): Supernet {
    const s: SupernetState = { beta: {}, alpha: {}, kept: {}, frozen: {}, folded: {}, params: {} };
    // All logits 1e-3·N(0,1) (spec §1.3).
    for (const c of candidates) {
      s.kept[c.id] = true;
      s.beta[c.id] = [rng.normal() * 1e-3, rng.normal() * 1e-3];
      if (c.ranks) {
        const k = entanglement === 'entangled' ? c.ranks.length + 1 : c.ranks.length;
        s.alpha[c.id] = Array.from({ length: k }, () => rng.normal() * 1e-3);
      }
    }
    const net = new Supernet(candidates, toolkit, entanglement, s);
    net.s.params = toolkit.init(net.program(), rng.fork('weights'));
    return net;
  }

  maxRank(c: Candidate): number {
    return c.ranks![c.ranks!.length - 1]!;
  }

  alive(): Candidate[] {
    return this.candidates.filter((c) => this.s.kept[c.id]);
  }

  /** Candidates in the current program (kept ones, and pruned ones not yet folded away). */
  inProgram(): Candidate[] {
    return this.candidates.filter((c) => this.s.folded[c.id] !== 'pruned');
  }

  /** The program: every candidate not folded away, gated; unfolded ranked ones rank-masked at r_max. */
  program(): ProgramSpec {
    return {
      modules: this.inProgram().map((c) => {
        const frozenFolded = this.s.folded[c.id] === 'frozen';
        const rank = c.ranks ? (frozenFolded ? c.ranks[this.s.frozen[c.id]!]! : this.maxRank(c)) : null;
        return {
          type: c.type,
          point: c.point,
          rank,
          options: c.options as Record<string, unknown>,
          gated: true,
          rankMasked: !!c.ranks && !frozenFolded,
        };
      }),
    };
  }

  onProbability(c: Candidate): number {
    if (this.entanglement === 'entangled' && c.ranks) return 1 - softmax(this.s.alpha[c.id]!)[0]!;
    return softmax(this.s.beta[c.id]!)[1]!;
  }

  /** Rank-candidate weights (over c.ranks) of a ranked module. */
  rankWeights(c: Candidate): number[] {
    if (this.s.frozen[c.id] !== undefined) return c.ranks!.map((_, i) => (i === this.s.frozen[c.id] ? 1 : 0));
    const p = softmax(this.s.alpha[c.id]!);
    if (this.entanglement === 'entangled') {
      const rest = p.slice(1);
      const z = rest.reduce((a, b) => a + b, 0);
      return rest.map((x) => x / z);
    }
    return p;
  }

  /** The rank index a module would get now (frozen, or argmax of its logits). */
  rankIndex(c: Candidate): number {
    if (this.s.frozen[c.id] !== undefined) return this.s.frozen[c.id]!;
    const a = this.s.alpha[c.id]!;
    return this.entanglement === 'entangled' ? argmax(a.slice(1)) : argmax(a);
  }

  fullSize(c: Candidate): number {
    return this.toolkit.count(
      c.type,
      c.point,
      c.ranks ? this.maxRank(c) : null,
      c.options as Record<string, unknown>,
    );
  }

  /** Expected size at the current rank distribution (exact counts per rank, not a linear proxy). */
  rankedSize(c: Candidate): number {
    if (!c.ranks) return this.fullSize(c);
    const w = this.rankWeights(c);
    return c.ranks.reduce(
      (a, r, i) => a + w[i]! * this.toolkit.count(c.type, c.point, r, c.options as Record<string, unknown>),
      0,
    );
  }

  /** Exact size at the rank derive() would give the module now (frozen or argmax). */
  derivedSize(c: Candidate): number {
    const m = this.choiceOf(c);
    return this.toolkit.count(m.type, m.point, m.rank, m.options ?? {});
  }

  statuses(importance: ReadonlyMap<string, number>): ModuleStatus[] {
    return this.candidates.map((c) => ({
      id: c.id,
      fullSize: this.fullSize(c),
      rankedSize: this.rankedSize(c),
      derivedSize: this.derivedSize(c),
      rankSizes: c.ranks?.map((r) =>
        this.toolkit.count(c.type, c.point, r, c.options as Record<string, unknown>),
      ),
      onProbability: this.onProbability(c),
      importance: importance.get(c.id) ?? 0,
      pruned: !this.s.kept[c.id],
      rankFrozen: this.s.frozen[c.id] !== undefined,
      rankLogits:
        c.ranks && this.s.frozen[c.id] === undefined ? Float32Array.from(this.s.alpha[c.id]!) : undefined,
    }));
  }

  /** The mask over r_max components keeping the leading `r`. */
  private writeMask(
    masks: Float32Array,
    offset: number,
    rMax: number,
    weights: readonly number[],
    ranks: readonly number[],
  ): void {
    for (let i = 0; i < rMax; i++) {
      let m = 0;
      for (let k = 0; k < ranks.length; k++) if (i < ranks[k]!) m += weights[k]!;
      masks[offset + i] = m;
    }
  }

  /**
   * Gates and rank masks for one step.
   * - `binary` stage (weight steps and binary architecture steps): on/off sampled at τ, ranks at
   *   their argmax (or frozen rank).
   * - `dimension` stage: ranks sampled at τ (frozen: fixed); matrix modules on/off by a hard sample
   *   at τ = 1, or all kept modules on when `allKeptOn` (early selection, quirk Q5); vector modules
   *   sampled at τ.
   * - `derive`: the current discrete architecture (argmax on/off or the keep mask; argmax ranks).
   * Pruned modules still in the program get gate 0.
   */
  sample(
    stage: 'binary' | 'dimension' | 'derive',
    tau: number,
    rng: Rng,
    gumbel: boolean,
    allKeptOn: boolean,
    useKeepMask: boolean,
  ): ArchSample {
    const inProg = this.inProgram();
    const gates = new Float32Array(inProg.length);
    const maskLen = inProg
      .filter((c) => c.ranks && this.s.folded[c.id] !== 'frozen')
      .reduce((a, c) => a + this.maxRank(c), 0);
    const masks = new Float32Array(maskLen);
    const binary = new Map<string, CategoricalSample>();
    const ranks = new Map<string, CategoricalSample>();
    const joint = new Map<string, CategoricalSample>();
    let off = 0;
    inProg.forEach((c, gi) => {
      const masked = !!c.ranks && this.s.folded[c.id] !== 'frozen';
      const kept = this.s.kept[c.id]!;
      const frozen = this.s.frozen[c.id];
      if (this.entanglement === 'entangled' && c.ranks) {
        // One joint choice over {off} ∪ ranks; the gate stays 1 and a zero mask means "off".
        gates[gi] = kept ? 1 : 0;
        if (masked) {
          let w: number[];
          if (frozen !== undefined) w = c.ranks.map((_, i) => (i === frozen ? 1 : 0));
          else if (stage === 'derive') {
            // As derive(): with the keep mask a kept module is on at its best non-zero rank.
            const idx = useKeepMask ? this.rankIndex(c) + 1 : argmax(this.s.alpha[c.id]!);
            w = c.ranks.map((_, i) => (i + 1 === idx ? 1 : 0));
          } else {
            const smp = sampleCategorical(this.s.alpha[c.id]!, tau, rng, gumbel);
            if (kept) joint.set(c.id, smp);
            w = smp.value.slice(1);
          }
          this.writeMask(masks, off, this.maxRank(c), w, c.ranks);
          off += this.maxRank(c);
        }
        return;
      }
      // Binary decision.
      let on: number;
      if (!kept) on = 0;
      else if (stage === 'derive') on = useKeepMask ? 1 : argmax(this.s.beta[c.id]!) === 1 ? 1 : 0;
      else if (stage === 'dimension' && c.ranks) {
        if (allKeptOn) on = 1;
        else on = sampleCategorical(this.s.beta[c.id]!, 1, rng, true).index === 1 ? 1 : 0;
      } else {
        const smp = sampleCategorical(this.s.beta[c.id]!, tau, rng, gumbel);
        binary.set(c.id, smp);
        on = smp.value[1]!;
      }
      gates[gi] = on;
      if (masked) {
        let w: number[];
        if (frozen !== undefined) w = c.ranks!.map((_, i) => (i === frozen ? 1 : 0));
        else if (stage === 'dimension' && kept) {
          const smp = sampleCategorical(this.s.alpha[c.id]!, tau, rng, gumbel);
          ranks.set(c.id, smp);
          w = smp.value;
        } else {
          const idx = argmax(this.s.alpha[c.id]!);
          w = c.ranks!.map((_, i) => (i === idx ? 1 : 0));
        }
        this.writeMask(masks, off, this.maxRank(c), w, c.ranks!);
        off += this.maxRank(c);
      }
    });
    return { gates, masks, binary, ranks, joint };
  }

  /** Logit gradients from the program's gate and mask gradients for a sample. */
  backward(
    sample: ArchSample,
    dGates: Float32Array | undefined,
    dMasks: Float32Array | undefined,
  ): {
    beta: Map<string, number[]>;
    alpha: Map<string, number[]>;
  } {
    const beta = new Map<string, number[]>();
    const alpha = new Map<string, number[]>();
    const inProg = this.inProgram();
    let off = 0;
    const maskOffsets = new Map<string, number>();
    for (const c of inProg) {
      if (c.ranks && this.s.folded[c.id] !== 'frozen') {
        maskOffsets.set(c.id, off);
        off += this.maxRank(c);
      }
    }
    // dL/dw_k for rank weights: the mask is Σ_k w_k · prefix(R_k), so dL/dw_k = Σ_{i<R_k} dL/dm_i.
    const rankWeightGrad = (c: Candidate): number[] => {
      const o = maskOffsets.get(c.id)!;
      return c.ranks!.map((r) => {
        let s = 0;
        for (let i = 0; i < r; i++) s += dMasks![o + i]!;
        return s;
      });
    };
    inProg.forEach((c, gi) => {
      const b = sample.binary.get(c.id);
      if (b && dGates) beta.set(c.id, categoricalBackward(b, [0, dGates[gi]!]));
      const r = sample.ranks.get(c.id);
      if (r && dMasks) alpha.set(c.id, categoricalBackward(r, rankWeightGrad(c)));
      const j = sample.joint.get(c.id);
      if (j && dMasks) alpha.set(c.id, categoricalBackward(j, [0, ...rankWeightGrad(c)]));
    });
    return { beta, alpha };
  }

  /** The discrete architecture now: kept (or argmax-on) modules at their argmax/frozen rank. */
  derive(useKeepMask: boolean): Architecture {
    const modules = [];
    for (const c of this.candidates) {
      if (!this.s.kept[c.id]) continue;
      if (this.entanglement === 'entangled' && c.ranks) {
        const frozen = this.s.frozen[c.id];
        if (frozen === undefined && !useKeepMask && argmax(this.s.alpha[c.id]!) === 0) continue;
      } else if (!useKeepMask && argmax(this.s.beta[c.id]!) !== 1) continue;
      modules.push(this.choiceOf(c));
    }
    return { modules };
  }

  /** The module choice a candidate stands for now: its type and point at its current rank. */
  choiceOf(c: Candidate): ModuleChoice {
    return {
      type: c.type,
      point: c.point,
      rank: c.ranks ? c.ranks[this.rankIndex(c)]! : null,
      ...(Object.keys(c.options).length ? { options: { ...(c.options as Record<string, unknown>) } } : {}),
    };
  }
}
