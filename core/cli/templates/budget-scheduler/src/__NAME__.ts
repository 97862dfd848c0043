/**
 * The `__NAME__` budget scheduler: `rounds` pruning rounds, one every `every` decisions. Round k of
 * R (remaining R − k + 1) sets the target
 *
 *   target = expected − (expected − budget) / remaining
 *
 * and prunes the least important unpruned modules while the expected size is above it, so the last
 * round reaches the budget. Expected size: Σ rankedSize over unpruned modules. No rank freezing.
 */
import type {
  BudgetScheduler,
  JsonSchema,
  ModuleStatus,
  ScheduleDecision,
  ScheduleInput,
} from '@peftkit/api';
import { ConfigError } from '@peftkit/api';

export interface __CLASS__Options {
  rounds?: number;
  every?: number;
}

export const __CLASS__OptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rounds: {
      type: 'integer',
      minimum: 1,
      default: 5,
      description: 'Pruning rounds until the budget is reached.',
    },
    every: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: 'Decisions (weight steps) between rounds.',
    },
  },
};

interface State {
  scheduler: '__NAME__';
  /** Rounds done. */
  round: number;
  /** Decisions since the last round. */
  since: number;
}

export class __CLASS__ implements BudgetScheduler {
  readonly rounds: number;
  readonly every: number;
  private s: State = { scheduler: '__NAME__', round: 0, since: 0 };

  constructor(options: __CLASS__Options = {}) {
    this.rounds = options.rounds ?? 5;
    this.every = options.every ?? 1;
    for (const [key, v] of [
      ['rounds', this.rounds],
      ['every', this.every],
    ] as const)
      if (!Number.isInteger(v) || v < 1)
        throw new ConfigError(`got ${JSON.stringify(v)}, expected an integer >= 1`, undefined, key);
  }

  expectedParams(modules: readonly ModuleStatus[]): number {
    return modules.reduce((sum, m) => sum + (m.pruned ? 0 : m.rankedSize), 0);
  }

  decide(input: ScheduleInput): ScheduleDecision {
    const expected = this.expectedParams(input.modules);
    const none = { prune: [], freeze: [], expectedParams: expected };
    if (this.s.round >= this.rounds) return { ...none, finished: true };
    this.s.since += 1;
    if (this.s.since < this.every) return { ...none, finished: false };
    this.s.since = 0;
    const remaining = this.rounds - this.s.round;
    const target = expected - Math.max(0, expected - input.budget) / remaining;
    // Least important first; ties by id, so that decisions are deterministic.
    const alive = input.modules
      .filter((m) => !m.pruned)
      .sort((a, b) => a.importance - b.importance || (a.id < b.id ? -1 : 1));
    const prune: string[] = [];
    let size = expected;
    for (const m of alive) {
      if (size <= target) break;
      prune.push(m.id);
      size -= m.rankedSize;
    }
    this.s.round += 1;
    return {
      prune,
      freeze: [],
      finished: this.s.round >= this.rounds,
      expectedParams: expected,
      event: { round: this.s.round, target },
    };
  }

  state(): unknown {
    return { ...this.s };
  }

  restore(state: unknown): void {
    const s = state as Partial<State> | null;
    if (!s || s.scheduler !== '__NAME__' || typeof s.round !== 'number' || typeof s.since !== 'number')
      throw new Error(
        `__NAME__: cannot restore from ${JSON.stringify(state)?.slice(0, 80)} (not a __NAME__ state)`,
      );
    this.s = { scheduler: '__NAME__', round: s.round, since: s.since };
  }
}
