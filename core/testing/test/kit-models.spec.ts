/**
 * The conformance suites that build and run models (PEFT module types, backbones, training
 * backends) accept the kit's own fixtures and correct toys, and reject broken variants with a
 * message that names the problem.
 */
import { expect } from 'chai';
import type { Backbone, TrainingBackend } from '@peftkit/api';
import { ops } from '@peftkit/graph';
import {
  InProcessBackend,
  describeBackbone,
  describePeftModuleType,
  describeTrainingBackend,
  tinyBackbone,
} from '../src/index.js';
import { failure, runIsolated } from './isolated.js';
import { type LoraFlaw, toyBias, toyLora } from './toys.js';

describe('conformance kit: PEFT module types', function () {
  this.timeout(60_000);

  it('accepts a correct ranked type (with merge) and a correct unranked one', async () => {
    const r1 = await runIsolated(() => describePeftModuleType('toy-lora', () => toyLora()));
    expect([...r1.failed]).to.deep.equal([]);
    expect(r1.passed).to.have.length(9);
    const r2 = await runIsolated(() => describePeftModuleType('toy-bias', () => toyBias));
    expect([...r2.failed]).to.deep.equal([]);
  });

  const cases: [LoraFlaw, string, RegExp][] = [
    [
      'wrong-shape',
      "site's shape",
      /apply at layer\.\d\.ffn\.(in|out) \(linear site\): returned \[B, T, \d+\], the site's value is \[B, T, \d+\]/,
    ],
    ['ignores-gate', 'gated off', /gate 0: logits differ from the frozen model/],
    ['detached-gate', 'finite differences', /no gate carries a gradient/],
    ['bad-merge', 'merges', /merged model vs model with modules/],
    ['bad-init', 'initialises', /B size/],
    [
      'rank-scaled',
      'leading slices',
      /a rank mask keeping r of \d+ components differs from the rank-r module/,
    ],
  ];
  for (const [flaw, test, message] of cases) {
    it(`rejects a type with the flaw "${flaw}"`, async () => {
      const r = await runIsolated(() => describePeftModuleType(flaw, () => toyLora(flaw)));
      expect(failure(r, test)).to.match(message);
    });
  }
});

/** The tiny backbone with one of its points hidden from info.points, or a pooling that sees padding. */
function brokenBackbone(flaw: 'unlisted-point' | 'padding' | 'pretrained-shape'): Backbone {
  const b = tinyBackbone({ hidden: 8 });
  if (flaw === 'unlisted-point')
    return { ...b, info: { ...b.info, points: b.info.points.filter((p) => p.name !== 'layer.1.ln_ffn') } };
  if (flaw === 'pretrained-shape') {
    return {
      ...b,
      pretrained: (point) => {
        const w = b.pretrained(point);
        return point === 'layer.0.attn.q' && w.weight
          ? { ...w, weight: { ...w.weight, shape: [...w.weight.shape].reverse().concat([1]) } }
          : w;
      },
    };
  }
  return {
    ...b,
    encode(g, inputs, hooks, opts) {
      // Scales by the fraction of real tokens in the padded row: padding changes the output.
      return ops.mul(b.encode(g, inputs, hooks, opts), ops.add(ops.reduceMean(inputs.mask, [1], true), 1));
    },
  };
}

describe('conformance kit: backbones', function () {
  this.timeout(60_000);

  it('accepts the tiny fixture backbone', async () => {
    const r = await runIsolated(() => describeBackbone('tiny', () => tinyBackbone({ hidden: 8 })));
    expect([...r.failed]).to.deep.equal([]);
    expect(r.passed).to.have.length(6);
  });

  it('rejects a backbone that hooks a point it does not list', async () => {
    const r = await runIsolated(() => describeBackbone('x', () => brokenBackbone('unlisted-point')));
    expect(failure(r, 'exactly once')).to.match(
      /(weight|layerNorm) hook called for unlisted point layer\.1\.ln_ffn/,
    );
  });

  it('rejects a backbone whose pooled output depends on padding', async () => {
    const r = await runIsolated(() => describeBackbone('x', () => brokenBackbone('padding')));
    expect(failure(r, 'padded in a batch')).to.match(/alone vs padded in a batch differs/);
  });

  it('rejects a backbone whose pretrained weights do not match its points', async () => {
    const r = await runIsolated(() => describeBackbone('x', () => brokenBackbone('pretrained-shape')));
    expect(failure(r, 'pretrained weights')).to.match(/pretrained\(layer\.0\.attn\.q\)\.weight shape/);
  });
});

/** InProcessBackend with a flaw: no caching by key, or all outputs whatever was fetched. */
function brokenBackend(flaw: 'no-cache' | 'all-outputs'): TrainingBackend {
  const inner = new InProcessBackend();
  let n = 0;
  return {
    describe: () => inner.describe(),
    release: (k) => inner.release(k),
    dispose: () => inner.dispose(),
    async compile(key, build) {
      const p = await inner.compile(flaw === 'no-cache' ? `${key}#${++n}` : key, build);
      if (flaw !== 'all-outputs') return p;
      return { ...p, run: (feeds) => p.run(feeds, p.outputs) };
    },
  };
}

describe('conformance kit: training backends', function () {
  this.timeout(60_000);

  it("accepts the kit's in-process ONNX Runtime backend", async () => {
    const r = await runIsolated(() => describeTrainingBackend('in-process', () => new InProcessBackend()));
    expect([...r.failed]).to.deep.equal([]);
    expect(r.passed).to.have.length(6);
  });

  it('rejects a backend that compiles every time, or returns outputs that were not requested', async () => {
    const r1 = await runIsolated(() => describeTrainingBackend('x', () => brokenBackend('no-cache')));
    expect(failure(r1, 'only on a miss')).to.match(/compiling the same key twice builds once/);
    const r2 = await runIsolated(() => describeTrainingBackend('x', () => brokenBackend('all-outputs')));
    expect(failure(r2, 'exactly the requested outputs')).to.match(/run returns only the requested outputs/);
  });
});
