/**
 * AutoPEFT end to end on the tiny fixture (fast), with @peftkit/testing's harness: a short BO run
 * whose proposals all fit the budget, deterministic, and an interrupted-and-resumed search gives
 * exactly the uninterrupted result. Also the configuration layout (decode, encode, neighbours).
 */
import { expect } from 'chai';
import type { Budget, Job, TrainJob } from '@peftkit/api';
import { Rng, resolveBudget } from '@peftkit/api';
import { PeftToolkit } from '@peftkit/nn';
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import {
  interruptAndResume,
  recordBatches,
  runTinySearch,
  tinyBackbone,
  tinyTask,
  toModuleTypes,
} from '@peftkit/testing';
import {
  type AutoPeftOptions,
  AutoPeftSpace,
  AutoPeftStrategy,
  ConfigLayout,
  paretoFront,
} from '../src/index.js';

const types = toModuleTypes(builtinModuleTypes);
const backbone = tinyBackbone({ hidden: 8 });
const toolkit = new PeftToolkit(backbone, tinyTask().info, types);
const space = new AutoPeftSpace({ sizes: [1, 2, 4, 8] }).build(backbone.info, types);

const options: AutoPeftOptions = {
  initialDesigns: 3,
  iterations: 3,
  trialEpochs: 2,
  randomCandidates: 8,
  gpRestarts: 2,
  gpIterations: 60,
};

// Trials train with the search recipe but for `trialEpochs`; the re-training keeps the harness's 2 epochs.
const recipe = { lr: 1e-2, weightDecay: 0 };

function searchOptions(budget: Budget, opts: AutoPeftOptions) {
  return {
    strategy: new AutoPeftStrategy(opts),
    types,
    budget,
    space,
    recipes: { search: { ...recipe, epochs: 1 }, retrain: recipe },
  };
}

const search = (budget: Budget, opts: AutoPeftOptions) => runTinySearch(searchOptions(budget, opts));

interface SummaryPoint {
  index: number;
  stage: string;
  params: number;
  ratio: number;
  score: number;
  onFront: boolean;
  withinBudget: boolean;
  predicted: { mean: number; sd: number; ehvi: number } | null;
}

describe('AutoPEFT configurations', () => {
  it('decode to one size per type and the flagged layers, encode to [0, 1]^D, and step to neighbours', () => {
    const layout = new ConfigLayout(space.candidates, backbone.info.points);
    expect(layout.types).to.deep.equal(['adapter', 'parallel-adapter', 'prefix']);
    expect(layout.values).to.deep.equal([
      [0, 1, 2, 4, 8],
      [0, 1, 2, 4, 8],
      [0, 1, 2, 4, 8],
    ]);
    expect(layout.layers).to.deep.equal([0, 1]);
    const c = { sizes: [2, 0, 4], layers: [false, true] };
    const arch = layout.architecture(c);
    expect(arch.modules.map((m) => [m.type, m.point, m.rank])).to.deep.equal([
      ['adapter', 'layer.1.ffn.sublayer', 2],
      ['prefix', 'layer.1.attn.scores', 8],
    ]);
    expect(arch.modules[1]!.options).to.deep.equal({ style: 'concat' });
    // Adapter at bottleneck 2: (8 + 8 + 1)·2 + 8 = 42; concatenated prefix of length 8: 2·8·8 = 128.
    expect(toolkit.countArchitecture(arch)).to.equal(42 + 128);
    expect(layout.encode(c)).to.deep.equal([0.5, 0, 1, 0, 1]);
    expect(layout.neighbours(c).map((n) => layout.key(n))).to.deep.equal([
      '1,0,4|01',
      '3,0,4|01',
      '2,1,4|01',
      '2,0,3|01',
      '2,0,4|11',
      '0,0,0|00',
    ]);
    expect(layout.reductions(c).map((n) => layout.key(n))).to.deep.equal([
      '1,0,4|01',
      '2,0,3|01',
      '0,0,0|00',
    ]);
    // Every configuration without modules is the one canonical empty configuration, which has no
    // neighbour of its own (one step cannot add both a size and a layer).
    for (const empty of [
      { sizes: [3, 1, 0], layers: [false, false] },
      { sizes: [0, 0, 0], layers: [true, false] },
    ]) {
      const canon = layout.canonical(empty);
      expect(layout.key(canon)).to.equal('0,0,0|00');
      expect(layout.architecture(empty).modules).to.deep.equal([]);
    }
    expect(layout.neighbours({ sizes: [0, 0, 0], layers: [false, false] })).to.deep.equal([]);
  });
});

describe('AutoPEFT strategy (tiny fixture)', function () {
  this.timeout(60_000);

  it('runs initial designs then BO steps, proposing only configurations within the budget', async () => {
    const budget = resolveBudget({ params: 400 }, 1e6);
    const batches: Job[][] = [];
    const { result, wb, events } = await runTinySearch({
      ...searchOptions(budget, options),
      executor: recordBatches(batches),
    });
    // One batch of 3 initial designs, then one proposal per BO step.
    expect(batches.map((b) => b.length)).to.deep.equal([3, 1, 1, 1]);
    const jobs = batches.flat() as TrainJob[];
    const keys = new Set<string>();
    for (const j of jobs) {
      expect(j.kind).to.equal('train');
      expect(j.train).to.equal('search.weight');
      expect(j.select).to.equal('search.arch');
      expect(j.recipe.epochs).to.equal(2);
      expect(wb.toolkit.countArchitecture(j.architecture)).to.be.at.most(budget.params);
      keys.add(JSON.stringify(j.architecture));
    }
    expect(keys.size).to.equal(6); // never the same configuration twice
    expect(events.filter((e) => e.type === 'trial').length).to.equal(6);

    const s = result.outcome.summary!;
    const points = s.points as SummaryPoint[];
    expect(points.length).to.equal(6);
    expect(points.map((p) => p.stage)).to.deep.equal(['initial', 'initial', 'initial', 'bo', 'bo', 'bo']);
    expect(points.every((p) => p.withinBudget && p.params <= budget.params)).to.equal(true);
    expect(points.every((p) => p.ratio === p.params / 1e6)).to.equal(true);
    for (const p of points.slice(3)) {
      expect(p.predicted!.ehvi).to.be.at.least(0);
      expect(p.predicted!.sd).to.be.at.least(0);
    }
    // The on-front flags are the Pareto front of (ratio ↓, score ↑).
    const front = paretoFront(points.map((p) => ({ size: p.ratio, score: p.score })));
    expect(points.map((p) => p.onFront)).to.deep.equal(front);
    // The outcome is the best-scoring point within the budget, re-trained by the engine.
    const bestScore = Math.max(...points.map((p) => p.score));
    expect((s.best as { score: number }).score).to.equal(bestScore);
    expect(result.final.trainableParams).to.equal((s.best as { params: number }).params);
    expect(result.final.trainableParams).to.be.at.most(budget.params);
    // The hypervolume never decreases as points are added.
    const hv = (s.hypervolume as { value: number }[]).map((h) => h.value);
    expect(hv.length).to.equal(4);
    for (let i = 1; i < hv.length; i++) expect(hv[i]).to.be.at.least(hv[i - 1]!);
  });

  it('is deterministic, and an interrupted and resumed search gives exactly the uninterrupted result', async () => {
    const budget = resolveBudget({ params: 300 }, 1e6);
    // The executor dies on its third batch (the second BO proposal).
    const { reference, resumed, checkpoint } = await interruptAndResume(
      () => searchOptions(budget, options),
      2,
    );
    const again = await search(budget, options);
    expect(again.result.outcome).to.deep.equal(reference.result.outcome);
    expect(checkpoint.asks).to.equal(2);
    expect(resumed.result.outcome).to.deep.equal(reference.result.outcome);
    expect(resumed.result.final.metrics).to.deep.equal(reference.result.final.metrics);
    const p1 = reference.result.final.params!;
    const p2 = resumed.result.final.params!;
    for (const k of Object.keys(p1)) expect(Array.from(p2[k]!)).to.deep.equal(Array.from(p1[k]!));
  });

  it('rejects a budget below the smallest module with a clear error', async () => {
    try {
      await search(resolveBudget({ params: 5 }, 1e6), options);
      expect.fail('should throw');
    } catch (e) {
      expect((e as Error).message).to.match(/below the smallest module of the search space/);
    }
  });

  it('random designs stay within a tight budget', async () => {
    const layout = new ConfigLayout(space.candidates, backbone.info.points);
    const rng = new Rng(1);
    // Sanity of the uniform sampler: every size index and flag value occurs.
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(layout.key(layout.random(rng)));
    expect(seen.size).to.be.greaterThan(100);
    const { result } = await search(resolveBudget({ params: 60 }, 1e6), { ...options, iterations: 1 });
    for (const p of result.outcome.summary!.points as SummaryPoint[]) expect(p.params).to.be.at.most(60);
  });
});
