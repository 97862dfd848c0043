/**
 * Uniform random architectures of a search space within a parameter budget: each candidate is on
 * with probability `onProbability`, an on ranked candidate takes one of its candidate ranks
 * uniformly. Samples over the budget (or empty) are rejected and drawn again; after `maxAttempts`
 * rejections the last sample is cut down by dropping uniformly random modules until its exact count
 * fits. Rejection keeps the samples uniform over the architectures that fit (for the on/off and rank
 * distribution above); the fallback only matters for budgets far below the space's typical size.
 */
import type { Architecture, Candidate, ModuleChoice, ModuleToolkit, Rng } from '@peftkit/api';
import { moduleId } from '@peftkit/api';

export interface SampleOptions {
  onProbability: number;
  maxAttempts: number;
}

export interface Sample {
  architecture: Architecture;
  /** Exact trainable PEFT parameters of the architecture. */
  params: number;
  /** Samples drawn (1 when the first one fitted). */
  attempts: number;
  /** Modules dropped by the fallback (empty unless every attempt was rejected). */
  dropped: string[];
}

export function sampleArchitecture(
  candidates: readonly Candidate[],
  toolkit: Pick<ModuleToolkit, 'count'>,
  budget: number,
  rng: Rng,
  opts: SampleOptions,
): Sample {
  const size = (m: ModuleChoice) => toolkit.count(m.type, m.point, m.rank, m.options ?? {});
  let modules: ModuleChoice[] = [];
  let params = 0;
  for (let attempt = 1; attempt <= opts.maxAttempts; attempt++) {
    modules = [];
    for (const c of candidates) {
      if (rng.next() >= opts.onProbability) continue;
      const rank = c.ranks ? c.ranks[rng.int(c.ranks.length)]! : null;
      modules.push({
        type: c.type,
        point: c.point,
        rank,
        ...(Object.keys(c.options).length ? { options: { ...(c.options as Record<string, unknown>) } } : {}),
      });
    }
    params = modules.reduce((a, m) => a + size(m), 0);
    if (params <= budget && modules.length > 0) {
      return { architecture: { modules }, params, attempts: attempt, dropped: [] };
    }
  }
  const dropped: string[] = [];
  while (params > budget) {
    const [m] = modules.splice(rng.int(modules.length), 1);
    params -= size(m!);
    dropped.push(moduleId(m!.type, m!.point));
  }
  return { architecture: { modules }, params, attempts: opts.maxAttempts, dropped };
}
