/**
 * Conformance suite for reporters (extension point `reporter`).
 *
 *   import { describeReporter } from '@peftkit/testing';
 *   describeReporter('tty', () => new TtyReporter(sink, { verbose: true, refreshMs: 0 }));
 *
 * A reporter must not throw: the engine shares each event with the journal and every reporter, and
 * a run must not fail because of its display. The suite sends a run's worth of events of every type
 * the engine and the built-in strategies emit (and some no one emits yet), deep-frozen so that a
 * reporter that modifies an event fails, then awkward ones (missing fields, progress with total 0
 * or done > total, NaN and infinite numbers, long and non-ASCII strings, nested values), and
 * checks that `onEvent` never throws and that `close` (when present) completes, once, after which
 * the reporter has nothing left to do.
 */
import type { Reporter, RunEvent } from '@peftkit/api';
import { expect } from 'chai';
import { type Factory, SUITE_TIMEOUT_MS, deepFreeze } from './common.js';
import { mocha } from './mocha.js';

export interface ReporterSuiteOptions {
  /** Further events to send (a plugin's own event types). */
  events?: readonly RunEvent[];
  /** Per-test time limit in ms (default 60 s). */
  timeout?: number;
}

/** A run's events, in the order a search run emits them, with the fields the engine writes. */
export function sampleRunEvents(): RunEvent[] {
  const arch = { modules: [{ type: 'lora', point: 'layer.0.attn.q', rank: 4 }] };
  const metrics = { accuracy: 0.75, f1: 0.7, loss: 0.52 };
  const events: RunEvent[] = [
    { type: 'run-start', command: 'search', run: 'demo-s42', seed: 42, preset: 'quickstart' },
    {
      type: 'setup',
      backbone: 'tiny',
      backboneParams: 1456,
      task: 'tiny',
      splits: { train: 32, validation: 16, test: 16, 'search.weight': 16, 'search.arch': 16 },
      budget: { params: 200, ratio: 0.14 },
      candidates: 12,
      backend: {
        name: 'onnxruntime',
        runtime: 'onnxruntime-node 1.30.0',
        provider: 'cpu',
        available: ['cpu'],
        threads: 2,
      },
    },
    { type: 'phase', phase: 'search' },
    { type: 'search-start', phase: 'search', candidates: 12, supernetParams: 1200, budget: 200, epochs: 2 },
  ];
  for (let step = 1; step <= 8; step++) {
    events.push({
      type: 'progress',
      phase: 'search',
      done: step,
      total: 8,
      status: `loss ${(1 / step).toFixed(3)}`,
    });
    events.push({
      type: 'step',
      phase: 'search',
      step,
      epoch: Math.floor(step / 4),
      lossWeight: 0.6,
      lossArch: 0.7,
      expected: 400 - 20 * step,
      budget: 200,
      kept: 12 - (step >> 1),
    });
  }
  events.push(
    {
      type: 'round',
      phase: 'search',
      step: 4,
      round: 1,
      pruned: ['lora@layer.1.ffn.in'],
      frozen: [{ id: 'lora@layer.0.attn.q', rank: 4 }],
      expectedBefore: 320,
      expectedAfter: 280,
      similarity: 0.9,
    },
    { type: 'prune', phase: 'search', step: 4, module: 'lora@layer.1.ffn.in' },
    { type: 'freeze', phase: 'search', step: 4, module: 'lora@layer.0.attn.q', rank: 4 },
    { type: 'fold', phase: 'search', step: 5, modules: 10, folded: ['lora@layer.1.ffn.in'] },
    { type: 'search-eval', phase: 'search', epoch: 1, step: 4, validation: metrics, kept: 10 },
    { type: 'trial', phase: 'search', index: 0, architecture: arch, params: 96, score: 0.7 },
    { type: 'stage', phase: 'search', stage: 'dimension' },
    {
      type: 'budget-repair',
      phase: 'search',
      removed: ['bitfit@layer.0.ln_attn'],
      trainableParams: 190,
      budget: 200,
    },
    { type: 'search-end', phase: 'search', architecture: arch, trainableParams: 96, seconds: 3.2 },
    { type: 'phase', phase: 'retrain' },
  );
  for (let epoch = 1; epoch <= 2; epoch++) {
    events.push({
      type: 'progress',
      phase: 'retrain',
      job: 'retrain',
      done: epoch * 4,
      total: 8,
      status: `epoch ${epoch}/2`,
    });
    events.push({
      type: 'epoch',
      phase: 'retrain',
      job: 'retrain',
      epoch,
      step: epoch * 4,
      trainLoss: 0.5,
      validation: metrics,
    });
  }
  events.push(
    { type: 'resume', fromCheckpointSeq: 3, run: 'demo-s42' },
    { type: 'warning', message: 'the architecture has 210 trainable parameters, over the budget of 200' },
    {
      type: 'run-end',
      run: 'demo-s42',
      trainableParams: 96,
      validation: metrics,
      test: metrics,
      seconds: 5.1,
    },
  );
  return events.map((e, i) => ({ t: 100 * i, ...e }));
}

/** Events with missing, extreme or unusual fields. */
export function awkwardRunEvents(): RunEvent[] {
  return [
    { type: 'progress', done: 0, total: 0 },
    { type: 'progress', phase: 'search', done: 12, total: 5 },
    { type: 'progress', phase: 'evaluate', done: -1, total: Number.NaN, status: '' },
    { type: 'step' },
    {
      type: 'epoch',
      phase: 'retrain',
      epoch: 1,
      trainLoss: Number.POSITIVE_INFINITY,
      validation: { accuracy: Number.NaN },
    },
    { type: 'round', pruned: [], frozen: [], similarity: null },
    { type: 'run-end', validation: {}, test: {} },
    {
      type: 'x-plugin-event',
      t: 5,
      nested: { deep: [1, [2, { three: 3 }]] },
      text: 'ünïcödé ✓ 日本語 '.repeat(40),
    },
    { type: '', t: -5 },
    { type: 'search-end', architecture: { modules: [] }, trainableParams: 0 },
  ];
}

export function describeReporter(
  name: string,
  factory: Factory<Reporter>,
  opts: ReporterSuiteOptions = {},
): void {
  const { describe, it } = mocha('describeReporter');
  const send = (r: Reporter, events: readonly RunEvent[], what: string) => {
    for (const e of events) {
      try {
        r.onEvent(deepFreeze(structuredClone(e)));
      } catch (err) {
        expect.fail(
          `onEvent threw on ${what} event ${JSON.stringify(e).slice(0, 200)}: ${(err as Error).message} ` +
            '(reporters must not throw, nor modify the events they are given)',
        );
      }
    }
  };

  describe(`reporter ${name} (conformance)`, function () {
    this.timeout(opts.timeout ?? SUITE_TIMEOUT_MS);

    it('accepts every event type of a run without throwing or modifying the events', async () => {
      const r = await factory();
      expect(typeof r.onEvent, 'onEvent').to.equal('function');
      send(r, [...sampleRunEvents(), ...(opts.events ?? [])], 'a');
      await r.close?.();
    });

    it('accepts events with missing, extreme or unknown fields', async () => {
      const r = await factory();
      send(r, awkwardRunEvents(), 'an awkward');
      await r.close?.();
    });

    it('closes once the run has ended, also when nothing was reported', async () => {
      const idle = await factory();
      await idle.close?.();
      const r = await factory();
      send(r, sampleRunEvents().slice(0, 6), 'a');
      const closed = r.close?.();
      expect(
        closed === undefined || typeof (closed as Promise<void>).then === 'function',
        'close returns nothing or a promise',
      ).to.equal(true);
      await closed;
    });
  });
}
