/**
 * Conformance suite for budget schedulers (extension point `budget-scheduler`).
 *
 *   import { describeBudgetScheduler } from '@peftkit/testing';
 *   describeBudgetScheduler('bipeft-budget', () => new BipeftBudgetScheduler({ rounds: 5, window: 2 }));
 *
 * It drives the scheduler through a simulated search, as a strategy would: twelve candidate modules
 * (ranked ones with rank logits over three ranks, unranked ones without), stable importances and
 * on-probabilities, rank logits that settle over time, a budget of `budgetFraction` (0.2) of the full
 * supernet, one `decide` per weight step, its prune and freeze decisions applied before the next.
 * It checks the documented contract of BudgetScheduler:
 * - decisions prune only known, unpruned modules, and freeze only known ranked modules that are
 *   neither pruned nor already frozen (nor pruned by the same decision), without duplicates;
 * - `expectedParams` of a decision equals `expectedParams(input.modules)` before it, is finite and
 *   non-negative, never grows when a module is pruned, and is a pure query (calling it does not
 *   change later decisions);
 * - the schedule prunes toward the budget and finishes within `maxSteps` steps;
 * - decisions are deterministic;
 * - state() is plain data, and a scheduler restored from a structuredClone of it makes the same
 *   decisions as the original from there on.
 */
import type { BudgetScheduler, ModuleStatus, ScheduleDecision, ScheduleInput } from '@peftkit/api';
import { expect } from 'chai';
import { type Factory, SUITE_TIMEOUT_MS, plainDataProblem } from './common.js';
import { mocha } from './mocha.js';

export interface BudgetSchedulerSuiteOptions {
  /** Budget as a fraction of the sum of full module sizes (default 0.2). */
  budgetFraction?: number;
  /** Steps within which the schedule must finish (default 2000). */
  maxSteps?: number;
  /** Weight steps per simulated epoch (default 10). */
  stepsPerEpoch?: number;
  /** Per-test time limit in ms (default 60 s). */
  timeout?: number;
}

const RANKS = [1, 2, 4];

interface SimModule {
  id: string;
  fullSize: number;
  ranked: boolean;
  importance: number;
  onProbability: number;
  /** Rank logits at step 0 and their drift per step (the argmax settles on the drifting entry). */
  logits0: number[];
  drift: number[];
}

function simModules(): SimModule[] {
  const out: SimModule[] = [];
  for (let j = 0; j < 12; j++) {
    const ranked = j % 3 !== 2;
    out.push({
      id: `${ranked ? 'lora' : 'bitfit'}@layer.${j % 4}.point${j}`,
      fullSize: ranked ? 64 + 48 * ((j * 5) % 7) : 16 + 8 * (j % 3),
      ranked,
      // Distinct, stable importances with a little per-step variation (see statuses()).
      importance: 0.05 + ((j * 7) % 12) / 12,
      onProbability: 0.35 + 0.05 * ((j * 3) % 12),
      logits0: [0.1 * (j % 3), 0, -0.1],
      drift: [0, 0, 0].map((_, k) => (k === j % 3 ? 0.02 : -0.005 * ((j + k) % 2))),
    });
  }
  return out;
}

function softmax(x: readonly number[]): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/** The strategy side of the simulation: module statuses at a step, given decisions so far. */
class Simulation {
  readonly modules = simModules();
  readonly pruned = new Set<string>();
  readonly frozen = new Set<string>();
  readonly budget: number;

  constructor(budgetFraction: number) {
    this.budget = Math.floor(budgetFraction * this.modules.reduce((a, m) => a + m.fullSize, 0));
  }

  statuses(step: number): ModuleStatus[] {
    return this.modules.map((m, j) => {
      const logits = m.logits0.map((l, k) => l + m.drift[k]! * Math.min(step, 200));
      const p = softmax(logits);
      const expectedRank = p.reduce((a, pk, k) => a + pk * RANKS[k]!, 0);
      return {
        id: m.id,
        fullSize: m.fullSize,
        rankedSize: m.ranked ? (m.fullSize * expectedRank) / RANKS[RANKS.length - 1]! : m.fullSize,
        onProbability: m.onProbability,
        importance: m.importance * (1 + 0.01 * Math.sin(step * 0.7 + j)),
        pruned: this.pruned.has(m.id),
        rankFrozen: this.frozen.has(m.id),
        ...(m.ranked ? { rankLogits: Float32Array.from(logits) } : {}),
      };
    });
  }

  input(step: number, stepsPerEpoch: number): ScheduleInput {
    return {
      step,
      epoch: Math.floor((step - 1) / stepsPerEpoch),
      budget: this.budget,
      modules: this.statuses(step),
    };
  }

  apply(d: ScheduleDecision): void {
    for (const id of d.prune) this.pruned.add(id);
    for (const id of d.freeze) this.frozen.add(id);
  }
}

interface RunRecord {
  decisions: { prune: string[]; freeze: string[]; finished: boolean; expectedParams: number }[];
  finishedAt: number | null;
  states: Map<number, unknown>;
}

/**
 * Run the simulation until the scheduler finishes (or maxSteps). `probe` checks each decision and
 * the expectedParams queries; `captureAt` clones the state after those steps.
 */
function simulate(
  s: BudgetScheduler,
  o: Required<Omit<BudgetSchedulerSuiteOptions, 'timeout'>>,
  probe: boolean,
  captureAt: readonly number[] = [],
  from?: { step: number; sim: Simulation },
): RunRecord {
  const sim = from?.sim ?? new Simulation(o.budgetFraction);
  const known = new Set(sim.modules.map((m) => m.id));
  const ranked = new Set(sim.modules.filter((m) => m.ranked).map((m) => m.id));
  const rec: RunRecord = { decisions: [], finishedAt: null, states: new Map() };
  for (let step = (from?.step ?? 0) + 1; step <= o.maxSteps; step++) {
    const input = sim.input(step, o.stepsPerEpoch);
    let before = 0;
    if (probe) {
      before = s.expectedParams(input.modules);
      expect(Number.isFinite(before) && before >= 0, `step ${step}: expectedParams is ${before}`).to.equal(
        true,
      );
      // Pruning any one more module never increases the expected size.
      for (const m of input.modules) {
        if (m.pruned) continue;
        const without = s.expectedParams(
          input.modules.map((x) => (x.id === m.id ? { ...x, pruned: true } : x)),
        );
        expect(
          without,
          `step ${step}: expectedParams grew from ${before} to ${without} when ${m.id} was pruned`,
        ).to.be.at.most(before + 1e-9 * Math.max(1, before));
      }
    }
    const d = s.decide(input);
    const where = `step ${step}`;
    if (probe) {
      expect(
        Array.isArray(d.prune) && Array.isArray(d.freeze),
        `${where}: prune and freeze must be arrays`,
      ).to.equal(true);
      expect(new Set(d.prune).size, `${where}: prune lists a module twice: ${d.prune.join(', ')}`).to.equal(
        d.prune.length,
      );
      expect(
        new Set(d.freeze).size,
        `${where}: freeze lists a module twice: ${d.freeze.join(', ')}`,
      ).to.equal(d.freeze.length);
      for (const id of d.prune) {
        expect(known.has(id), `${where}: prunes unknown module ${id}`).to.equal(true);
        expect(sim.pruned.has(id), `${where}: prunes ${id}, which was pruned already`).to.equal(false);
      }
      for (const id of d.freeze) {
        expect(known.has(id), `${where}: freezes unknown module ${id}`).to.equal(true);
        expect(ranked.has(id), `${where}: freezes ${id}, which has no rank to freeze`).to.equal(true);
        expect(
          sim.pruned.has(id) || d.prune.includes(id),
          `${where}: freezes ${id}, which is pruned`,
        ).to.equal(false);
        expect(sim.frozen.has(id), `${where}: freezes ${id}, which was frozen already`).to.equal(false);
      }
      expect(typeof d.finished, `${where}: finished must be a boolean`).to.equal('boolean');
      expect(
        Math.abs(d.expectedParams - before),
        `${where}: decision.expectedParams ${d.expectedParams} differs from expectedParams(input.modules) ${before}`,
      ).to.be.at.most(1e-9 * Math.max(1, before));
      const problem = plainDataProblem(d.event ?? null, 'event');
      expect(
        problem,
        `${where}: the decision's event must be plain data (it is journaled): ${problem}`,
      ).to.equal(null);
    }
    rec.decisions.push({
      prune: [...d.prune],
      freeze: [...d.freeze],
      finished: d.finished,
      expectedParams: d.expectedParams,
    });
    sim.apply(d);
    if (captureAt.includes(step)) rec.states.set(step, structuredClone(s.state()));
    if (d.finished) {
      rec.finishedAt = step;
      break;
    }
  }
  return rec;
}

export function describeBudgetScheduler(
  name: string,
  factory: Factory<BudgetScheduler>,
  opts: BudgetSchedulerSuiteOptions = {},
): void {
  const { describe, it } = mocha('describeBudgetScheduler');
  const o = {
    budgetFraction: opts.budgetFraction ?? 0.2,
    maxSteps: opts.maxSteps ?? 2000,
    stepsPerEpoch: opts.stepsPerEpoch ?? 10,
  };

  describe(`budget scheduler ${name} (conformance)`, function () {
    this.timeout(opts.timeout ?? SUITE_TIMEOUT_MS);
    let reference: Promise<RunRecord> | undefined;
    const referenceRun = () => (reference ??= Promise.resolve(factory()).then((s) => simulate(s, o, true)));

    it('prunes only unpruned modules and freezes only ranked, unpruned, unfrozen ones; expectedParams matches and never grows under pruning', async () => {
      await referenceRun();
    });

    it(`prunes toward the budget and finishes within ${o.maxSteps} steps`, async () => {
      const rec = await referenceRun();
      expect(rec.finishedAt, `the schedule did not finish within ${o.maxSteps} steps`).to.not.equal(null);
      const pruned = rec.decisions.reduce((a, d) => a + d.prune.length, 0);
      expect(
        pruned,
        `the budget is ${o.budgetFraction} of the supernet, yet nothing was pruned`,
      ).to.be.greaterThan(0);
    });

    it('is deterministic, and expectedParams is a pure query', async () => {
      const rec = await referenceRun();
      // The reference run called expectedParams many times; this one never does.
      const again = simulate(await factory(), o, false);
      expect(again.decisions.length, 'number of decisions').to.equal(rec.decisions.length);
      again.decisions.forEach((d, i) => {
        expect(d, `decision at step ${i + 1}`).to.deep.equal(rec.decisions[i]);
      });
    });

    it('state() is plain data, and a scheduler restored from a structuredClone of it decides identically', async () => {
      const rec = await referenceRun();
      expect(rec.finishedAt, 'the schedule must finish').to.not.equal(null);
      const n = rec.finishedAt!;
      const points = [...new Set([1, Math.max(1, Math.floor(n / 2)), Math.max(1, n - 1)])];
      const captured = simulate(await factory(), o, false, points);
      for (const k of points) {
        const state = captured.states.get(k);
        const problem = plainDataProblem(state, 'state');
        expect(problem, `state() after step ${k} must be plain data: ${problem}`).to.equal(null);
        const restored = await factory();
        restored.restore(structuredClone(state));
        const replay = new Simulation(o.budgetFraction);
        for (const d of rec.decisions.slice(0, k)) replay.apply(d);
        const rest = simulate(restored, o, false, [], { step: k, sim: replay });
        expect(rest.decisions.length, `decisions after restoring the state of step ${k}`).to.equal(
          rec.decisions.length - k,
        );
        rest.decisions.forEach((d, i) => {
          expect(d, `decision at step ${k + i + 1} after restoring the state of step ${k}`).to.deep.equal(
            rec.decisions[k + i],
          );
        });
      }
    });
  });
}
