/**
 * The conformance suites of the components that need no model (importance estimators, budget
 * schedulers, reporters, executors, tasks, search spaces) accept correct implementations and
 * reject broken ones, each with a message that names the problem.
 */
import { expect } from 'chai';
import type {
  BudgetScheduler,
  ExecutorFactory,
  ImportanceEstimator,
  ImportanceSample,
  Job,
  JobResult,
  ModuleStatus,
  Reporter,
  RunEvent,
  ScheduleDecision,
  ScheduleInput,
  SearchSpace,
  Task,
} from '@peftkit/api';
import { matchPoints, moduleId } from '@peftkit/api';
import {
  describeBudgetScheduler,
  describeExecutor,
  describeImportanceEstimator,
  describeReporter,
  describeSearchSpace,
  describeTask,
  tinyTask,
} from '../src/index.js';
import { toyTypes } from './toys.js';
import { failure, runIsolated } from './isolated.js';

/** Smoothed mean |g| per module (a correct estimator), with variants that break the contract. */
class MeanAbsGrad implements ImportanceEstimator {
  protected s = new Map<string, number>();
  constructor(private readonly flaw: 'none' | 'no-decay' | 'map-state' = 'none') {}
  observe(_step: number, samples: readonly ImportanceSample[]): void {
    const raw = new Map<string, number>();
    for (const x of samples) {
      let t = 0;
      for (const g of x.weightGrads ?? []) for (const v of g) t += Math.abs(v);
      raw.set(x.id, t / x.size);
    }
    if (this.flaw !== 'no-decay') for (const id of this.s.keys()) if (!raw.has(id)) raw.set(id, 0);
    for (const [id, r] of raw) this.s.set(id, 0.8 * (this.s.get(id) ?? 0) + 0.2 * r);
  }
  scores(): ReadonlyMap<string, number> {
    return new Map(this.s);
  }
  state(): unknown {
    return this.flaw === 'map-state' ? new Map(this.s) : [...this.s];
  }
  restore(state: unknown): void {
    this.s = new Map(state instanceof Map ? state : (state as [string, number][]));
  }
}

/** Computes its scores late, from sample arrays it kept. */
class KeepsReferences implements ImportanceEstimator {
  private last: readonly ImportanceSample[] = [];
  observe(_step: number, samples: readonly ImportanceSample[]): void {
    this.last = samples;
  }
  scores(): ReadonlyMap<string, number> {
    return new Map(this.last.map((x) => [x.id, Math.abs(x.weightGrads?.[0]?.[0] ?? 0)]));
  }
  state(): unknown {
    return null;
  }
  restore(): void {}
}

describe('conformance kit: importance estimators', function () {
  this.timeout(60_000);

  it('accepts a correct estimator', async () => {
    const r = await runIsolated(() => describeImportanceEstimator('mean-abs-grad', () => new MeanAbsGrad()));
    expect([...r.failed]).to.deep.equal([]);
    expect(r.passed).to.have.length(6);
  });

  it('rejects an estimator that lets pruned modules keep their score', async () => {
    const r = await runIsolated(() =>
      describeImportanceEstimator('sticky', () => new MeanAbsGrad('no-decay')),
    );
    expect(failure(r, 'decay')).to.match(/as if its raw score were 0/);
  });

  it('rejects an estimator whose state is not plain data', async () => {
    const r = await runIsolated(() =>
      describeImportanceEstimator('map-state', () => new MeanAbsGrad('map-state')),
    );
    expect(failure(r, 'state()')).to.match(/plain data.*Map/);
  });

  it('rejects an estimator that keeps the sample arrays', async () => {
    const r = await runIsolated(() => describeImportanceEstimator('keeps', () => new KeepsReferences()));
    expect(failure(r, 'without keeping')).to.match(/kept references/);
  });
});

/** Prunes the least important live module every 5 steps until the budget is met; flaws on request. */
class GreedyScheduler implements BudgetScheduler {
  private rounds = 0;
  constructor(
    private readonly flaw: 'none' | 'prunes-pruned' | 'freezes-unranked' | 'never-finishes' = 'none',
  ) {}
  expectedParams(modules: readonly ModuleStatus[]): number {
    return modules.reduce((a, m) => a + (m.pruned ? 0 : m.onProbability * m.rankedSize), 0);
  }
  decide(input: ScheduleInput): ScheduleDecision {
    const expected = this.expectedParams(input.modules);
    const pool = this.flaw === 'prunes-pruned' ? input.modules : input.modules.filter((m) => !m.pruned);
    const over = expected > input.budget;
    const prune =
      input.step % 5 === 0 && over && pool.length > 0
        ? [[...pool].sort((a, b) => a.importance - b.importance)[0]!.id]
        : [];
    if (prune.length) this.rounds++;
    const freeze =
      this.flaw === 'freezes-unranked' && prune.length
        ? input.modules
            .filter((m) => !m.rankLogits && !m.pruned && !prune.includes(m.id))
            .slice(0, 1)
            .map((m) => m.id)
        : [];
    const finished = this.flaw !== 'never-finishes' && this.rounds > 0 && !over;
    return { prune, freeze, finished, expectedParams: expected };
  }
  state(): unknown {
    return { rounds: this.rounds };
  }
  restore(state: unknown): void {
    this.rounds = (state as { rounds: number }).rounds;
  }
}

describe('conformance kit: budget schedulers', function () {
  this.timeout(60_000);
  const opts = { maxSteps: 400 };

  it('accepts a correct scheduler', async () => {
    const r = await runIsolated(() => describeBudgetScheduler('greedy', () => new GreedyScheduler(), opts));
    expect([...r.failed]).to.deep.equal([]);
    expect(r.passed).to.have.length(4);
  });

  it('rejects a scheduler that prunes pruned modules', async () => {
    const r = await runIsolated(() =>
      describeBudgetScheduler('x', () => new GreedyScheduler('prunes-pruned'), opts),
    );
    expect(failure(r, 'prunes only unpruned')).to.match(/which was pruned already/);
  });

  it('rejects a scheduler that freezes unranked modules', async () => {
    const r = await runIsolated(() =>
      describeBudgetScheduler('x', () => new GreedyScheduler('freezes-unranked'), opts),
    );
    expect(failure(r, 'prunes only unpruned')).to.match(/has no rank to freeze/);
  });

  it('rejects a scheduler that never finishes', async () => {
    const r = await runIsolated(() =>
      describeBudgetScheduler('x', () => new GreedyScheduler('never-finishes'), opts),
    );
    expect(failure(r, 'finishes')).to.match(/did not finish within 400 steps/);
  });
});

describe('conformance kit: reporters', function () {
  this.timeout(60_000);

  it('accepts a reporter that formats every event', async () => {
    const lines: string[] = [];
    const r = await runIsolated(() =>
      describeReporter('lines', () => ({ onEvent: (e: RunEvent) => void lines.push(JSON.stringify(e)) })),
    );
    expect([...r.failed]).to.deep.equal([]);
    expect(lines.length).to.be.greaterThan(40);
  });

  it('rejects a reporter that throws on events it does not know, or modifies events', async () => {
    const picky: Reporter = {
      onEvent(e) {
        if (!['progress', 'step', 'run-start', 'run-end', 'epoch'].includes(e.type))
          throw new Error(`unknown event ${e.type}`);
      },
    };
    const r1 = await runIsolated(() => describeReporter('picky', () => picky));
    expect(failure(r1, 'every event type')).to.match(/onEvent threw on a event .*unknown event setup/);
    const stamping: Reporter = {
      onEvent(e) {
        e.seen = true;
      },
    };
    const r2 = await runIsolated(() => describeReporter('stamping', () => stamping));
    expect(failure(r2, 'every event type')).to.match(/must not throw, nor modify/);
  });
});

/** Runs jobs concurrently through runLocal; `flaw` breaks the result order, swallows errors or runs jobs twice. */
function concurrentExecutor(flaw: 'none' | 'completion-order' | 'swallows' | 'twice'): ExecutorFactory {
  return {
    open: (ctx) => ({
      async run(jobs: readonly Job[], onEvent: (e: RunEvent) => void): Promise<JobResult[]> {
        const done: JobResult[] = [];
        const settled = await Promise.allSettled(
          jobs.map(async (j) => {
            if (flaw === 'twice') await ctx.runLocal(j, onEvent);
            const r = await ctx.runLocal(j, onEvent);
            done.push(r);
            return r;
          }),
        );
        if (flaw !== 'swallows') for (const s of settled) if (s.status === 'rejected') throw s.reason;
        if (flaw === 'completion-order') return done;
        return settled
          .filter((s) => s.status === 'fulfilled')
          .map((s) => (s as PromiseFulfilledResult<JobResult>).value);
      },
      dispose: async () => {},
    }),
  };
}

describe('conformance kit: executors', function () {
  this.timeout(60_000);

  it('accepts a concurrent executor that keeps the job order (as one running jobs elsewhere)', async () => {
    const r = await runIsolated(() =>
      describeExecutor('concurrent', () => concurrentExecutor('none'), { inProcess: false }),
    );
    expect([...r.failed]).to.deep.equal([]);
  });

  it('rejects an executor that returns results in completion order, or swallows failures', async () => {
    const r1 = await runIsolated(() =>
      describeExecutor('x', () => concurrentExecutor('completion-order'), { inProcess: false }),
    );
    expect(failure(r1, 'in the order of the jobs')).to.match(/result \d+ (kind|belongs to another job)/);
    const r2 = await runIsolated(() =>
      describeExecutor('x', () => concurrentExecutor('swallows'), { inProcess: false }),
    );
    expect(failure(r2, 'rejects when a job fails')).to.match(/run\(\) must reject/);
  });

  it('accepts a concurrent in-process executor, and rejects one that runs a job twice', async () => {
    const r1 = await runIsolated(() => describeExecutor('x', () => concurrentExecutor('none')));
    expect([...r1.failed]).to.deep.equal([]);
    const r2 = await runIsolated(() => describeExecutor('x', () => concurrentExecutor('twice')));
    expect(failure(r2, 'exactly once')).to.match(/expected/);
  });
});

describe('conformance kit: tasks', function () {
  this.timeout(60_000);

  it('accepts the tiny fixture task, single sentences and pairs', async () => {
    const r1 = await runIsolated(() => describeTask('tiny', () => tinyTask()));
    const r2 = await runIsolated(() => describeTask('tiny pairs', () => tinyTask({ pair: true })));
    expect([...r1.failed, ...r2.failed]).to.deep.equal([]);
  });

  it('rejects a task with a label outside its classes, an undeclared pair, or unseeded splits', async () => {
    const bad = (edit: (t: Task) => Task) => () => edit(tinyTask());
    const r1 = await runIsolated(() =>
      describeTask(
        'x',
        bad((t) => ({ ...t, splits: { ...t.splits, test: [...t.splits.test, { text: 'good', label: 2 }] } })),
      ),
    );
    expect(failure(r1, 'well-formed')).to.match(/test\[32\]: label 2 is not a class index in \[0, 2\)/);
    const r2 = await runIsolated(() =>
      describeTask(
        'x',
        bad((t) => ({ ...t, splits: { ...t.splits, train: [{ text: 'a', pair: 'b', label: 0 }] } })),
      ),
    );
    expect(failure(r2, 'well-formed')).to.match(/not a pair task/);
    const r3 = await runIsolated(() =>
      describeTask('x', () => tinyTask({ seed: Math.floor(Math.random() * 1e9) })),
    );
    expect(failure(r3, 'deterministic')).to.match(/differs between two creations/);
  });
});

describe('conformance kit: search spaces', function () {
  this.timeout(60_000);
  const space = (flaw: 'none' | 'duplicate' | 'ranked-null'): SearchSpace => ({
    build(backbone, types) {
      const type = types.get('toy-lora');
      const cands = matchPoints('layer.*.attn.{q,v}', backbone.points).map((p) => ({
        id: moduleId('toy-lora', p.name),
        type: 'toy-lora',
        point: p.name,
        ranks: flaw === 'ranked-null' ? null : [1, 2],
        options: {},
      }));
      void type;
      return { name: 'qv', candidates: flaw === 'duplicate' ? [...cands, cands[0]!] : cands };
    },
  });

  it('accepts a space over attachment-point patterns', async () => {
    const r = await runIsolated(() => describeSearchSpace('qv', () => space('none'), { types: toyTypes }));
    expect([...r.failed]).to.deep.equal([]);
  });

  it('rejects a space listing a candidate twice, or a ranked type without ranks', async () => {
    const r1 = await runIsolated(() =>
      describeSearchSpace('x', () => space('duplicate'), { types: toyTypes }),
    );
    expect(failure(r1, 'valid candidates')).to.match(/toy-lora@layer.0.attn.q is listed twice/);
    const r2 = await runIsolated(() =>
      describeSearchSpace('x', () => space('ranked-null'), { types: toyTypes }),
    );
    expect(failure(r2, 'valid candidates')).to.match(/is ranked, so the candidate needs candidate ranks/);
  });
});
