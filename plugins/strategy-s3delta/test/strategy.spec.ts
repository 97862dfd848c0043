/**
 * S3Delta end to end on the tiny fixture (fast), with @peftkit/testing's harness: the search fits
 * the budget, runs 4 gradient jobs per architecture update in second-order mode (2 in first-order
 * mode) plus one weight job, feeds soft gates shared by the passes of one step, keeps the expected
 * size at the budget, and an interrupted-and-resumed search gives exactly the uninterrupted result.
 */
import { expect } from 'chai';
import type { Budget, GradientJob, Job, SpaceDefinition } from '@peftkit/api';
import { Rng, resolveBudget } from '@peftkit/api';
import { type Workbench, runGradientJob } from '@peftkit/engine';
import { PeftToolkit } from '@peftkit/nn';
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import {
  interruptAndResume,
  recordBatches,
  runTinySearch,
  tinyBackbone,
  tinyTask,
  tinyWorkbench,
  toModuleTypes,
} from '@peftkit/testing';
import {
  OneSizeSpace,
  S3PET_L_ENTRIES,
  S3PET_M_ENTRIES,
  type S3DeltaOptions,
  S3DeltaStrategy,
  concreteBackward,
  concreteGates,
  solveShift,
} from '../src/index.js';

const types = toModuleTypes(builtinModuleTypes);
const backbone = tinyBackbone({ hidden: 8 });
const toolkit = new PeftToolkit(backbone, tinyTask().info, types);
const spaceM = new OneSizeSpace('s3pet-m', S3PET_M_ENTRIES).build(backbone.info, types);
const spaceL = new OneSizeSpace('s3pet-l', S3PET_L_ENTRIES).build(backbone.info, types);

function spaceSize(space: SpaceDefinition): number {
  return space.candidates.reduce(
    (a, c) =>
      a + toolkit.count(c.type, c.point, c.ranks ? c.ranks[0]! : null, c.options as Record<string, unknown>),
    0,
  );
}

function options(budget: Budget, opts: S3DeltaOptions, space: SpaceDefinition = spaceM) {
  return {
    strategy: new S3DeltaStrategy(opts),
    types,
    budget,
    space,
    recipes: { search: { weightDecay: 0 }, retrain: { weightDecay: 0 } },
  };
}

const search = (budget: Budget, opts: S3DeltaOptions, space?: SpaceDefinition) =>
  runTinySearch(options(budget, opts, space));

describe('S3Delta strategy (tiny fixture)', function () {
  this.timeout(60_000);

  it('searches S3PET-M second order: 4 architecture + 1 weight gradient jobs per step, within the budget', async () => {
    const space = spaceM;
    expect(new Set(space.candidates.map((c) => c.type))).to.deep.equal(
      new Set(['lora', 'bitfit', 'lnfit', 'lowrank-adapter']),
    );
    expect(space.candidates.length).to.equal(2 * (6 + 8 + 2 + 2));
    const total = spaceSize(space);
    const budget = resolveBudget({ params: Math.floor(total * 0.3) }, 1e6);
    const batches: Job[][] = [];
    const { result, events } = await runTinySearch({
      ...options(budget, {}),
      executor: recordBatches(batches),
    });
    const steps = events.filter((e) => e.type === 'step').length;
    expect(steps).to.equal(3 * 4); // 3 epochs of 32 / 8 weight batches
    const s = result.outcome.summary!;
    expect(s.steps).to.equal(steps);
    expect(s.jobs).to.deep.equal({
      virtual: steps,
      validation: steps,
      hessian: 2 * steps,
      weight: steps,
      evaluate: 3,
    });
    expect(s.gradientJobs).to.equal(5 * steps);
    expect(s.gradientJobsPerArchitectureStep).to.equal(4);

    // The executor saw, per step: [virtual], [validation], [w+, w−], [weight]; and an evaluation per epoch.
    const grads = batches.filter((b) => b[0]!.kind === 'gradient');
    expect(grads.length).to.equal(4 * steps);
    expect(grads.flat().length).to.equal(5 * steps);
    for (let k = 0; k < steps; k++) {
      const [virt, val, hess, weight] = grads.slice(4 * k, 4 * k + 4).map((b) => b as GradientJob[]);
      expect(virt!.map((j) => j.split)).to.deep.equal(['search.weight']);
      expect(val!.map((j) => j.split)).to.deep.equal(['search.arch']);
      expect(hess!.map((j) => j.split)).to.deep.equal(['search.weight', 'search.weight']);
      expect(hess!.every((j) => j.want.gates && !j.want.params)).to.equal(true);
      expect(weight!.map((j) => j.split)).to.deep.equal(['search.weight']);
      // One sample u for the four architecture passes; soft gates in (0, 1); detached copy 1.
      const z = Array.from(virt![0]!.gates!);
      for (const j of [val![0]!, hess![0]!, hess![1]!]) expect(Array.from(j.gates!)).to.deep.equal(z);
      expect(z.every((g) => g > 0 && g < 1)).to.equal(true);
      expect(Array.from(virt![0]!.gatesDetached!).every((g) => g === 1)).to.equal(true);
      // The weight pass draws a fresh sample from the updated logits.
      expect(Array.from(weight![0]!.gates!)).to.not.deep.equal(z);
      // Same training batch for the virtual step, the Hessian passes and the weight step.
      expect(hess![0]!.indices).to.deep.equal(virt![0]!.indices);
      expect(weight![0]!.indices).to.deep.equal(virt![0]!.indices);
      // The virtual pass runs at w, the validation pass at w' ≠ w, the Hessian passes at w ± εv.
      const name = 'head/weight';
      expect(Array.from(val![0]!.params[name]!)).to.not.deep.equal(Array.from(virt![0]!.params[name]!));
      const plus = hess![0]!.params[name]!;
      const minus = hess![1]!.params[name]!;
      const w = virt![0]!.params[name]!;
      for (let i = 0; i < w.length; i++) expect((plus[i]! + minus[i]!) / 2).to.be.closeTo(w[i]!, 1e-6);
    }

    // The derived architecture fits, and the final p keep the expected size at the budget.
    expect(result.final.trainableParams).to.be.at.most(budget.params);
    expect(result.final.trainableParams).to.be.greaterThan(0);
    const final = s.final as { params: number; p: number; logit: number; selected: boolean }[];
    const expected = final.reduce((a, m) => a + m.p * m.params, 0);
    expect(Math.abs(expected - budget.params) / budget.params).to.be.below(1e-6);
    expect(final.some((m) => m.logit !== 0)).to.equal(true);
    // Greedy by p: every selected module has p at least that of any unselected module that would have fit.
    const used = final.filter((m) => m.selected).reduce((a, m) => a + m.params, 0);
    const minSelected = Math.min(...final.filter((m) => m.selected).map((m) => m.p));
    for (const m of final.filter((x) => !x.selected && x.p > minSelected)) {
      expect(m.params).to.be.greaterThan(budget.params - used);
    }
    expect(result.final.metrics.test!.accuracy).to.be.a('number');
  });

  it('the logit gradient through a real program (gate gradients + chain rule) matches finite differences of its loss', async () => {
    const wb = await tinyWorkbench<Workbench>({ types });
    const space = spaceM;
    const rng = new Rng(9);
    const program = {
      modules: space.candidates.map((c) => ({
        type: c.type,
        point: c.point,
        rank: c.ranks ? c.ranks[0]! : null,
        options: c.options as Record<string, unknown>,
        gated: true,
      })),
    };
    // Random (non-zero) weights, so that every module's output depends on its gate.
    const params = wb.toolkit.init(program, rng);
    for (const t of Object.values(params))
      for (let i = 0; i < t.length; i++) t[i] = t[i]! + 0.3 * rng.normal();
    const sizes = space.candidates.map((c) =>
      wb.toolkit.count(c.type, c.point, c.ranks ? c.ranks[0]! : null, c.options as Record<string, unknown>),
    );
    const logits = space.candidates.map(() => rng.normal());
    const u = space.candidates.map(() => rng.nextOpen());
    const opts = { beta: 1, rescale: true };
    const shift = solveShift(logits, sizes, 0.3 * sizes.reduce((a, b) => a + b, 0));
    const ones = new Float32Array(logits.length).fill(1);
    const job = (z: ArrayLike<number>) =>
      runGradientJob(wb, {
        kind: 'gradient',
        program,
        params,
        gates: Float32Array.from(z),
        gatesDetached: ones,
        split: 'search.arch',
        indices: [0, 1, 2, 3, 4, 5, 6, 7],
        want: { gates: true },
      });
    const sample = concreteGates(logits, shift, u, opts);
    const r = await job(sample.z);
    const da = concreteBackward(sample, r.gateGrads!, opts);
    const order = Array.from(da.keys()).sort((i, j) => Math.abs(da[j]!) - Math.abs(da[i]!));
    const h = 0.05;
    for (const j of order.slice(0, 6)) {
      const loss = async (delta: number) => {
        const x = logits.slice();
        x[j] = x[j]! + delta;
        return (await job(concreteGates(x, shift, u, opts, sample.detachedSum).z)).loss;
      };
      const fd = ((await loss(h)) - (await loss(-h))) / (2 * h);
      expect(da[j], space.candidates[j]!.id).to.be.closeTo(fd, 0.01 * Math.abs(fd) + 1e-5);
    }
  });

  it('first order: 2 architecture + 1 weight gradient jobs per step, no Hessian passes', async () => {
    const budget = resolveBudget({ params: Math.floor(spaceSize(spaceM) * 0.2) }, 1e6);
    const batches: Job[][] = [];
    const { result } = await runTinySearch({
      ...options(budget, { firstOrder: true, selection: 'last' }),
      executor: recordBatches(batches),
    });
    const s = result.outcome.summary!;
    const steps = s.steps as number;
    expect(steps).to.equal(12);
    expect(s.jobs).to.deep.equal({
      virtual: steps,
      validation: steps,
      hessian: 0,
      weight: steps,
      evaluate: 0,
    });
    expect(s.gradientJobsPerArchitectureStep).to.equal(2);
    expect(batches.flat().length).to.equal(3 * steps);
    expect(batches.flat().every((j) => j.kind === 'gradient')).to.equal(true);
    expect(result.final.trainableParams).to.be.at.most(budget.params);
    expect(s.selection).to.deep.equal({ from: 'last', step: steps });
  });

  it('an interrupted and resumed search gives exactly the uninterrupted result', async () => {
    const budget = resolveBudget({ params: Math.floor(spaceSize(spaceM) * 0.25) }, 1e6);
    // The executor dies after 11 batches: in the middle of the third step (its Hessian passes).
    const { reference, resumed, checkpoint } = await interruptAndResume(() => options(budget, {}), 11);
    expect(checkpoint.asks).to.equal(11);
    expect(resumed.result.outcome.architecture).to.deep.equal(reference.result.outcome.architecture);
    expect(resumed.result.outcome.summary).to.deep.equal(reference.result.outcome.summary);
    expect(resumed.result.final.metrics).to.deep.equal(reference.result.final.metrics);
    expect(resumed.result.final.curve).to.deep.equal(reference.result.final.curve);
    const p1 = reference.result.final.params!;
    const p2 = resumed.result.final.params!;
    for (const k of Object.keys(p1)) expect(Array.from(p2[k]!)).to.deep.equal(Array.from(p1[k]!));
  });

  it('S3PET-L has rank-1 LoRA only and never exceeds random budgets', async () => {
    const space = spaceL;
    expect(
      space.candidates.every((c) => c.type === 'lora' && c.ranks!.length === 1 && c.ranks![0] === 1),
    ).to.equal(true);
    const total = spaceSize(space);
    for (const f of [0.1, 0.5, 0.95]) {
      const b = resolveBudget({ params: Math.floor(total * f) }, 1e6);
      const { result } = await search(b, { firstOrder: true, selection: 'last' }, space);
      expect(toolkit.countArchitecture(result.outcome.architecture)).to.be.at.most(b.params);
    }
  });

  it('rejects a budget below the smallest module, and spaces with several ranks, with clear errors', async () => {
    try {
      await search(resolveBudget({ params: 3 }, 1e6), {});
      expect.fail('should throw');
    } catch (e) {
      expect((e as Error).message).to.match(/below the smallest module of the search space \(bitfit@/);
    }
    const multi: SpaceDefinition = {
      name: 'multi',
      candidates: spaceM.candidates.map((c) => (c.type === 'lora' ? { ...c, ranks: [1, 2] } : c)),
    };
    try {
      await search(resolveBudget({ params: 500 }, 1e6), {}, multi);
      expect.fail('should throw');
    } catch (e) {
      expect((e as Error).message).to.match(/offers ranks \[1, 2\], but S3Delta only decides on\/off/);
    }
  });

  it('keeps every module, with a warning, when the budget covers the whole space', async () => {
    const { result, warnings } = await search(resolveBudget({ params: 10_000_000 }, 1e8), {});
    expect(warnings.join()).to.match(/covers the whole space/);
    expect(result.outcome.architecture.modules.length).to.equal(36);
    expect(result.outcome.summary!.steps).to.equal(0);
  });
});
