/**
 * Conformance suite for importance estimators (extension point `importance-estimator`).
 *
 *   import { describeImportanceEstimator } from '@peftkit/testing';
 *   describeImportanceEstimator('grad-norm', () => new GradNormEstimator({ beta: 0.85 }));
 *
 * It feeds the estimator synthetic iterations of six modules of different sizes (seeded parameters,
 * weight-batch and architecture-batch gradients of different strengths) and checks the documented
 * contract of ImportanceEstimator:
 * - every observed module has a finite score, and modules observed later are added;
 * - a module that stops being observed (a pruned one) keeps a score, updated as if its raw score
 *   were 0, so it decays: after `decaySteps` iterations its magnitude is at most half of what it was;
 * - samples are read, not kept or modified (the arrays are views the strategy reuses);
 * - samples without architecture gradients (or without any gradients) are accepted;
 * - the same samples give the same scores (determinism);
 * - state() is plain data, and a fresh estimator restored from a structuredClone of it continues
 *   exactly like the original.
 */
import type { ImportanceEstimator, ImportanceSample } from '@peftkit/api';
import { expect } from 'chai';
import { type Factory, SUITE_TIMEOUT_MS, plainDataProblem, seededNormals } from './common.js';
import { mocha } from './mocha.js';

export interface ImportanceEstimatorSuiteOptions {
  /** Iterations without a module after which its score must have at least halved (default 60). */
  decaySteps?: number;
  /** Per-test time limit in ms (default 60 s; the suite takes well under a second). */
  timeout?: number;
}

/** The synthetic modules: id, tensor shapes, and how strong their gradients are. */
const MODULES: readonly { id: string; shapes: number[]; strength: number }[] = [
  { id: 'lora@layer.0.attn.q', shapes: [32, 32], strength: 1.5 },
  { id: 'lora@layer.1.ffn.in', shapes: [64, 96], strength: 0.4 },
  { id: 'bitfit@layer.0.ln_attn', shapes: [16], strength: 1 },
  { id: 'lnfit@layer.1.ln_ffn', shapes: [16], strength: 0.1 },
  { id: 'adapter@layer.0.ffn.sublayer', shapes: [48, 4, 48, 16], strength: 2 },
  { id: 'prefix@layer.1.attn.scores', shapes: [64, 64, 1], strength: 0.7 },
];

/** One iteration's samples: seeded by step and module, so that every run sees the same data. */
export function syntheticImportanceSamples(
  step: number,
  opts: { skip?: readonly string[]; weightGrads?: boolean; archGrads?: boolean } = {},
): ImportanceSample[] {
  const out: ImportanceSample[] = [];
  MODULES.forEach((m, j) => {
    if (opts.skip?.includes(m.id)) return;
    const seed = step * 1009 + j * 7919;
    const params = m.shapes.map((n, k) => seededNormals(n, seed + k, 0.5));
    const grad = (salt: number) =>
      m.shapes.map((n, k) => seededNormals(n, seed + salt + k * 31, 0.01 * m.strength * (1 + (step % 3))));
    out.push({
      id: m.id,
      size: m.shapes.reduce((a, b) => a + b, 0),
      params,
      ...(opts.weightGrads === false ? {} : { weightGrads: grad(101) }),
      ...(opts.archGrads === false ? {} : { archGrads: grad(211) }),
    });
  });
  return out;
}

function snapshot(samples: readonly ImportanceSample[]): Float32Array[] {
  return samples.flatMap((s) =>
    [...s.params, ...(s.weightGrads ?? []), ...(s.archGrads ?? [])].map((a) => a.slice()),
  );
}

function scoresOf(e: ImportanceEstimator): Map<string, number> {
  return new Map(e.scores());
}

function expectFiniteScores(scores: ReadonlyMap<string, number>, ids: readonly string[], when: string): void {
  for (const id of ids) {
    expect(scores.has(id), `${when}: no score for ${id} (scores() must cover every module seen)`).to.equal(
      true,
    );
    const v = scores.get(id)!;
    expect(Number.isFinite(v), `${when}: score of ${id} is ${v}`).to.equal(true);
  }
}

export function describeImportanceEstimator(
  name: string,
  factory: Factory<ImportanceEstimator>,
  opts: ImportanceEstimatorSuiteOptions = {},
): void {
  const { describe, it } = mocha('describeImportanceEstimator');
  const decaySteps = opts.decaySteps ?? 60;
  const ids = MODULES.map((m) => m.id);

  describe(`importance estimator ${name} (conformance)`, function () {
    this.timeout(opts.timeout ?? SUITE_TIMEOUT_MS);

    it('scores every observed module with a finite number, including modules that appear later', async () => {
      const e = await factory();
      const late = ids[ids.length - 1]!;
      for (let t = 1; t <= 5; t++) e.observe(t, syntheticImportanceSamples(t, { skip: [late] }));
      expectFiniteScores(e.scores(), ids.slice(0, -1), 'after 5 iterations');
      for (let t = 6; t <= 8; t++) e.observe(t, syntheticImportanceSamples(t));
      expectFiniteScores(e.scores(), ids, `after ${late} appeared`);
    });

    it(`lets a module that is no longer observed (pruned) decay: at most half its score after ${decaySteps} iterations`, async () => {
      const e = await factory();
      for (let t = 1; t <= 10; t++) e.observe(t, syntheticImportanceSamples(t));
      for (const pruned of [ids[0]!, ids[4]!]) {
        const before = Math.abs(scoresOf(e).get(pruned)!);
        expect(
          before,
          `${pruned} should have a non-zero score after 10 observed iterations`,
        ).to.be.greaterThan(0);
      }
      const start = scoresOf(e);
      for (let t = 11; t <= 10 + decaySteps; t++)
        e.observe(t, syntheticImportanceSamples(t, { skip: [ids[0]!, ids[4]!] }));
      const end = scoresOf(e);
      expectFiniteScores(end, ids, 'after pruning');
      for (const pruned of [ids[0]!, ids[4]!]) {
        const a = Math.abs(start.get(pruned)!);
        const b = Math.abs(end.get(pruned)!);
        expect(
          b,
          `score of ${pruned}, absent for ${decaySteps} iterations, went from ${a} to ${b}; an absent module is updated as if its raw score were 0`,
        ).to.be.at.most(a / 2);
      }
    });

    it('reads the samples without keeping or modifying them', async () => {
      const e = await factory();
      for (let t = 1; t <= 4; t++) {
        const samples = syntheticImportanceSamples(t);
        const copy = snapshot(samples);
        e.observe(t, samples);
        const after = snapshot(samples);
        copy.forEach((a, i) => {
          expect(
            Buffer.compare(Buffer.from(a.buffer), Buffer.from(after[i]!.buffer)),
            `observe(${t}) modified a sample array`,
          ).to.equal(0);
        });
        // The strategy reuses these arrays: overwriting them must not change what was observed.
        const scores = scoresOf(e);
        for (const s of samples)
          for (const a of [...s.params, ...(s.weightGrads ?? []), ...(s.archGrads ?? [])]) a.fill(1e6);
        expect(
          scoresOf(e),
          `scores changed when sample arrays were overwritten after observe(${t}): the estimator kept references`,
        ).to.deep.equal(scores);
      }
    });

    it('accepts samples without architecture gradients, or without any gradients', async () => {
      const e = await factory();
      for (let t = 1; t <= 3; t++) e.observe(t, syntheticImportanceSamples(t, { archGrads: false }));
      expectFiniteScores(e.scores(), ids, 'weight gradients only');
      for (let t = 4; t <= 6; t++)
        e.observe(t, syntheticImportanceSamples(t, { archGrads: false, weightGrads: false }));
      expectFiniteScores(e.scores(), ids, 'no gradients');
    });

    it('is deterministic: the same samples give the same scores', async () => {
      const a = await factory();
      const b = await factory();
      for (let t = 1; t <= 8; t++) {
        a.observe(t, syntheticImportanceSamples(t, { skip: t > 5 ? [ids[2]!] : [] }));
        b.observe(t, syntheticImportanceSamples(t, { skip: t > 5 ? [ids[2]!] : [] }));
        expect(scoresOf(b), `scores after iteration ${t}`).to.deep.equal(scoresOf(a));
      }
    });

    it('state() is plain data, and an estimator restored from a structuredClone of it continues identically', async () => {
      const original = await factory();
      for (let t = 1; t <= 6; t++) original.observe(t, syntheticImportanceSamples(t));
      const state = original.state();
      const problem = plainDataProblem(state, 'state');
      expect(problem, `state() must be plain data for checkpoints: ${problem}`).to.equal(null);
      const restored = await factory();
      restored.restore(structuredClone(state));
      expect(scoresOf(restored), 'scores right after restore').to.deep.equal(scoresOf(original));
      for (let t = 7; t <= 14; t++) {
        const skip = t > 9 ? [ids[1]!] : [];
        original.observe(t, syntheticImportanceSamples(t, { skip }));
        restored.observe(t, syntheticImportanceSamples(t, { skip }));
        expect(scoresOf(restored), `scores after iteration ${t} (restored vs original)`).to.deep.equal(
          scoresOf(original),
        );
      }
    });
  });
}
