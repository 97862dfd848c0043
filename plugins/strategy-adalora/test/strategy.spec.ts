/**
 * The AdaLoRA strategy end to end on the tiny fixture: the schedule masks down to the target number
 * of triplets, the final allocation fits the budget, the model trains, the returned architecture
 * and parameters reproduce the reported scores, and an interrupted-and-resumed run gives exactly the
 * uninterrupted result.
 */
import { expect } from 'chai';
import type { Budget, Job } from '@peftkit/api';
import { ConfigError, resolveBudget } from '@peftkit/api';
import { Workbench } from '@peftkit/engine';
import { interruptAndResume, recordBatches, runTinySearch, toModuleTypes } from '@peftkit/testing';
import { type AdaLoraOptions, AdaLoraStrategy, adalora } from '../src/index.js';

const types = toModuleTypes([adalora]);

// 64 training examples (the harness's task), batch 8: 8 steps per epoch, T = 48. The strategy trains
// the final model itself, with the search recipe; the re-training recipe is the same.
const recipe = { epochs: 6, lr: 1e-2, weightDecay: 0 };

// 12 modules (q, k, v, o: 8→8, 17 parameters per triplet; ffn.in/out: 8↔16, 25) at 4 triplets.
const base: AdaLoraOptions = { initRank: 4, targetRank: 2, tinit: 8, tfinal: 16, deltaT: 2 };

function options(budget: Budget, opts: AdaLoraOptions) {
  return {
    strategy: new AdaLoraStrategy(opts),
    types,
    budget,
    recipes: { search: recipe, retrain: recipe },
  };
}

const run = (budget: Budget, opts: AdaLoraOptions) => runTinySearch<Workbench>(options(budget, opts));

describe('AdaLoRA strategy (tiny fixture)', function () {
  this.timeout(60_000);

  it('masks down to the target triplets on the cubic schedule, fits the budget and trains', async () => {
    const budget = resolveBudget({ params: 10_000 }, 1e6);
    const batches: Job[][] = [];
    const { result, events, wb } = await runTinySearch<Workbench>({
      ...options(budget, base),
      executor: recordBatches(batches),
    });
    const jobs = batches.flat();
    const steps = events.filter((e) => e.type === 'step');
    expect(steps).to.have.length(48);
    // Warm-up: all 48 triplets; then masking to b(t) on even steps; from step 32 on, b(T) = 24.
    for (const e of steps) {
      const t = e.step as number;
      if (t <= 8) expect(e.kept, `step ${t}`).to.equal(48);
      if (t >= 32) expect(e.kept, `step ${t}`).to.equal(24);
      if (t > 8 && t < 32 && t % 2 === 0) expect(e.kept, `step ${t}`).to.equal(e.budget);
    }
    expect(steps.find((e) => e.step === 20)!.kept).to.equal(24 + Math.trunc(24 * (1 - 12 / 24) ** 3));
    const arch = result.outcome.architecture;
    expect(arch.modules.reduce((a, m) => a + m.rank!, 0)).to.equal(24);
    expect(result.outcome.summary!.keptTriplets).to.equal(24);
    expect(arch.modules.every((m) => m.type === 'adalora' && m.options!.scalingRank === 4)).to.equal(true);
    // The allocation is adaptive: not every module keeps the same number of triplets.
    expect(new Set(arch.modules.map((m) => m.rank)).size).to.be.greaterThan(1);
    const count = wb.toolkit.countArchitecture(arch);
    expect(result.final.trainableParams).to.equal(count);
    expect(count).to.be.at.most(budget.params);
    // Trained only on 'train'; validation per epoch once the allocation is final (epochs 4..6), then test.
    const evals = jobs.filter((j) => j.kind === 'evaluate');
    expect(evals.map((j) => j.split)).to.deep.equal(['validation', 'validation', 'validation', 'test']);
    expect(jobs.filter((j) => j.kind === 'gradient').every((j) => j.split === 'train')).to.equal(true);
    expect(result.final.bestEpoch).to.be.within(4, 6);
    expect(result.final.curve).to.have.length(6);
    expect(result.final.curve[5]).to.be.lessThan(result.final.curve[0]!);
    // The SVD modules themselves trained (Λ moved away from its zero initialisation).
    const lambdas = Object.entries(result.final.params!).filter(([k]) => k.endsWith('/lambda'));
    expect(lambdas.some(([, v]) => v.some((x) => Math.abs(x) > 1e-3))).to.equal(true);
    // …and they matter: with Λ set back to zero the training loss is higher.
    const spec = Workbench.specOf(arch);
    const noUpdate = Object.fromEntries(
      Object.entries(result.final.params!).map(([k, v]) => [
        k,
        k.endsWith('/lambda') ? new Float32Array(v.length) : v,
      ]),
    );
    const trained = await wb.evaluate(spec, result.final.params!, {}, 'train', 64);
    const without = await wb.evaluate(spec, noUpdate, {}, 'train', 64);
    expect(without.loss! - trained.loss!).to.be.greaterThan(1e-3);
    // The returned architecture with the returned parameters reproduces the reported scores.
    const test = await wb.evaluate(spec, result.final.params!, {}, 'test', 64);
    expect(test.accuracy).to.equal(result.final.metrics.test!.accuracy);
    expect(test.loss).to.be.closeTo(result.final.metrics.test!.loss!, 1e-5);
  });

  it('a binding budget sets b(T) and the exact count of the final allocation stays within it', async () => {
    // Mean triplet size (8·17 + 4·25)/12 = 19.67: a budget of 300 holds floor(300/19.67) = 15 triplets.
    const budget = resolveBudget({ params: 300 }, 1e6);
    const { result, wb } = await run(budget, { ...base, targetRank: 'budget', deltaT: 1 });
    expect(result.outcome.summary!.targetTriplets).to.equal(15);
    const count = wb.toolkit.countArchitecture(result.outcome.architecture);
    expect(count).to.be.at.most(300);
    expect(result.outcome.summary!.keptTriplets).to.be.within(12, 15);
    expect(result.final.trainableParams).to.equal(count);
  });

  it('an interrupted and resumed run gives exactly the uninterrupted result', async () => {
    const budget = resolveBudget({ params: 10_000 }, 1e6);
    // The executor dies on its 22nd call; the resumed run starts from the checkpoint after 21.
    const { reference, resumed, checkpoint } = await interruptAndResume(() => options(budget, base), 21);
    expect(checkpoint.asks).to.equal(21);
    const a = reference.result.final;
    const b = resumed.result.final;
    expect(resumed.result.outcome.architecture).to.deep.equal(reference.result.outcome.architecture);
    expect(b.metrics).to.deep.equal(a.metrics);
    expect(b.curve).to.deep.equal(a.curve);
    expect(b.bestEpoch).to.equal(a.bestEpoch);
    for (const k of Object.keys(a.params!))
      expect(Array.from(b.params![k]!), k).to.deep.equal(Array.from(a.params![k]!));
  });

  it('rejects a budget below one triplet and a schedule without room', async () => {
    try {
      await run(resolveBudget({ params: 16 }, 1e6), base);
      expect.fail('should throw');
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      expect((e as Error).message).to.match(
        /budget of 16 .* below one singular triplet .*adalora@layer\.0\.attn\.q: 17/,
      );
    }
    try {
      await run(resolveBudget({ params: 1000 }, 1e6), { ...base, tinit: '50%', tfinal: '50%' });
      expect.fail('should throw');
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      expect((e as Error).message).to.match(
        /tinit \(24\) \+ tfinal \(24\) must be below the 48 training steps/,
      );
    }
  });
});
