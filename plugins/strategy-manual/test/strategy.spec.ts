/**
 * The manual baseline on the tiny fixture: the largest uniform rank against hand-computed counts,
 * the default targets of every type, full fine-tuning and the frozen-encoder head, the budget
 * error, and an end-to-end run through the search loop (the engine trains the configuration).
 */
import { expect } from 'chai';
import type { Budget, SearchContext, SearchOutcome } from '@peftkit/api';
import { ConfigError, Rng, resolveBudget } from '@peftkit/api';
import type { Workbench } from '@peftkit/engine';
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import { runTinySearch, tinyRecipe, tinyTask, tinyWorkbench, toModuleTypes } from '@peftkit/testing';
import { type ManualOptions, ManualStrategy, largestUniformRank } from '../src/index.js';

const types = toModuleTypes(builtinModuleTypes);
const task = () => tinyTask({ train: 32, validation: 16, test: 16 });
const recipe = tinyRecipe({ epochs: 2 });
/** The tiny workbench (set before the tests): its toolkit counts, and it gives the search context. */
let wb: Workbench;

/** Run the strategy by itself (it asks for no jobs) and return its outcome and warnings. */
function decide(options: ManualOptions, budget: Budget) {
  const warnings: string[] = [];
  const ctx: SearchContext = {
    backbone: wb.parts.backbone.info,
    task: wb.parts.task.info,
    space: { name: 'none', candidates: [] },
    budget,
    seed: 1,
    rng: new Rng(1),
    splitSizes: wb.splitSizes(),
    recipes: { search: recipe, retrain: recipe },
    modules: wb.toolkit,
    emit: () => {},
    log: { info() {}, warn: (m: string) => void warnings.push(m), debug() {} },
  };
  const s = new ManualStrategy(options);
  s.start(ctx);
  expect(s.ask()).to.equal(null);
  const outcome: SearchOutcome = s.outcome();
  return { outcome, warnings };
}

const budget = (params: number) => resolveBudget({ params }, 1e6);
const points = (o: SearchOutcome) => o.architecture.modules.map((m) => m.point);

describe('manual baseline (tiny fixture: hidden 8, FFN 16, 2 layers)', () => {
  before(async () => {
    wb = await tinyWorkbench<Workbench>({ types, task: task() });
  });

  it('LoRA: the largest uniform rank fits and rank + 1 does not (hand-computed counts)', () => {
    // Per rank: q, k, v, o are 8→8 (16 each), ffn.in 8→16 and ffn.out 16→8 (24 each): 112 per layer,
    // 224 for the 2 layers. Budget 1000: rank 4 = 896 fits, rank 5 = 1120 does not.
    const { outcome } = decide({ type: 'lora' }, budget(1000));
    expect(outcome.architecture.modules).to.have.length(12);
    expect(outcome.architecture.modules.every((m) => m.rank === 4)).to.equal(true);
    expect(outcome.summary!.rank).to.equal(4);
    expect(outcome.summary!.trainableParams).to.equal(896);
    expect(wb.toolkit.countArchitecture(outcome.architecture)).to.equal(896);
    const plus1 = { modules: outcome.architecture.modules.map((m) => ({ ...m, rank: 5 })) };
    expect(wb.toolkit.countArchitecture(plus1)).to.equal(1120);
    // Exactly at the boundary: 1120 fits rank 5.
    expect(decide({ type: 'lora' }, budget(1120)).outcome.summary!.rank).to.equal(5);
    expect(decide({ type: 'lora' }, budget(1119)).outcome.summary!.rank).to.equal(4);
  });

  it('largestUniformRank finds the boundary of any increasing count', () => {
    const count = (r: number) => 7 + 13 * r + (r > 10 ? r * r : 0);
    for (const b of [20, 33, 140, 150, 250, 400, 10_000]) {
      const r = largestUniformRank(count, b);
      expect(count(r)).to.be.at.most(b);
      expect(count(r + 1)).to.be.greaterThan(b);
    }
    expect(largestUniformRank(count, 10_000, 6)).to.equal(6);
  });

  it('resolves the default targets of every type on the tiny backbone', () => {
    const big = budget(1_000_000);
    const expected: Record<string, string[]> = {
      lora: ['q', 'k', 'v', 'o', 'ffn.in', 'ffn.out'].flatMap((p) =>
        [0, 1].map((l) => `layer.${l}.${p.startsWith('ffn') ? p : `attn.${p}`}`),
      ),
      adapter: [0, 1].flatMap((l) => [`layer.${l}.attn.sublayer`, `layer.${l}.ffn.sublayer`]),
      'parallel-adapter': [0, 1].flatMap((l) => [`layer.${l}.attn.sublayer`, `layer.${l}.ffn.sublayer`]),
      'lowrank-adapter': [0, 1].flatMap((l) => [`layer.${l}.attn.sublayer`, `layer.${l}.ffn.sublayer`]),
      prefix: ['layer.0.attn.scores', 'layer.1.attn.scores'],
      bitfit: [0, 1].flatMap((l) =>
        ['ln_attn', 'attn.q', 'attn.k', 'attn.v', 'attn.o', 'ln_ffn', 'ffn.in', 'ffn.out'].map(
          (p) => `layer.${l}.${p}`,
        ),
      ),
      lnfit: [0, 1].flatMap((l) => [`layer.${l}.ln_attn`, `layer.${l}.ln_ffn`]),
    };
    for (const [type, want] of Object.entries(expected)) {
      const { outcome } = decide(types.get(type).ranked ? { type, maxRank: 4 } : { type }, big);
      expect([...points(outcome)].sort(), type).to.deep.equal([...want].sort());
      if (types.get(type).ranked) expect(outcome.summary!.rank, type).to.equal(4);
    }
    const pfeiffer = decide({ type: 'adapter', placement: 'pfeiffer', rank: 2 }, big).outcome;
    expect(points(pfeiffer)).to.deep.equal(['layer.0.ffn.sublayer', 'layer.1.ffn.sublayer']);
    expect(pfeiffer.summary!.placement).to.equal('pfeiffer');
    const custom = decide({ type: 'lora', targets: ['layer.*.attn.[qv]'], rank: 2 }, big).outcome;
    expect(points(custom)).to.deep.equal([
      'layer.0.attn.q',
      'layer.0.attn.v',
      'layer.1.attn.q',
      'layer.1.attn.v',
    ]);
  });

  it('full fine-tuning: every linear, LayerNorm and embedding, ignoring the budget with a warning', () => {
    const { outcome, warnings } = decide({ type: 'full' }, budget(100));
    expect(outcome.architecture.modules).to.have.length(12 + 4 + 1);
    expect(points(outcome)).to.include('embeddings.word');
    // Every frozen weight of the tiny backbone becomes trainable.
    expect(wb.toolkit.countArchitecture(outcome.architecture)).to.equal(wb.parts.backbone.info.params);
    expect(outcome.summary!.budgetIgnored).to.equal(true);
    expect(outcome.summary!.warning).to.match(/full fine-tuning ignores the budget/);
    expect(warnings.join('\n')).to.match(/ignores the budget/);
  });

  it('head-only: the empty architecture', () => {
    const { outcome } = decide({ type: 'head-only' }, budget(10));
    expect(outcome.architecture).to.deep.equal({ modules: [] });
    expect(outcome.summary!.trainableParams).to.equal(0);
  });

  it('unranked types drop targets by layer from the top until they fit', () => {
    // LNFit: 4 LayerNorms of 8 parameters; a budget of 20 keeps the two lowest (layer 0).
    const { outcome } = decide({ type: 'lnfit' }, budget(20));
    expect(points(outcome)).to.deep.equal(['layer.0.ln_attn', 'layer.0.ln_ffn']);
    expect(outcome.summary!.dropped).to.deep.equal(['layer.1.ln_attn', 'layer.1.ln_ffn']);
    const topDown = decide({ type: 'lnfit', keep: 'top-down' }, budget(20)).outcome;
    expect(points(topDown)).to.deep.equal(['layer.1.ln_attn', 'layer.1.ln_ffn']);
    // BitFit: sizes differ (ffn.in has 16); each target that still fits is kept, bottom up.
    const bit = decide({ type: 'bitfit' }, budget(60)).outcome;
    expect(points(bit)).to.deep.equal([
      'layer.0.ln_attn',
      'layer.0.attn.q',
      'layer.0.attn.k',
      'layer.0.attn.v',
      'layer.0.attn.o',
      'layer.0.ln_ffn',
      'layer.0.ffn.out',
    ]);
    // 8 · 6 = 48, ffn.in (16) would make 64, ffn.out (8) makes 56; nothing else fits after it.
    expect(bit.summary!.trainableParams).to.equal(56);
    // Ranked types whose rank-1 configuration is over the budget are cut the same way at rank 1.
    const lora = decide({ type: 'lora' }, budget(100)).outcome;
    expect(lora.summary!.rank).to.equal(1);
    expect(lora.summary!.rankChoice).to.equal('rank 1, targets dropped');
    expect(lora.summary!.trainableParams).to.be.at.most(100);
    expect(points(lora)[0]).to.equal('layer.0.attn.q');
  });

  it('a budget below the smallest module is a ConfigError naming the budget and the size', () => {
    for (const [type, size] of [
      ['lora', 16],
      ['lnfit', 8],
    ] as const) {
      try {
        decide({ type }, budget(size - 1));
        expect.fail('should throw');
      } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        expect((e as Error).message).to.include(`budget of ${size - 1} trainable parameters`);
        expect((e as Error).message).to.include(`${size} parameters`);
      }
    }
    expect(() => decide({ type: 'lora', rank: 2 }, budget(31))).to.throw(
      ConfigError,
      /lora@layer\.0\.attn\.q at rank 2: 32/,
    );
  });

  it('rejects unknown types and misplaced options clearly', () => {
    expect(() => decide({ type: 'lorra' }, budget(1000))).to.throw(
      ConfigError,
      /unknown module type "lorra"/,
    );
    expect(() => decide({ type: 'bitfit', rank: 2 }, budget(1000))).to.throw(
      ConfigError,
      /bitfit has no rank/,
    );
    expect(() => decide({ type: 'lora', placement: 'pfeiffer' }, budget(1000))).to.throw(
      ConfigError,
      /placement/,
    );
    expect(() => decide({ type: 'lora', targets: ['nothing.*'] }, budget(1000))).to.throw(
      ConfigError,
      /matches no/,
    );
  });

  it('runs end to end: no search jobs, the engine trains the configuration', async function () {
    this.timeout(60_000);
    const { result } = await runTinySearch({
      strategy: new ManualStrategy({ type: 'lora' }),
      types,
      task: task(),
      budget: budget(500),
      recipes: { search: { epochs: 2 } },
      seed: 3,
    });
    expect(result.outcome.summary!.rank).to.equal(2);
    expect(result.final.trainableParams).to.equal(448);
    expect(result.final.steps).to.equal(2 * 4);
    expect(result.final.metrics.test!.accuracy).to.be.a('number');
    expect(result.searchSeconds).to.be.lessThan(1);
  });
});
