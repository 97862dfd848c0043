/**
 * BIPEFT end to end on the tiny fixture (fast): the search prunes to the budget, freezes ranks,
 * stops early, and an interrupted-and-resumed run gives exactly the uninterrupted result.
 */
import { expect } from 'chai';
import type { Budget } from '@peftkit/api';
import { Rng, resolveBudget } from '@peftkit/api';
import { PeftToolkit } from '@peftkit/nn';
import { lora } from '@peftkit/plugin-peft-modules';
import { interruptAndResume, runTinySearch, tinyBackbone, tinyTask, toModuleTypes } from '@peftkit/testing';
import {
  BipeftBudgetScheduler,
  BipeftSensitivity,
  BipeftStrategy,
  type BipeftOptions,
  PatternSpace,
} from '../src/index.js';

const types = toModuleTypes([lora]);
const backbone = tinyBackbone({ hidden: 8 });
const toolkit = new PeftToolkit(backbone, tinyTask().info, types);
const space = new PatternSpace(
  'lora-only',
  [{ type: 'lora', targets: ['layer.*.attn.{q,k,v,o}', 'layer.*.ffn.{in,out}'] }],
  {
    ranks: [1, 2, 4],
  },
).build(backbone.info, types);
const smallest = Math.min(...space.candidates.map((c) => toolkit.count(c.type, c.point, 1)));
const supernet = space.candidates.reduce((a, c) => a + toolkit.count(c.type, c.point, 4), 0);

function options(budget: Budget, opts: BipeftOptions, seed?: number) {
  return {
    strategy: new BipeftStrategy(
      new BipeftSensitivity(),
      new BipeftBudgetScheduler({ rounds: 6, window: 2, lastRounds: 2, threshold: 0.5 }),
      opts,
    ),
    types,
    budget,
    space,
    recipes: { search: { epochs: 6 } },
    seed,
  };
}

const search = (budget: Budget, opts: BipeftOptions, seed?: number) =>
  runTinySearch(options(budget, opts, seed));

describe('BIPEFT strategy (tiny fixture)', function () {
  this.timeout(120_000);

  it('prunes to the budget with rounds, freezes ranks and stops early', async () => {
    const budget = resolveBudget({ params: Math.floor(supernet * 0.15) }, 1e6);
    const { result, events } = await search(budget, { pruneBeginEpoch: 0 });
    const rounds = events.filter((e) => e.type === 'round');
    expect(rounds.length).to.equal(6);
    expect(rounds.some((r) => (r.pruned as string[]).length > 0)).to.equal(true);
    expect(rounds[0]).to.have.property('similarity');
    expect(events.some((e) => e.type === 'freeze')).to.equal(true);
    expect(result.outcome.summary!.stoppedBy).to.equal('schedule');
    const steps = events.filter((e) => e.type === 'step').length;
    expect(steps).to.be.lessThan(6 * 4);
    expect(result.final.trainableParams).to.be.at.most(budget.params);
    expect(result.final.trainableParams).to.be.greaterThan(0);
    // The search itself landed within the budget: the derived architecture needed no repair.
    expect(result.outcome.summary!.derivedParams).to.equal(result.final.trainableParams);
    expect(result.outcome.summary!.repair).to.deep.equal([]);
    expect(result.final.metrics.test!.accuracy).to.be.a('number');
  });

  it('an interrupted and resumed search gives exactly the uninterrupted result', async () => {
    const budget = resolveBudget({ params: 150 }, 1e6);
    // The executor dies on its 10th call; the resumed run starts from the checkpoint after 9.
    const { reference, resumed, checkpoint } = await interruptAndResume(
      () => options(budget, { pruneBeginEpoch: 0 }),
      9,
    );
    expect(checkpoint.asks).to.equal(9);
    expect(resumed.result.outcome.architecture).to.deep.equal(reference.result.outcome.architecture);
    expect(resumed.result.final.metrics).to.deep.equal(reference.result.final.metrics);
    expect(resumed.result.final.curve).to.deep.equal(reference.result.final.curve);
    const p1 = reference.result.final.params!;
    const p2 = resumed.result.final.params!;
    for (const k of Object.keys(p1)) expect(Array.from(p2[k]!)).to.deep.equal(Array.from(p1[k]!));
  });

  it('never exceeds the budget, over random budgets and seeds, in every mode', async () => {
    const modes: BipeftOptions[] = [
      { pruneBeginEpoch: 0 },
      { pruneBeginEpoch: 1 },
      { mode: 'entangled', earlySelection: false },
      { mode: 'entangled', pruneBeginEpoch: 0 },
      { mode: 'binary-then-dimension', earlySelection: false },
      { mode: 'dimension-then-binary', earlySelection: false },
      { gumbel: false, earlySelection: false },
      { earlySelection: false },
      { pruneBeginEpoch: 0, fillBudget: true },
      { earlySelection: false, fillBudget: true },
    ];
    const rng = new Rng(2024);
    const seen: string[] = [];
    for (let trial = 0; trial < 16; trial++) {
      // Budgets from the smallest module up to the whole supernet, on a log scale.
      const params = Math.floor(smallest * (supernet / smallest) ** rng.next());
      const seed = rng.int(1000);
      const mode = modes[trial % modes.length]!;
      const b = resolveBudget({ params }, 1e6);
      const { result } = await search(b, { ...mode, evaluateEachEpoch: false }, seed);
      const count = toolkit.countArchitecture(result.outcome.architecture);
      const where = `budget ${params}, seed ${seed}, ${JSON.stringify(mode)}`;
      expect(count, where).to.be.at.most(b.params);
      // derivedParams is the count before the repair; the repair's entries account for the difference.
      const summary = result.outcome.summary as { derivedParams: number; repair: { params: number }[] };
      if (!mode.fillBudget) {
        const removed = summary.repair.reduce((a, r) => a + r.params, 0);
        expect(summary.derivedParams - removed, where).to.equal(count);
      }
      if (summary.repair.length > 0) expect(summary.derivedParams, where).to.be.greaterThan(b.params);
      seen.push(`${params}:${count}`);
    }
    // Not vacuous: some searches keep modules, and budgets vary widely.
    expect(seen.filter((s) => !s.endsWith(':0')).length).to.be.greaterThan(8);
  });

  it('fillBudget puts pruned modules back into the unused budget, never over it', async () => {
    const ids = (r: { outcome: { architecture: { modules: { type: string; point: string }[] } } }) =>
      r.outcome.architecture.modules.map((m) => `${m.type}@${m.point}`);
    let grew = 0;
    for (const [fraction, seed] of [
      [0.15, 1],
      [0.3, 2],
      [0.5, 3],
    ] as const) {
      const budget = resolveBudget({ params: Math.floor(supernet * fraction) }, 1e6);
      // The fill happens after the search, so both runs search identically. A completed schedule
      // leaves less than one pruned module unused, so the argmax derivation (no early selection,
      // repaired to the budget) is where the fill has room.
      const opts = { earlySelection: false, evaluateEachEpoch: false };
      const plain = (await search(budget, opts, seed)).result;
      const { result, events } = await search(budget, { ...opts, fillBudget: true }, seed);
      const before = toolkit.countArchitecture(plain.outcome.architecture);
      const after = toolkit.countArchitecture(result.outcome.architecture);
      expect(ids(result)).to.include.members(ids(plain));
      expect(after).to.be.at.most(budget.params);
      expect(after).to.be.at.least(before);
      const added = ids(result).filter((id) => !ids(plain).includes(id));
      expect(result.outcome.summary!.budgetFill).to.have.members(added);
      const fill = events.find((e) => e.type === 'budget-fill');
      if (added.length > 0) {
        grew++;
        expect(fill?.added).to.have.members(added);
        expect(fill?.trainableParams).to.equal(after);
      } else expect(fill).to.equal(undefined);
    }
    expect(grew, 'some derivation left room for a pruned module').to.be.greaterThan(0);
  });

  it('rejects a budget below the smallest module with a clear error', async () => {
    try {
      await search(resolveBudget({ params: 3 }, 1e6), {});
      expect.fail('should throw');
    } catch (e) {
      expect((e as Error).message).to.match(/below the smallest module .*lora@/);
    }
  });

  it('keeps everything, with a warning, when the budget covers the whole supernet', async () => {
    const { result } = await search(resolveBudget({ params: 10_000_000 }, 1e8), { pruneBeginEpoch: 0 });
    expect(result.outcome.summary!.warning).to.match(/covers the whole supernet/);
    expect(result.outcome.architecture.modules.length).to.equal(12);
  });
});
