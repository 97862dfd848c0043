/**
 * BIPEFT's budget scheduler (method spec §2.6–2.9): the budget-aware trigger, progressive module
 * pruning on a budget-derived schedule, and progressive rank freezing.
 *
 * Trigger (§2.7): after every weight step, a greedy knapsack over the un-pruned modules sorted by
 * importance gives a 0/1 selection z_t within the budget; once `window + 1` earlier selections exist,
 * a pruning round fires when the mean cosine similarity of z_t with the last `window` ones is at
 * least `threshold`.
 *
 * Pruning round (§2.8): Δ = (E[P] − B) / T_rem, T_rem ← T_rem − 1; remove the least important modules
 * while their cumulative expected size stays ≤ Δ (at least one when Δ > 0). Once E[P] ≤ B rounds
 * remove nothing but still count (quirk Q9, kept: it is what bounds the search length).
 *
 * Landing within the budget (peftkit, not in the released code; docs/bipeft.md "Budget"):
 * - in the last `lastRounds` rounds E[P] counts every surviving module at its *derived* size (the
 *   exact count at its frozen or argmax rank, `ModuleStatus.derivedSize`), not only as "on" (ρ = 1,
 *   as released) but also at the rank the derivation will give it, so the size driven to B is the
 *   size of the architecture the strategy derives;
 * - a non-final round never prunes so far that the survivors' derived total falls below B (the
 *   expected sizes, soft in rank and on-probability, can overstate the derived ones), nor a module
 *   that the final round, run at that point, would keep (a module kept at a lowered rank holds less
 *   than its derived size, so the first floor alone could leave too little to fill B);
 * - the final round (T_rem → 0) keeps the most important survivors that fit B at their derived
 *   sizes, going down the ranking (the trigger's knapsack); a ranked survivor that does not fit is
 *   lowered to the largest smaller candidate rank that fits (`ScheduleDecision.lower`; the leading
 *   components, which the rank-masked supernet trained), and one that fits at no rank is pruned with
 *   the rest. So a schedule that completes derives at most B, and the unused budget is smaller than
 *   the smallest rank of any module the final round pruned. Without the lowering, a survivor frozen
 *   at a rank larger than the whole budget (the round before the last freezes every rank) had to be
 *   pruned, leaving much of the budget unused (docs/results.md).
 *
 * Rank freezing (§2.9, pseudo-code §2.11), right after a round: H holds the rank logits of every
 * matrix module after each weight step since the last freezing. Once H has at least two entries,
 * the global stability γ = cos(argmax indices at the start of H, at its end) over all matrix modules
 * (pruned and already frozen ones included: a frozen module keeps the index it was frozen at);
 * freeze ⌊γ·M_unfrozen/T_rem⌋ of the surviving unfrozen modules with the smallest
 * dimension-stability indicator DSI_j = mean_k std_t(α_jk) × KL(p_j(end) ‖ p_j(start)) (all of them
 * when T_rem = 1), then clear H. With fewer than two entries H is kept, so it keeps growing over
 * rounds that fire on consecutive steps until a freezing decision can be made.
 *
 * Expected size (§2.6): E[P] = Σ keep_j ρ_j · rankedSize_j with ρ_j the on-probability while more
 * than `lastRounds` rounds remain; in the last ones Σ keep_j · derivedSize_j (see above).
 */
import { greedyUnderBudget } from '@peftkit/api';
import type {
  BudgetScheduler,
  JsonSchema,
  ModuleStatus,
  ScheduleDecision,
  ScheduleInput,
} from '@peftkit/api';

export interface SchedulerOptions {
  /** Number of pruning rounds T (default 100). */
  rounds?: number;
  /** Trigger window W (default 5). */
  window?: number;
  /** Trigger cosine threshold (default 0.85). */
  threshold?: number;
  /** Rounds at the end in which every surviving module counts as on (default 10). */
  lastRounds?: number;
  /** Freeze ranks after rounds (default true). */
  freezeRanks?: boolean;
}

export const schedulerOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rounds: {
      type: 'integer',
      minimum: 1,
      default: 100,
      description: 'Pruning rounds T until the budget is reached (max_prune_steps).',
    },
    window: {
      type: 'integer',
      minimum: 1,
      default: 5,
      description: 'Trigger window: earlier selections compared with the current one.',
    },
    threshold: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.85,
      description: 'Mean cosine similarity that fires a round.',
    },
    lastRounds: {
      type: 'integer',
      minimum: 0,
      default: 10,
      description: 'Final rounds in which E[P] counts surviving modules as on.',
    },
    freezeRanks: {
      type: 'boolean',
      default: true,
      description: 'Progressively freeze rank choices after each round.',
    },
  },
};

interface State {
  remaining: number;
  round: number;
  selections: number[][];
  /** H: rank logits per matrix module, one entry per weight step since the last freezing. */
  history: Record<string, number[][]>;
  /** Rank index of each module this scheduler froze (its α no longer reaches the scheduler). */
  frozenIndex?: Record<string, number>;
  /** Whether a round has happened (expected sizes replace full sizes in the knapsack after it). */
  pruned: boolean;
}

function cosine(a: readonly number[], b: readonly number[]): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  if (aa === 0 && bb === 0) return 1;
  if (aa === 0 || bb === 0) return 0;
  return ab / Math.sqrt(aa * bb);
}

function softmax(x: readonly number[]): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

export class BipeftBudgetScheduler implements BudgetScheduler {
  readonly rounds: number;
  private readonly window: number;
  private readonly threshold: number;
  private readonly lastRounds: number;
  private readonly freezeRanks: boolean;
  private s: State;

  constructor(options: SchedulerOptions = {}) {
    this.rounds = options.rounds ?? 100;
    this.window = options.window ?? 5;
    this.threshold = options.threshold ?? 0.85;
    this.lastRounds = options.lastRounds ?? 10;
    this.freezeRanks = options.freezeRanks ?? true;
    this.s = { remaining: this.rounds, round: 0, selections: [], history: {}, pruned: false };
  }

  get remaining(): number {
    return this.s.remaining;
  }

  /** Whether the last rounds have begun (every survivor counts as on, at its derived size). */
  private get inLastRounds(): boolean {
    return this.s.remaining <= this.lastRounds;
  }

  expectedParams(modules: readonly ModuleStatus[]): number {
    const last = this.inLastRounds;
    let total = 0;
    for (const m of modules) {
      if (m.pruned) continue;
      total += last ? derivedSize(m) : m.onProbability * m.rankedSize;
    }
    return total;
  }

  /**
   * Size used by the knapsacks: full size before the first round, expected ranked size after, and
   * the derived size in the last rounds (the size E[P] counts then).
   */
  private knapsackSize(m: ModuleStatus): number {
    if (this.inLastRounds) return derivedSize(m);
    return this.s.pruned ? m.rankedSize : m.fullSize;
  }

  decide(input: ScheduleInput): ScheduleDecision {
    const alive = input.modules.filter((m) => !m.pruned);
    const expected = this.expectedParams(input.modules);
    // Rank-logit history H of every unfrozen matrix module; pruned ones stay in it (their logits no
    // longer move, as in the released code's fixed-size tensors), so they count in γ.
    for (const m of input.modules) {
      if (m.rankLogits) (this.s.history[m.id] ??= []).push(Array.from(m.rankLogits));
    }
    if (this.s.remaining <= 0) return { prune: [], freeze: [], finished: true, expectedParams: expected };

    // Trigger: greedy top-importance selection under the budget.
    const byImportance = [...alive].sort(descendingImportance);
    const { chosen } = greedyUnderBudget(byImportance, (m) => this.knapsackSize(m), input.budget);
    const picked = new Set(chosen.map((m) => m.id));
    const z = input.modules.map((m) => (picked.has(m.id) ? 1 : 0));
    const hist = this.s.selections;
    let similarity: number | null = null;
    let fire = false;
    if (hist.length > this.window) {
      similarity = 0;
      for (let i = 1; i <= this.window; i++) similarity += cosine(z, hist[hist.length - i]!);
      similarity /= this.window;
      fire = similarity >= this.threshold;
    }
    hist.push(z);
    if (hist.length > this.window + 1) hist.splice(0, hist.length - (this.window + 1));
    if (!fire)
      return {
        prune: [],
        freeze: [],
        finished: false,
        expectedParams: expected,
        event: similarity === null ? undefined : { similarity },
      };

    // Pruning round (sizes as E[P] counted them, so before the decrement).
    const delta = (expected - input.budget) / this.s.remaining;
    const size = (m: ModuleStatus) => this.knapsackSize(m);
    this.s.remaining -= 1;
    this.s.round += 1;
    const { prune, lower } =
      this.s.remaining === 0
        ? finalRound(alive, input.budget)
        : { prune: round(alive, delta, size, input.budget), lower: [] };
    this.s.pruned = true;

    // Rank freezing.
    const freeze: string[] = [];
    let gamma: number | null = null;
    const unfrozen = alive.filter((m) => m.rankLogits && !m.rankFrozen && !prune.includes(m.id));
    if (this.freezeRanks && unfrozen.length > 0 && this.s.remaining > 0) {
      const frozenIndex = (this.s.frozenIndex ??= {});
      const tracked = Object.keys(this.s.history).filter((id) => this.s.history[id]!.length >= 2);
      if (tracked.length > 0) {
        const fixed = Object.values(frozenIndex);
        const start = [...tracked.map((id) => argmax(this.s.history[id]![0]!)), ...fixed];
        const end = [...tracked.map((id) => argmax(this.s.history[id]!.at(-1)!)), ...fixed];
        // The released code divides by the norms itself: a zero index vector gives NaN, read as 1.
        const zero = (v: number[]): boolean => v.every((x) => x === 0);
        gamma = zero(start) || zero(end) ? 1 : cosine(start, end);
        const n =
          this.s.remaining === 1 ? unfrozen.length : Math.floor((gamma * unfrozen.length) / this.s.remaining);
        const dsi = unfrozen
          .filter((m) => (this.s.history[m.id]?.length ?? 0) >= 2)
          .map((m) => ({ id: m.id, dsi: stabilityIndicator(this.s.history[m.id]!) }));
        dsi.sort((a, b) => a.dsi - b.dsi || (a.id < b.id ? -1 : 1));
        for (const d of dsi.slice(0, n)) freeze.push(d.id);
        for (const id of Object.keys(this.s.history)) this.s.history[id] = [];
      }
      if (this.s.remaining === 1) {
        for (const m of unfrozen) if (!freeze.includes(m.id)) freeze.push(m.id);
      }
      for (const m of unfrozen) {
        if (!freeze.includes(m.id)) continue;
        frozenIndex[m.id] = argmax(m.rankLogits!);
        delete this.s.history[m.id];
      }
    }
    return {
      prune,
      freeze,
      ...(lower.length > 0 ? { lower } : {}),
      finished: this.s.remaining === 0,
      expectedParams: expected,
      event: { round: this.s.round, remaining: this.s.remaining, delta, similarity, gamma },
    };
  }

  state(): unknown {
    return structuredClone(this.s);
  }

  restore(state: unknown): void {
    this.s = structuredClone(state as State);
  }
}

const derivedSize = (m: ModuleStatus): number => m.derivedSize ?? m.rankedSize;
const ascendingImportance = (a: ModuleStatus, b: ModuleStatus): number =>
  a.importance - b.importance || (a.id < b.id ? -1 : 1);
/** Most important first; ties by id, as in the ascending order. */
const descendingImportance = (a: ModuleStatus, b: ModuleStatus): number =>
  b.importance - a.importance || (a.id < b.id ? -1 : 1);

/**
 * A non-final round (§2.8): the least important modules, strictly in order, while their cumulative
 * size stays ≤ Δ (at least one when Δ > 0), and never past either floor: the survivors' derived
 * total stays ≥ B, so that the final round has a budget's worth of modules to choose from; and no
 * module goes that the final round, run now, would keep (`landing`). A module kept there at a
 * lowered rank holds less than its derived size, so the first floor alone let rounds prune down to
 * one survivor frozen above the budget, which the final round then lowered to a fraction of it
 * (docs/results.md: 45-60 % of the budget at ratio 0.0005).
 */
function round(
  alive: readonly ModuleStatus[],
  delta: number,
  size: (m: ModuleStatus) => number,
  budget: number,
): string[] {
  if (delta <= 0) return [];
  const landed = landing(alive, budget).kept;
  let survivors = alive.reduce((a, m) => a + derivedSize(m), 0);
  const ascending = [...alive].sort(ascendingImportance);
  const prune: string[] = [];
  let removed = 0;
  const floorHolds = (m: ModuleStatus) => survivors - derivedSize(m) >= budget && !landed.has(m);
  for (const m of ascending) {
    if (removed + size(m) > delta || !floorHolds(m)) break;
    prune.push(m.id);
    removed += size(m);
    survivors -= derivedSize(m);
  }
  const least = ascending[0];
  if (prune.length === 0 && least && floorHolds(least)) prune.push(least.id);
  return prune;
}

/**
 * What the final round keeps of `alive`: the most important survivors whose derived sizes fit the
 * budget, going down the ranking. A ranked survivor that does not fit at its derived rank is kept at
 * the largest smaller candidate rank that fits (its leading components, which the rank-masked
 * supernet trained) and `lower`ed to it; one that fits at no rank is skipped (the ranking goes on).
 */
function landing(
  alive: readonly ModuleStatus[],
  budget: number,
): { kept: Set<ModuleStatus>; lower: { id: string; rankIndex: number }[] } {
  const kept = new Set<ModuleStatus>();
  const lower: { id: string; rankIndex: number }[] = [];
  let left = budget;
  for (const m of [...alive].sort(descendingImportance)) {
    const size = derivedSize(m);
    if (size <= left) {
      kept.add(m);
      left -= size;
      continue;
    }
    const sizes = m.rankSizes ?? [];
    let best = -1;
    for (let i = 0; i < sizes.length; i++)
      if (sizes[i]! <= left && (best < 0 || sizes[i]! > sizes[best]!)) best = i;
    if (best < 0) continue;
    kept.add(m);
    lower.push({ id: m.id, rankIndex: best });
    left -= sizes[best]!;
  }
  return { kept, lower };
}

/** The final round: the landing (above); the rest are pruned, least important first. */
function finalRound(
  alive: readonly ModuleStatus[],
  budget: number,
): { prune: string[]; lower: { id: string; rankIndex: number }[] } {
  const { kept, lower } = landing(alive, budget);
  const prune = [...alive]
    .sort(ascendingImportance)
    .filter((m) => !kept.has(m))
    .map((m) => m.id);
  return { prune, lower };
}

/**
 * Dimension stability indicator of one module over a history of rank logits (spec §2.9): the mean
 * over candidates of the standard deviation of each logit, times KL(p_end ‖ p_start). Small means
 * stable.
 */
export function stabilityIndicator(history: readonly (readonly number[])[]): number {
  const K = history[0]!.length;
  const T = history.length;
  let stdSum = 0;
  for (let k = 0; k < K; k++) {
    let mean = 0;
    for (const h of history) mean += h[k]!;
    mean /= T;
    let v = 0;
    for (const h of history) v += (h[k]! - mean) ** 2;
    // torch.std default: unbiased (T - 1).
    stdSum += Math.sqrt(v / Math.max(1, T - 1));
  }
  const pEnd = softmax(history[T - 1]!);
  const pStart = softmax(history[0]!);
  let kl = 0;
  for (let k = 0; k < K; k++) if (pEnd[k]! > 0) kl += pEnd[k]! * Math.log(pEnd[k]! / pStart[k]!);
  return (stdSum / K) * kl;
}
