/**
 * BIPEFT's budget scheduler against the method spec (§2.6–2.9, pseudo-code §2.11), driven directly
 * with hand-made module statuses: when the trigger fires, how much a round prunes, and how ranks
 * freeze progressively. Expected values are computed by hand in the comments.
 */
import { expect } from 'chai';
import type { ModuleStatus, ScheduleDecision } from '@peftkit/api';
import { BipeftBudgetScheduler, stabilityIndicator } from '../src/index.js';

interface Mod {
  id: string;
  size: number;
  importance: number;
  /** Rank logits (ranked modules) — the test moves them between steps. */
  alpha?: number[];
  pruned?: boolean;
  frozen?: boolean;
  /** Exact sizes at the candidate ranks (ranked modules). */
  rankSizes?: number[];
}

function statuses(mods: readonly Mod[]): ModuleStatus[] {
  return mods.map((m) => ({
    id: m.id,
    fullSize: m.size,
    rankedSize: m.size,
    onProbability: 1,
    importance: m.importance,
    pruned: !!m.pruned,
    rankFrozen: !!m.frozen,
    rankLogits: m.alpha && !m.frozen ? Float32Array.from(m.alpha) : undefined,
    rankSizes: m.rankSizes,
  }));
}

/** Apply a decision the way the strategy does: pruned modules leave, frozen ones stop reporting α. */
function apply(mods: Mod[], d: ScheduleDecision): void {
  for (const id of d.prune) mods.find((m) => m.id === id)!.pruned = true;
  for (const id of d.freeze) mods.find((m) => m.id === id)!.frozen = true;
}

describe('BIPEFT budget scheduler', () => {
  it('fires only once window + 1 earlier selections exist and they agree', () => {
    const s = new BipeftBudgetScheduler({ rounds: 5, window: 3, threshold: 0.85, freezeRanks: false });
    const mods: Mod[] = [
      { id: 'a', size: 10, importance: 3 },
      { id: 'b', size: 10, importance: 2 },
      { id: 'c', size: 10, importance: 1 },
    ];
    // Budget 20: the knapsack keeps a and b every step (z = [1, 1, 0]), so cos = 1 with each earlier z.
    const fired: boolean[] = [];
    for (let step = 0; step < 6; step++) {
      const d = s.decide({ step, epoch: 0, budget: 20, modules: statuses(mods) });
      fired.push(d.event?.round !== undefined);
    }
    // Selections 1..4 are recorded without firing; the 5th step is the first with 4 > window earlier ones.
    expect(fired).to.deep.equal([false, false, false, false, true, true]);
  });

  it('does not fire while the selection keeps changing', () => {
    const s = new BipeftBudgetScheduler({ rounds: 5, window: 2, threshold: 0.85, freezeRanks: false });
    const mods: Mod[] = [
      { id: 'a', size: 10, importance: 1 },
      { id: 'b', size: 10, importance: 1 },
    ];
    // Budget 10 keeps one module; alternate which is more important: z alternates [1,0], [0,1].
    // Mean cosine with the last 2 = (0 + 1) / 2 = 0.5 < 0.85.
    for (let step = 0; step < 8; step++) {
      mods[0]!.importance = step % 2 === 0 ? 2 : 1;
      mods[1]!.importance = step % 2 === 0 ? 1 : 2;
      const d = s.decide({ step, epoch: 0, budget: 10, modules: statuses(mods) });
      expect(d.event?.round, `step ${step}`).to.equal(undefined);
      if (step >= 3) expect(d.event?.similarity).to.be.closeTo(0.5, 1e-12);
    }
  });

  it('prunes Δ = (E[P] − B) / T_rem per round, least important first, and reaches the budget after T rounds', () => {
    const s = new BipeftBudgetScheduler({
      rounds: 3,
      window: 1,
      threshold: 0,
      lastRounds: 0,
      freezeRanks: false,
    });
    const mods: Mod[] = [6, 5, 4, 3, 2, 1].map((imp, i) => ({ id: `m${i}`, size: 10, importance: imp }));
    const decisions: ScheduleDecision[] = [];
    for (let step = 0; decisions.length < 3; step++) {
      const d = s.decide({ step, epoch: 0, budget: 25, modules: statuses(mods) });
      if (d.event?.round !== undefined) {
        decisions.push(d);
        apply(mods, d);
      }
    }
    // Round 1: E[P] = 60, Δ = (60 − 25)/3 = 11.67 → the 10 of m5 fits, m4 would reach 20: prune [m5].
    // Round 2: E[P] = 50, Δ = 25/2 = 12.5 → [m4]. Round 3 is the final one: it keeps the most
    // important modules that fit B = 25 (m0, m1: 20; m2 would make 30) and prunes the rest.
    expect(decisions.map((d) => d.prune)).to.deep.equal([['m5'], ['m4'], ['m3', 'm2']]);
    expect(decisions.map((d) => d.event!.delta)).to.deep.equal([35 / 3, 12.5, 15]);
    expect(decisions.map((d) => d.finished)).to.deep.equal([false, false, true]);
    // The schedule lands within the budget itself: 20 ≤ 25, and the 5 left is less than any pruned module.
    expect(s.expectedParams(statuses(mods))).to.equal(20);
  });

  it('the final round skips a module that does not fit and continues down the ranking', () => {
    const s = new BipeftBudgetScheduler({ rounds: 1, window: 1, threshold: 0, freezeRanks: false });
    const mods: Mod[] = [
      { id: 'a', size: 10, importance: 5 },
      { id: 'big', size: 30, importance: 4 },
      { id: 'b', size: 8, importance: 3 },
      { id: 'c', size: 9, importance: 2 },
      { id: 'd', size: 5, importance: 1 },
    ];
    let d: ScheduleDecision | undefined;
    for (let step = 0; !d; step++) {
      const r = s.decide({ step, epoch: 0, budget: 25, modules: statuses(mods) });
      if (r.event?.round !== undefined) d = r;
    }
    // Keep a (10); big would make 40: skip; b (18); c would make 27: skip; d (23). Prune least important first.
    expect(d.prune).to.deep.equal(['c', 'big']);
    expect(d.lower).to.equal(undefined);
    expect(d.finished).to.equal(true);
  });

  it('the final round lowers a survivor that does not fit to the largest smaller rank that does', () => {
    const s = new BipeftBudgetScheduler({ rounds: 1, window: 1, threshold: 0, freezeRanks: false });
    // The situation traced in docs/results.md: a survivor frozen at a rank larger than the budget.
    const mods: Mod[] = [
      { id: 'big', size: 16, importance: 5, frozen: true, rankSizes: [2, 8, 16] },
      { id: 'a', size: 3, importance: 4 },
      { id: 'wide', size: 12, importance: 3, frozen: true, rankSizes: [6, 12] },
      { id: 'b', size: 2, importance: 2 },
    ];
    let d: ScheduleDecision | undefined;
    for (let step = 0; !d; step++) {
      const r = s.decide({ step, epoch: 0, budget: 14, modules: statuses(mods) });
      if (r.event?.round !== undefined) d = r;
    }
    // big: 16 > 14, so its largest rank that fits, index 1 (8): left 6; a (3): left 3; wide: 12 > 3
    // and its smallest rank (6) > 3: pruned; b (2): left 1. Derived 8 + 3 + 2 = 13 ≤ 14. Without the
    // lowering, big would be pruned and a + wide + b = 17 > 14, so wide too: 5 of 14 used.
    expect(d.lower).to.deep.equal([{ id: 'big', rankIndex: 1 }]);
    expect(d.prune).to.deep.equal(['wide']);
  });

  it('counts the last rounds at the derived sizes (the rank derivation will give), not the expected ones', () => {
    const s = new BipeftBudgetScheduler({
      rounds: 4,
      lastRounds: 2,
      window: 1,
      threshold: 0,
      freezeRanks: false,
    });
    // Expected (soft-rank) size 20, derived (argmax-rank) size 8, on-probability 0.5.
    const modules = (pruned: boolean): ModuleStatus[] => [
      {
        id: 'm',
        fullSize: 32,
        rankedSize: 20,
        derivedSize: 8,
        onProbability: 0.5,
        importance: 1,
        pruned,
        rankFrozen: false,
      },
    ];
    expect(s.expectedParams(modules(false))).to.equal(10);
    s.restore({ ...(s.state() as object), remaining: 2 });
    expect(s.expectedParams(modules(false))).to.equal(8);
    expect(s.expectedParams(modules(true))).to.equal(0);
  });

  it('a non-final round never prunes the survivors below the budget at their derived sizes', () => {
    const s = new BipeftBudgetScheduler({
      rounds: 4,
      window: 1,
      threshold: 0,
      lastRounds: 0,
      freezeRanks: false,
    });
    const mods: Mod[] = [
      { id: 'big', size: 100, importance: 1 },
      { id: 'small', size: 5, importance: 2 },
    ];
    const rounds: ScheduleDecision[] = [];
    for (let step = 0; rounds.length < 4; step++) {
      const d = s.decide({ step, epoch: 0, budget: 50, modules: statuses(mods) });
      if (d.event?.round !== undefined) {
        rounds.push(d);
        apply(mods, d);
      }
    }
    // Δ = 13.75 in round 1, and pruning `big` would leave 5 < 50: rounds 1–3 prune nothing. The
    // final round keeps `small` (5) and prunes `big`, which does not fit.
    expect(rounds.map((r) => r.prune)).to.deep.equal([[], [], [], ['big']]);
  });

  it('a non-final round keeps what the final round would keep: small modules beside one frozen above the budget', () => {
    // The proof grid's situation (sentiment, ratio 0.0005 = 3,487): a low-rank adapter frozen at
    // rank 4 (4,752) above the budget, the most important, and small modules beside it. Their
    // derived total stays ≥ B without the small ones, so the first floor alone pruned them all, and
    // the final round lowered the adapter to rank 1: 1,584 of 3,487.
    const run = () => {
      const s = new BipeftBudgetScheduler({
        rounds: 4,
        window: 1,
        threshold: 0,
        lastRounds: 4,
        freezeRanks: false,
      });
      const mods: Mod[] = [
        { id: 'adapter', size: 4752, importance: 9, frozen: true, rankSizes: [1584, 4752, 9504] },
        { id: 'lnfit', size: 512, importance: 4 },
        { id: 'bitfit.a', size: 256, importance: 3 },
        { id: 'bitfit.b', size: 256, importance: 2 },
        { id: 'lora', size: 8192, importance: 1, frozen: true, rankSizes: [1024, 4096, 8192] },
      ];
      const rounds: ScheduleDecision[] = [];
      for (let step = 0; rounds.length < 4; step++) {
        const d = s.decide({ step, epoch: 0, budget: 3487, modules: statuses(mods) });
        if (d.event?.round !== undefined) {
          rounds.push(d);
          apply(mods, d);
        }
      }
      return rounds;
    };
    const rounds = run();
    // Round 1: Δ = (13,968 − 3,487)/4 ≈ 2,620 < 8,192, so the least important (lora, kept by no
    // landing: 1,024 does not fit beside the lowered adapter and the small ones) goes anyway.
    expect(rounds[0]!.prune).to.deep.equal(['lora']);
    // Rounds 2–3: Δ > 0, but the landing keeps every survivor: nothing goes.
    expect(rounds[1]!.prune).to.deep.equal([]);
    expect(rounds[2]!.prune).to.deep.equal([]);
    // Final round: the adapter at rank 1 (1,584) and the three small ones (1,024): 2,608 of 3,487.
    const last = rounds[3]!;
    expect(last.lower).to.deep.equal([{ id: 'adapter', rankIndex: 0 }]);
    expect(last.prune).to.deep.equal([]);
  });

  it('removes one module when none fits in Δ, and nothing once E[P] ≤ B (the round still counts)', () => {
    const s = new BipeftBudgetScheduler({
      rounds: 4,
      window: 1,
      threshold: 0,
      lastRounds: 0,
      freezeRanks: false,
    });
    const mods: Mod[] = [
      { id: 'big', size: 100, importance: 1 },
      { id: 'small', size: 5, importance: 2 },
      { id: 'mid', size: 45, importance: 3 },
    ];
    const rounds: ScheduleDecision[] = [];
    for (let step = 0; rounds.length < 2; step++) {
      const d = s.decide({ step, epoch: 0, budget: 50, modules: statuses(mods) });
      if (d.event?.round !== undefined) {
        rounds.push(d);
        apply(mods, d);
      }
    }
    // Round 1: Δ = (150 − 50)/4 = 25 < 100: the least important module goes anyway (50 survive).
    expect(rounds[0]!.prune).to.deep.equal(['big']);
    // Round 2: E[P] = 50 ≤ 50, Δ = 0: nothing pruned, T_rem still decremented.
    expect(rounds[1]!.prune).to.deep.equal([]);
    expect(rounds[1]!.event!.remaining).to.equal(2);
  });

  it('freezes ranks progressively when rounds fire on consecutive steps (H is kept until it has 2 entries)', () => {
    const T = 8;
    const s = new BipeftBudgetScheduler({ rounds: T, window: 1, threshold: 0, lastRounds: 0 });
    // 8 ranked modules that never get pruned (budget above their total) plus nothing else: every
    // round has Δ ≤ 0 and only freezes. Rank logits are stable (argmax never changes), so γ = 1.
    const mods: Mod[] = Array.from({ length: 8 }, (_, i) => ({
      id: `r${i}`,
      size: 1,
      importance: 1,
      alpha: [0, 0.1 * (i + 1), 0],
    }));
    const freezesPerRound: number[] = [];
    for (let step = 0; freezesPerRound.length < T; step++) {
      // Move α a little each step; module i moves i times faster, so its DSI is larger.
      for (const [i, m] of mods.entries()) if (!m.frozen) m.alpha![2] = -0.01 * (i + 1) * step;
      const d = s.decide({ step, epoch: 0, budget: 1000, modules: statuses(mods) });
      if (d.event?.round === undefined) continue;
      freezesPerRound.push(d.freeze.length);
      apply(mods, d);
    }
    // The trigger fires from the 3rd step on, every step. Round 1 (H has 3 entries): γ = 1,
    // n = ⌊1·8/7⌋ = 1. Round 2: H has 1 entry → no decision, H kept. Round 3 (2 entries, T_rem 5):
    // ⌊7/5⌋ = 1. Round 4: none. Round 5 (T_rem 3): ⌊6/3⌋ = 2. Round 6: none. Round 7 (T_rem 1): all 4.
    // Round 8 (T_rem 0): none.
    expect(freezesPerRound).to.deep.equal([1, 0, 1, 0, 2, 0, 4, 0]);
    expect(mods.every((m) => m.frozen)).to.equal(true);
  });

  it('freezes the modules with the smallest dimension stability indicator first', () => {
    const s = new BipeftBudgetScheduler({ rounds: 2, window: 1, threshold: 0, lastRounds: 0 });
    const mods: Mod[] = [
      { id: 'fast', size: 1, importance: 1, alpha: [0, 0, 0] },
      { id: 'still', size: 1, importance: 1, alpha: [0, 0, 0] },
      { id: 'slow', size: 1, importance: 1, alpha: [0, 0, 0] },
    ];
    let d: ScheduleDecision | undefined;
    for (let step = 0; !d; step++) {
      mods[0]!.alpha = [0.3 * step, 0, 0];
      mods[2]!.alpha = [0.1 * step, 0, 0];
      const r = s.decide({ step, epoch: 0, budget: 100, modules: statuses(mods) });
      if (r.event?.round !== undefined) d = r;
    }
    // T_rem = 1 after the first round: all freeze, ordered by DSI ascending (still has DSI 0).
    expect(d.freeze).to.deep.equal(['still', 'slow', 'fast']);
  });

  it('computes γ over all ranked modules, frozen ones at their frozen index', () => {
    const s = new BipeftBudgetScheduler({ rounds: 4, window: 1, threshold: 0, lastRounds: 0 });
    const mods: Mod[] = [
      { id: 'fixed', size: 1, importance: 1, alpha: [0, 0, 1] },
      { id: 'moving', size: 1, importance: 1, alpha: [0, 1, 0] },
      { id: 'other', size: 1, importance: 1, alpha: [0, 0, 1] },
    ];
    // α of `moving` per step: argmax 1, 1, 1 (round 1 fires), then 2 (round 2), then 1 (round 3).
    const movingAlpha = [
      [0, 1, 0],
      [0, 1, 0],
      [0, 1, 0],
      [0, 0, 1],
      [0, 1, 0],
    ];
    const rounds: ScheduleDecision[] = [];
    for (let step = 0; step < movingAlpha.length; step++) {
      mods[1]!.alpha = movingAlpha[step]!;
      const d = s.decide({ step, epoch: 0, budget: 100, modules: statuses(mods) });
      if (d.event?.round === undefined) continue;
      rounds.push(d);
      apply(mods, d);
    }
    expect(rounds.length).to.equal(3);
    // Round 1 (T_rem 3, H = 3 entries, nothing moved): γ = 1, n = ⌊1·3/3⌋ = 1; DSI all 0 → by id.
    expect(rounds[0]!.event!.gamma).to.equal(1);
    expect(rounds[0]!.freeze).to.deep.equal(['fixed']);
    // Round 2 (T_rem 2): H has one entry, no decision; H is kept.
    expect(rounds[1]!.event!.gamma).to.equal(null);
    expect(rounds[1]!.freeze).to.deep.equal([]);
    // Round 3 (T_rem 1): H = 2 entries. Argmax vectors (moving, other, fixed@2): start [2, 2, 2],
    // end [1, 2, 2]: γ = (2 + 4 + 4) / (√12 · √9) = 0.96225 (without the frozen one it would be
    // 6 / (√8 · √5) = 0.94868). All remaining freeze at T_rem = 1.
    expect(rounds[2]!.event!.gamma).to.be.closeTo(10 / (Math.sqrt(12) * 3), 1e-12);
    expect([...rounds[2]!.freeze].sort()).to.deep.equal(['moving', 'other']);
  });

  it('state() and restore() continue identically', () => {
    const make = () => new BipeftBudgetScheduler({ rounds: 5, window: 2, threshold: 0.5, lastRounds: 1 });
    const mods = (): Mod[] =>
      Array.from({ length: 5 }, (_, i) => ({
        id: `m${i}`,
        size: 10 + i,
        importance: i + 1,
        alpha: [0, i, 0],
      }));
    const a = make();
    const ma = mods();
    const b = make();
    const mb = mods();
    const run = (s: BipeftBudgetScheduler, m: Mod[], from: number, to: number): ScheduleDecision[] => {
      const out: ScheduleDecision[] = [];
      for (let step = from; step < to; step++) {
        for (const x of m) if (x.alpha && !x.frozen) x.alpha[2] = Math.sin(step + x.size);
        const d = s.decide({ step, epoch: 0, budget: 25, modules: statuses(m) });
        apply(m, d);
        out.push(d);
      }
      return out;
    };
    const reference = run(a, ma, 0, 12);
    const first = run(b, mb, 0, 5);
    const restored = make();
    restored.restore(JSON.parse(JSON.stringify(b.state())));
    const rest = run(restored, mb, 5, 12);
    expect([...first, ...rest]).to.deep.equal(reference);
  });
});

describe('dimension stability indicator', () => {
  it('is mean_k std_t(α_k) × KL(softmax(α_end) ‖ softmax(α_start))', () => {
    const h = [
      [0, 0],
      [1, 0],
      [2, 0],
    ];
    // std of [0,1,2] (unbiased) = 1, of [0,0,0] = 0 → mean 0.5.
    // p_start = [0.5, 0.5], p_end = softmax([2, 0]) = [e²/(e²+1), 1/(e²+1)].
    const e2 = Math.exp(2);
    const p = [e2 / (e2 + 1), 1 / (e2 + 1)];
    const kl = p[0]! * Math.log(p[0]! / 0.5) + p[1]! * Math.log(p[1]! / 0.5);
    expect(stabilityIndicator(h)).to.be.closeTo(0.5 * kl, 1e-12);
    expect(stabilityIndicator([h[0]!, h[0]!])).to.equal(0);
  });
});
