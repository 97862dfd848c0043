/**
 * Random search on the tiny fixture: every sample fits the budget (many seeds, and the fallback),
 * compute matching through `computeSteps`, trials only see the two halves of the training data,
 * determinism, and an interrupted-and-resumed search equal to the uninterrupted one.
 */
import { expect } from 'chai';
import type { Budget, Candidate, Job, SpaceDefinition, TrainJob } from '@peftkit/api';
import { ConfigError, Rng, matchPoints, moduleId, resolveBudget } from '@peftkit/api';
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import {
  type HarnessWorkbench,
  interruptAndResume,
  recordBatches,
  runTinySearch,
  tinyBackbone,
  tinyTask,
  tinyWorkbench,
  toModuleTypes,
} from '@peftkit/testing';
import { type RandomOptions, RandomSearchStrategy, sampleArchitecture } from '../src/index.js';

const types = toModuleTypes(builtinModuleTypes);
const task = () => tinyTask({ train: 32, validation: 16, test: 16 });

// A mixed space: LoRA (ranks 1, 2, 4) on every linear, LNFit on every LayerNorm, serial adapters
// (bottleneck 1 or 2) on every sublayer.
const entries: [string, string, readonly number[] | null][] = [
  ['lora', 'layer.*.{attn.q,attn.k,attn.v,attn.o,ffn.in,ffn.out}', [1, 2, 4]],
  ['lnfit', 'layer.*.ln_*', null],
  ['adapter', 'layer.*.*.sublayer', [1, 2]],
];
const candidates: Candidate[] = entries.flatMap(([type, pattern, ranks]) =>
  matchPoints(pattern, tinyBackbone({ hidden: 8 }).info.points).map((p) => ({
    id: moduleId(type, p.name),
    type,
    point: p.name,
    ranks,
    options: {},
  })),
);
const space: SpaceDefinition = { name: 'mixed', candidates };

function options(budget: Budget, opts: RandomOptions, seed?: number) {
  return {
    strategy: new RandomSearchStrategy(opts),
    types,
    budget,
    space,
    task: task(),
    recipes: { retrain: { epochs: 1 } },
    seed,
  };
}

const search = (budget: Budget, opts: RandomOptions, seed?: number) =>
  runTinySearch(options(budget, opts, seed));

const budget = (params: number) => resolveBudget({ params }, 1e6);

describe('random search (tiny fixture)', function () {
  this.timeout(60_000);
  let wb: HarnessWorkbench;
  before(async () => {
    wb = await tinyWorkbench({ types, task: task() });
  });

  it('every sampled architecture fits the budget, over many seeds and budgets', () => {
    const sizes = space.candidates.map((c) =>
      wb.toolkit.count(c.type, c.point, c.ranks ? c.ranks[0]! : null),
    );
    const smallest = Math.min(...sizes);
    let fallbacks = 0;
    for (const b of [smallest, smallest + 7, 60, 150, 400, 1500]) {
      for (let seed = 0; seed < 150; seed++) {
        const s = sampleArchitecture(space.candidates, wb.toolkit, b, new Rng(seed), {
          onProbability: 0.5,
          maxAttempts: 20,
        });
        expect(s.params).to.equal(wb.toolkit.countArchitecture(s.architecture));
        expect(s.params).to.be.at.most(b);
        if (s.dropped.length) fallbacks++;
        else expect(s.architecture.modules.length).to.be.greaterThan(0);
        for (const m of s.architecture.modules) {
          const c = space.candidates.find((x) => x.point === m.point && x.type === m.type)!;
          if (c.ranks) expect(c.ranks).to.include(m.rank);
          else expect(m.rank).to.equal(null);
        }
      }
    }
    // Small budgets exhaust the attempts and exercise the greedy fallback.
    expect(fallbacks).to.be.greaterThan(0);
  });

  it('samples each candidate with the on-probability and ranks uniformly (large budget)', () => {
    const on = new Map<string, number>();
    const ranks = new Map<number, number>();
    const n = 2000;
    const rng = new Rng(9);
    for (let i = 0; i < n; i++) {
      const s = sampleArchitecture(space.candidates, wb.toolkit, 1e9, rng, {
        onProbability: 0.3,
        maxAttempts: 10,
      });
      for (const m of s.architecture.modules) {
        on.set(m.point + m.type, (on.get(m.point + m.type) ?? 0) + 1);
        if (m.type === 'lora') ranks.set(m.rank!, (ranks.get(m.rank!) ?? 0) + 1);
      }
    }
    // Rejection of empty samples (probability 0.7^20 ≈ 8e-4) barely moves the marginals.
    for (const v of on.values()) expect(v / n).to.be.closeTo(0.3, 0.05);
    const loraTotal = [...ranks.values()].reduce((a, b) => a + b, 0);
    for (const r of [1, 2, 4]) expect(ranks.get(r)! / loraTotal).to.be.closeTo(1 / 3, 0.03);
  });

  it('computeSteps sets the number of trials; trials train on search.weight and select on search.arch', async () => {
    // search.weight holds 16 of the 32 training examples: 2 steps per 1-epoch trial; 7 steps → 3 trials.
    const batches: Job[][] = [];
    const b = budget(300);
    const { result, events } = await runTinySearch({
      ...options(b, { computeSteps: 7 }),
      executor: recordBatches(batches),
    });
    const jobs = batches.flat();
    const s = result.outcome.summary!;
    expect(s.trials).to.equal(3);
    expect(s.stepsPerTrial).to.equal(2);
    expect(s.stepsSpent).to.equal(6);
    expect(events.filter((e) => e.type === 'trial')).to.have.length(3);
    expect(jobs).to.have.length(3);
    for (const j of jobs as TrainJob[]) {
      expect(j.kind).to.equal('train');
      expect(j.train).to.equal('search.weight');
      expect(j.select).to.equal('search.arch');
      expect(j.score).to.deep.equal([]);
      expect(j.recipe.epochs).to.equal(1);
    }
    expect(new Set(jobs.map((j) => (j as TrainJob).seed)).size).to.equal(3);
    // The best trial is returned, and the engine re-trains it within the budget.
    const all = s.all as { score: number; architecture: unknown; params: number }[];
    const bestScore = Math.max(...all.map((t) => t.score));
    expect(s.bestScore).to.equal(bestScore);
    expect(result.outcome.architecture).to.deep.equal(all.find((t) => t.score === bestScore)!.architecture);
    expect(result.final.trainableParams).to.be.at.most(b.params);
    for (const t of all) expect(t.params).to.be.at.most(b.params);
    // A compute budget below one trial still runs one.
    const one = await search(b, { computeSteps: 1 });
    expect(one.result.outcome.summary!.trials).to.equal(1);
  });

  it('is deterministic: the same seed gives the same trials, another seed other ones', async () => {
    const b = budget(300);
    const a = await search(b, { trials: 3, parallel: 2 });
    const c = await search(b, { trials: 3 });
    expect(c.result.outcome.summary!.all).to.deep.equal(a.result.outcome.summary!.all);
    expect(c.result.final.metrics).to.deep.equal(a.result.final.metrics);
    const other = await search(b, { trials: 3 }, 7);
    expect(other.result.outcome.summary!.all).to.not.deep.equal(a.result.outcome.summary!.all);
  });

  it('an interrupted and resumed search gives exactly the uninterrupted result', async () => {
    // The executor dies on its 4th call; the resumed run starts from the checkpoint after 3.
    const { reference, resumed, checkpoint } = await interruptAndResume(
      () => options(budget(300), { trials: 5 }),
      3,
    );
    expect(checkpoint.asks).to.equal(3);
    expect(resumed.result.outcome).to.deep.equal(reference.result.outcome);
    expect(resumed.result.final.metrics).to.deep.equal(reference.result.final.metrics);
    const p1 = reference.result.final.params!;
    const p2 = resumed.result.final.params!;
    for (const k of Object.keys(p1)) expect(Array.from(p2[k]!)).to.deep.equal(Array.from(p1[k]!));
  });

  it('rejects conflicting options and a budget below the smallest module', async () => {
    expect(() => new RandomSearchStrategy({ trials: 2, computeSteps: 10 })).to.throw(
      ConfigError,
      /either trials or computeSteps/,
    );
    try {
      await search(budget(7), { trials: 1 });
      expect.fail('should throw');
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      expect((e as Error).message).to.match(
        /budget of 7 .* below the smallest module .*lnfit@layer\.0\.ln_attn: 8/,
      );
    }
  });
});
