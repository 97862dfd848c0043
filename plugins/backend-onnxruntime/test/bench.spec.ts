/**
 * The train-step benchmark: the model it builds differentiates correctly (central differences of
 * the loss through the backend), and a quick run reports sane numbers. Performance targets are not
 * asserted here (docs/benchmarks.md has the measurements).
 */
import { expect } from 'chai';
import type { TensorData } from '@peftkit/graph';
import {
  type EncoderConfig,
  OnnxRuntimeBackend,
  buildProgram,
  makeFeeds,
  makeFrozenWeights,
  runTrainStepBench,
} from '../src/index.js';

describe('train-step benchmark', function () {
  this.timeout(60_000);

  it('builds a LoRA encoder whose gradients agree with central differences of its loss', async () => {
    const cfg: EncoderConfig = {
      layers: 2,
      hidden: 16,
      heads: 2,
      ffn: 32,
      vocab: 50,
      maxPositions: 8,
      norm: 'post',
      rank: 2,
      loraAlpha: 4,
      classes: 3,
    };
    for (const norm of ['post', 'pre'] as const) {
      const weights = makeFrozenWeights({ ...cfg, norm }, 5);
      const program = buildProgram({ ...cfg, norm }, weights, 'train');
      const feeds = makeFeeds(cfg, program, 3, 6, 9);
      // Larger LoRA B and head values than the bench's, so that every gradient is well above
      // float32 round-off of the loss.
      for (const p of program.params) {
        if (p.name.endsWith('lora_B') || p.name === 'head.weight') {
          const d = feeds[p.name]!.data as Float32Array;
          for (let i = 0; i < d.length; i++) d[i] = Math.sin(7 * i + p.name.length);
        }
      }
      const backend = await OnnxRuntimeBackend.create({ intraOpThreads: 1 });
      try {
        const run = await backend.compile(`fd-${norm}`, () => program.graph);
        const out = await run.run(feeds, program.outputs);
        const loss = async (name: string, i: number, delta: number) => {
          const data = (feeds[name]!.data as Float32Array).slice();
          data[i]! += delta;
          const r = await run.run({ ...feeds, [name]: { ...feeds[name]!, data } as TensorData }, ['loss']);
          return (r.loss!.data as Float32Array)[0]!;
        };
        const eps = 1e-2;
        let worst = 0;
        for (const name of [
          'layer.0.attn.q.lora_A',
          'layer.1.ffn.out.lora_A',
          'layer.0.ffn.in.lora_B',
          'head.bias',
        ]) {
          const grad = out[`grad:${name}`]!.data as Float32Array;
          const scale = Math.max(...Array.from(grad, Math.abs));
          expect(scale, `${name}: gradient is not zero`).to.be.greaterThan(1e-4);
          for (const i of new Set([0, grad.length >> 1, grad.length - 1])) {
            const numeric = ((await loss(name, i, eps)) - (await loss(name, i, -eps))) / (2 * eps);
            const err =
              Math.abs(numeric - grad[i]!) / Math.max(Math.abs(numeric), Math.abs(grad[i]!), 1e-2 * scale);
            worst = Math.max(worst, err);
          }
        }
        expect(worst, `${norm}-LN worst relative error`).to.be.lessThan(2e-2);
      } finally {
        await backend.dispose();
      }
    }
  });

  it('--quick reports positive, consistent numbers', async () => {
    const r = await runTrainStepBench({ quick: true, iterations: 2, warmup: 1 });
    expect(r.bench).to.equal('train-step');
    expect(r.machine.cores).to.be.greaterThan(0);
    expect(r.machine.cpuModel).to.be.a('string').and.not.equal('');
    expect(r.versions.onnxruntime).to.match(/^onnxruntime-node \d+\.\d+\.\d+$/);
    expect(r.model).to.include({ layers: 2, hidden: 128, rank: 8 });
    expect(r.model.frozenParams).to.be.greaterThan(r.model.trainableParams).and.greaterThan(0);
    for (const s of r.matmulReference.shapes) {
      expect(s.gflops, s.name).to.be.greaterThan(0);
      expect(s.bestGflops).to.be.at.least(s.gflops);
    }
    for (const p of [r.forward, r.train]) {
      expect(p.timesMs.length).to.be.within(1, r.rounds.length);
      expect(p.medianMs).to.be.greaterThan(0);
      expect(p.tokensPerSec).to.be.greaterThan(0);
      expect(p.gflop)
        .to.be.greaterThan(p.matmulGflop * 0.5)
        .and.greaterThan(0);
    }
    // The train step does the forward pass and about as much again backward.
    expect(r.train.gflop / r.forward.gflop).to.be.within(1.8, 2.5);
    expect(r.train.fetchBytes).to.be.greaterThan(r.forward.fetchBytes);
    expect(r.memory!.forward.peakMiB).to.be.greaterThan(r.memory!.forward.startMiB);
    expect(r.memory!.train.peakMiB).to.be.greaterThan(r.memory!.train.startMiB);
    expect(r.ratios.trainOverForwardPeakRss).to.equal(r.memory!.trainOverForward);
    expect(r.transferOverhead.every((t) => t.overheadMs > 0)).to.equal(true);
    expect(r.rounds.length).to.be.within(2, 6);
    for (const round of r.rounds) expect(round.matmulMs).to.have.length(3);
    expect(r.targets.map((t) => t.met === null || typeof t.met === 'boolean')).to.deep.equal([
      true,
      true,
      true,
    ]);
    expect(JSON.parse(JSON.stringify(r))).to.deep.equal(r);
  });
});
