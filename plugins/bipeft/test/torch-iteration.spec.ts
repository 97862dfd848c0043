/**
 * One BIPEFT iteration against an independent PyTorch implementation written from the method spec
 * (tools/python/bipeft_iteration.py): a tiny random BERT checkpoint in Hugging Face format, loaded
 * by peftkit's `hf` backbone and by transformers' BertModel; LoRA (ranks {1, 2, 4}), BitFit and
 * LNFit modules on it, one of them pruned and one rank-frozen; the same parameters, batches, hard
 * samples, estimator averages and scheduler history on both sides. peftkit runs its own programs,
 * optimiser step, `importanceSamples`, `BipeftSensitivity`, `Supernet.statuses` and
 * `BipeftBudgetScheduler.decide`; PyTorch computes everything with autograd and its own code. They
 * must agree on the losses, every module's raw and smoothed sensitivity (the cosine term included),
 * the trigger similarity, Δ, the pruning list, γ and the frozen modules.
 *
 * Not covered here: the architecture optimiser's step and the Gumbel sampling (both tested against
 * finite differences and hand values in supernet.spec.ts / relax.spec.ts), the last rounds and the
 * final round (budget-landing.spec.ts).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { Rng, type ParamSet, type ScheduleDecision } from '@peftkit/api';
import type { TensorData } from '@peftkit/graph';
import { PeftToolkit, batchFeeds, buildProgram, encodeExamples, paramFeeds } from '@peftkit/nn';
import { loadHfBackbone } from '@peftkit/plugin-hf';
import { bitfit, lnfit, lora } from '@peftkit/plugin-peft-modules';
import { runGraph, tinyRecipe, tinyTask, toModuleTypes } from '@peftkit/testing';
import { clipGradNorm, createOptimizer } from '@peftkit/train';
import {
  BipeftBudgetScheduler,
  BipeftSensitivity,
  PatternSpace,
  Supernet,
  type ArchSample,
  importanceSamples,
} from '../src/index.js';
import { REPO_ROOT, pythonForTests } from './python.js';

const f32 = (data: Float32Array): TensorData => ({ dtype: 'float32', shape: [data.length], data });
const SENTENCES = [
  'the river rose slowly after three days of rain',
  'farmers moved their sheep to higher fields',
  'by thursday the sun returned and the roads dried',
  'a good bread needs flour water salt and time',
  'she was not sure the train would leave on time',
  'reading carefully is better',
  'the market opened again',
  'people talked about the storm for weeks',
];

interface Reference {
  lossArch: number;
  lossWeight: number;
  raw: Record<string, number>;
  importance: Record<string, number>;
  similarity: number | null;
  fired: boolean;
  delta: number;
  prune: string[];
  gamma: number;
  freeze: string[];
}

describe('one BIPEFT iteration equals an independent PyTorch implementation', function () {
  this.timeout(120_000);

  it('losses, sensitivities (cosine term), trigger similarity, pruning list and rank freezing', async function () {
    const python = pythonForTests(this);
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'peftkit-torch-iteration-'));
    try {
      const tool = (await import(`${REPO_ROOT}tools/make-hf-checkpoint.mjs`)) as {
        makeHfCheckpoint(o: object): unknown;
      };
      tool.makeHfCheckpoint({
        type: 'bert',
        out: dir,
        layers: 2,
        hidden: 16,
        heads: 2,
        intermediate: 32,
        seed: 3,
      });
      const backbone = await loadHfBackbone({ path: dir, pooling: 'cls', dropout: 0 });
      const types = toModuleTypes([lora, bitfit, lnfit]);
      const task = tinyTask().info;
      const toolkit = new PeftToolkit(backbone, task, types);
      const candidates = new PatternSpace(
        'toy',
        [
          { type: 'lora', targets: ['layer.*.attn.{q,v}', 'layer.*.ffn.in'] },
          { type: 'bitfit', targets: ['layer.*.attn.q', 'layer.*.ln_ffn'] },
          { type: 'lnfit', targets: ['layer.*.ln_attn'] },
        ],
        { ranks: [1, 2, 4] },
      ).build(backbone.info, types).candidates;
      const rng = new Rng(11);
      const net = Supernet.init(candidates, toolkit, 'disentangled', rng);
      // Non-zero everywhere (LoRA B, BitFit and LNFit start at zero), and logits that differ.
      for (const [k, v] of Object.entries(net.s.params))
        net.s.params[k] = Float32Array.from(v, (x) => x + 0.2 * rng.normal());
      for (const c of candidates) {
        net.s.beta[c.id] = [rng.normal() * 0.5, rng.normal() * 0.5];
        if (c.ranks) net.s.alpha[c.id] = c.ranks.map(() => rng.normal() * 0.5);
      }
      const pruned = 'bitfit@layer.1.ln_ffn';
      const frozen = 'lora@layer.0.attn.v';
      net.s.kept[pruned] = false;
      net.s.frozen[frozen] = 1;
      const paramsBefore: ParamSet = Object.fromEntries(
        Object.entries(net.s.params).map(([k, v]) => [k, Float32Array.from(v)]),
      );

      const built = buildProgram({ backbone, task, types }, net.program(), 'train');
      const examples = SENTENCES.map((text, i) => ({ text, label: i % 2 }));
      const encoded = encodeExamples(backbone.tokenizer, examples, built.layout.pairInputs, 32);
      const archBatch = [0, 2, 4, 6];
      const weightBatch = [1, 3, 5, 7];
      // Binary-stage samples: hard gates (pruned: 0), ranks at argmax α (or frozen).
      const sample = (): ArchSample => {
        const s = net.sample('binary', 1, rng, true, false, false);
        return s;
      };
      const archSample = sample();
      const weightSample = sample();
      const run = async (indices: number[], s: ArchSample, params: ParamSet) => {
        const feeds = {
          ...batchFeeds(encoded, indices, built.layout, backbone.tokenizer.padId, true),
          ...paramFeeds(built.layout, params),
          gates: f32(s.gates),
          gates_detached: f32(s.gates),
          rank_masks: f32(s.masks),
          rank_masks_detached: f32(s.masks),
        };
        const names = built.layout.params.map((p) => p.name);
        const out = await runGraph(built.graph, feeds, ['loss', ...names.map((n) => `grad:${n}`)]);
        const grads: ParamSet = {};
        for (const n of names) grads[n] = Float32Array.from(out[`grad:${n}`]!.data as Float32Array);
        return { loss: out.loss!.data[0] as number, grads, feeds };
      };
      const arch = await run(archBatch, archSample, net.s.params);
      const weight = await run(weightBatch, weightSample, net.s.params);

      // The weight step as the strategy takes it: clip, one AdamW step.
      const recipe = tinyRecipe({ optimizer: 'adamw', lr: 0.05, weightDecay: 0.01, clipNorm: 0.5 });
      const grads = { ...weight.grads };
      clipGradNorm(grads, recipe.clipNorm!);
      createOptimizer(recipe).step(net.s.params, grads, recipe.lr);

      // Sensitivity with earlier averages.
      const prior: [string, number, number][] = candidates.map((c, i) => [c.id, 0.01 * (i + 1), 0.001 * i]);
      const estimator = new BipeftSensitivity();
      estimator.restore({ entries: prior });
      estimator.observe(9, importanceSamples(net, weight.grads, arch.grads));
      const scores = estimator.scores();

      // The scheduler with a history: 3 rounds left, H with one earlier entry, earlier selections.
      const statuses = net.statuses(scores);
      const derivedTotal = statuses.filter((m) => !m.pruned).reduce((a, m) => a + m.derivedSize!, 0);
      const budget = Math.floor(0.35 * derivedTotal);
      const ids = candidates.map((c) => c.id);
      const selections = [0, 1, 2, 3].map((k) => ids.map((_, j) => ((j + k) % 3 === 0 ? 0 : 1)));
      const history: Record<string, number[][]> = {};
      for (const c of candidates)
        if (c.ranks && net.s.frozen[c.id] === undefined)
          history[c.id] = [net.s.alpha[c.id]!.map((a) => a + 0.1 * rng.normal())];
      const schedulerState = {
        remaining: 3,
        round: 7,
        selections,
        history,
        frozenIndex: { [frozen]: 1 },
        pruned: true,
      };
      const scheduler = new BipeftBudgetScheduler({ rounds: 10, window: 3, threshold: 0, lastRounds: 0 });
      scheduler.restore(structuredClone(schedulerState));
      const d: ScheduleDecision = scheduler.decide({ step: 9, epoch: 1, budget, modules: statuses });
      expect(d.event?.round, 'the round fires').to.equal(8);

      const batchOf = (feeds: Record<string, TensorData>) => {
        const [B, T] = feeds.input_ids!.shape as [number, number];
        const rows = (t: TensorData) =>
          Array.from({ length: B }, (_, b) =>
            Array.from(t.data as ArrayLike<number | bigint>, Number).slice(b * T, (b + 1) * T),
          );
        return {
          ids: rows(feeds.input_ids!),
          mask: rows(feeds.attention_mask!),
          typeIds: feeds.token_type_ids
            ? rows(feeds.token_type_ids)
            : rows({ ...feeds.input_ids!, data: new Int32Array(B * T) }),
          labels: Array.from(feeds.labels!.data as ArrayLike<number | bigint>, Number),
        };
      };
      const samplesOf = (s: ArchSample) => ({
        gates: Object.fromEntries(built.layout.gated.map((id, i) => [id, s.gates[i]!])),
        masks: Object.fromEntries(
          built.layout.rankMasked.map((m) => [
            m.id,
            Array.from(s.masks.subarray(m.offset, m.offset + m.length)),
          ]),
        ),
      });
      const input = {
        checkpoint: dir,
        modules: candidates.map((c) => ({
          id: c.id,
          type: c.type,
          point: c.point,
          ranks: c.ranks,
          kept: net.s.kept[c.id],
          frozen: net.s.frozen[c.id] ?? null,
        })),
        params: Object.fromEntries(
          Object.entries(paramsBefore).map(([k, v]) => [
            k,
            reshape(v, built.layout.params.find((p) => p.name === k)!.shape),
          ]),
        ),
        archBatch: batchOf(arch.feeds),
        weightBatch: batchOf(weight.feeds),
        archSample: samplesOf(archSample),
        weightSample: samplesOf(weightSample),
        optimizer: {
          lr: recipe.lr,
          betas: recipe.betas,
          eps: recipe.eps,
          weightDecay: recipe.weightDecay,
          clipNorm: recipe.clipNorm,
        },
        sensitivity: Object.fromEntries(prior.map(([id, m, u]) => [id, [m, u]])),
        beta: net.s.beta,
        alpha: net.s.alpha,
        scheduler: { ...schedulerState, budget, window: 3, threshold: 0, prunedBefore: true },
      };
      const ref = JSON.parse(
        execFileSync(python, [`${REPO_ROOT}tools/python/bipeft_iteration.py`], {
          input: JSON.stringify(input),
          encoding: 'utf8',
          maxBuffer: 64 << 20,
          stdio: ['pipe', 'pipe', 'pipe'],
          env: { ...process.env, TRANSFORMERS_VERBOSITY: 'error', HF_HUB_OFFLINE: '1' },
        }),
      ) as Reference;

      const close = (a: number, b: number, what: string, rel = 2e-3) =>
        expect(Math.abs(a - b), `${what}: peftkit ${a}, torch ${b}`).to.be.at.most(
          rel * Math.max(Math.abs(b), 1e-6),
        );
      close(arch.loss, ref.lossArch, 'architecture-batch loss', 1e-4);
      close(weight.loss, ref.lossWeight, 'weight-batch loss', 1e-4);
      expect(Object.keys(ref.raw).sort()).to.deep.equal(
        net
          .alive()
          .map((c) => c.id)
          .sort(),
      );
      for (const c of net.alive())
        close(estimator.lastRaw.get(c.id)!, ref.raw[c.id]!, `raw sensitivity of ${c.id}`);
      for (const c of candidates)
        close(scores.get(c.id)!, ref.importance[c.id]!, `smoothed sensitivity of ${c.id}`);
      expect(d.event!.similarity as number).to.be.closeTo(ref.similarity!, 1e-12);
      expect(ref.fired).to.equal(true);
      close(d.event!.delta as number, ref.delta, 'Δ', 1e-4);
      expect(d.prune, 'pruned modules').to.deep.equal(ref.prune);
      expect(d.prune.length, 'the round prunes something').to.be.greaterThan(0);
      expect(d.event!.gamma as number).to.be.closeTo(ref.gamma, 1e-12);
      expect(d.freeze, 'frozen modules').to.deep.equal(ref.freeze);
      expect(d.freeze.length, 'the round freezes something').to.be.greaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A flat tensor as nested lists of its shape (PyTorch builds its tensors from them). */
function reshape(v: Float32Array, shape: readonly number[]): unknown {
  if (shape.length <= 1) return Array.from(v);
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0]! }, (_, i) =>
    reshape(v.subarray(i * inner, (i + 1) * inner), shape.slice(1)),
  );
}
