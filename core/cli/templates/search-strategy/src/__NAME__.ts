/**
 * The `__NAME__` search strategy: one trial per module type of the space (its candidates at their
 * smallest rank, in space order, each kept while the architecture fits the budget), trained in one
 * batch for `trialEpochs` epochs and scored on validation; the outcome is the best trial by the
 * task's first metric (the first trial on ties).
 */
import type {
  Architecture,
  Candidate,
  Job,
  JobResult,
  JsonSchema,
  SearchContext,
  SearchOutcome,
  SearchStrategy,
  TrainResult,
} from '@peftkit/api';
import { ConfigError } from '@peftkit/api';

export interface __CLASS__Options {
  trialEpochs?: number;
}

export const __CLASS__OptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    trialEpochs: { type: 'integer', minimum: 1, default: 1, description: 'Training epochs of each trial.' },
  },
};

interface Trial {
  type: string;
  architecture: Architecture;
  /** Validation score once told. */
  score: number | null;
}

interface State {
  trials: Trial[];
  asked: boolean;
}

/** The candidates, in order, at their smallest rank, each kept while the total fits `budget`. */
export function fitToBudget(
  candidates: readonly Candidate[],
  count: (c: Candidate, rank: number | null) => number,
  budget: number,
): Architecture {
  const modules: Architecture['modules'] = [];
  let total = 0;
  for (const c of candidates) {
    const rank = c.ranks?.[0] ?? null;
    const n = count(c, rank);
    if (total + n > budget) continue;
    total += n;
    modules.push({
      type: c.type,
      point: c.point,
      rank,
      ...(Object.keys(c.options).length ? { options: { ...c.options } } : {}),
    });
  }
  return { modules };
}

export class __CLASS__ implements SearchStrategy {
  readonly trialEpochs: number;
  private ctx!: SearchContext;
  private st!: State;

  constructor(options: __CLASS__Options = {}) {
    this.trialEpochs = options.trialEpochs ?? 1;
    if (!Number.isInteger(this.trialEpochs) || this.trialEpochs < 1)
      throw new ConfigError(
        `got ${JSON.stringify(this.trialEpochs)}, expected an integer >= 1`,
        undefined,
        'trialEpochs',
      );
  }

  start(ctx: SearchContext, resumed?: unknown): void {
    this.ctx = ctx;
    if (resumed) {
      this.st = structuredClone(resumed as State);
      return;
    }
    const types = [...new Set(ctx.space.candidates.map((c) => c.type))];
    const count = (c: Candidate, rank: number | null) =>
      ctx.modules.count(c.type, c.point, rank, { ...c.options });
    const trials = types
      .map((type) => ({
        type,
        architecture: fitToBudget(
          ctx.space.candidates.filter((c) => c.type === type),
          count,
          ctx.budget.params,
        ),
        score: null,
      }))
      .filter((t) => t.architecture.modules.length > 0);
    this.st = { trials, asked: false };
    ctx.emit({ type: 'trials', types: trials.map((t) => t.type) });
  }

  ask(): readonly Job[] | null {
    if (this.st.asked || this.st.trials.length === 0) return null;
    this.st.asked = true;
    return this.st.trials.map((t) => ({
      kind: 'train' as const,
      id: `trial-${t.type}`,
      phase: 'search' as const,
      architecture: t.architecture,
      recipe: { ...this.ctx.recipes.search, epochs: this.trialEpochs },
      train: 'train' as const,
      select: 'validation' as const,
      score: [],
      seed: this.ctx.seed,
    }));
  }

  tell(results: readonly JobResult[]): void {
    const metric = this.ctx.task.metrics[0]!;
    results.forEach((r, i) => {
      const score = (r as TrainResult).metrics.validation?.[metric];
      this.st.trials[i]!.score = typeof score === 'number' ? score : null;
      this.ctx.emit({ type: 'trial', moduleType: this.st.trials[i]!.type, [metric]: score });
    });
  }

  state(): unknown {
    return structuredClone(this.st);
  }

  outcome(): SearchOutcome {
    let best: Trial | undefined;
    for (const t of this.st.trials)
      if (t.score !== null && (best === undefined || t.score > best.score!)) best = t;
    return {
      architecture: best?.architecture ?? { modules: [] },
      summary: {
        trials: this.st.trials.map((t) => ({ type: t.type, score: t.score })),
        best: best?.type ?? null,
      },
    };
  }
}
