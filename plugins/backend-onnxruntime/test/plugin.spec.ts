/**
 * The plugin entry and the backend's options: the container module contributes what package.json
 * declares, `create` builds a working backend, and bad options fail with the option's name.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import {
  CONTRIBUTION,
  ConfigError,
  type ContainerModuleLoadOptions,
  type Contribution,
  type CreateContext,
  type TrainingBackend,
} from '@peftkit/api';
import { Graph, ops, tensor } from '@peftkit/graph';
import plugin from '../src/plugin.js';
import {
  OnnxRuntimeBackend,
  cleanOrtMessage,
  defaultIntraOpThreads,
  optionsSchema,
  resolveOptions,
} from '../src/index.js';

const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  keywords: string[];
  peftkit: { module: string; contributes: Record<string, string[]> };
};

function contributions(): Contribution[] {
  const out: Contribution[] = [];
  const bind = (id: symbol) => {
    expect(id).to.equal(CONTRIBUTION);
    return { toConstantValue: (c: Contribution) => out.push(c) };
  };
  void plugin.load({ bind } as unknown as ContainerModuleLoadOptions);
  return out;
}

describe('onnxruntime plugin', function () {
  this.timeout(30_000);

  it('contributes the training backend package.json declares', () => {
    const cs = contributions();
    expect(cs.map((c) => [c.kind, c.name])).to.deep.equal([['training-backend', 'onnxruntime']]);
    expect(manifest.peftkit.contributes).to.deep.equal({ 'training-backend': ['onnxruntime'] });
    expect(manifest.keywords).to.include('peftkit-plugin');
    expect(manifest.peftkit.module).to.equal('./dist/src/plugin.js');
    expect(cs[0]!.optionsSchema).to.equal(optionsSchema);
  });

  it('create() starts a backend that compiles and runs, logging through the context', async () => {
    const warnings: string[] = [];
    const ctx = {
      baseDir: '.',
      log: { info: () => {}, debug: () => {}, warn: (m: string) => warnings.push(m) },
    } as unknown as CreateContext;
    const backend = (await contributions()[0]!.create({ intraOpThreads: 1 }, ctx)) as TrainingBackend;
    try {
      expect(backend).to.be.instanceOf(OnnxRuntimeBackend);
      expect(backend.describe().threads).to.equal(1);
      const p = await backend.compile('neg', () => {
        const g = new Graph();
        g.output(ops.neg(g.input('x', 'float32', [2])), 'y');
        return g;
      });
      const out = await p.run({ x: tensor('float32', [2], [1, -2]) }, ['y']);
      expect(Array.from(out.y!.data as Float32Array)).to.deep.equal([-1, 2]);
    } finally {
      await backend.dispose();
    }
  });

  it('documents every option in the schema, with a description and a default where it has one', () => {
    const props = optionsSchema.properties as Record<string, { description?: string; default?: unknown }>;
    expect(Object.keys(props)).to.include.members([
      'provider',
      'fallbackToCpu',
      'intraOpThreads',
      'interOpThreads',
      'graphOptimizationLevel',
      'allowSpinning',
      'memArena',
    ]);
    for (const [k, p] of Object.entries(props))
      expect(p.description, k).to.be.a('string').with.length.above(20);
    expect(optionsSchema.additionalProperties).to.equal(false);
  });

  it('fills in defaults', () => {
    const o = resolveOptions({});
    expect(o).to.include({
      provider: 'cpu',
      fallbackToCpu: false,
      interOpThreads: 1,
      graphOptimizationLevel: 'all',
      allowSpinning: true,
      memArena: true,
      memPattern: false,
      prepacking: false,
    });
    expect(o.intraOpThreads).to.equal(defaultIntraOpThreads());
  });

  it('rejects bad options naming the option and what was expected', () => {
    const fail = (o: Record<string, unknown>) => {
      try {
        resolveOptions(o);
      } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(fail({ provider: 'gpu' })).to.equal(
      'training-backend onnxruntime: options.provider: expected one of cpu, cuda, found string "gpu"',
    );
    expect(fail({ intraOpThreads: 0 })).to.match(
      /options\.intraOpThreads: expected an integer in \[1, 1024\], found number 0/,
    );
    expect(fail({ allowSpinning: 'yes' })).to.match(/options\.allowSpinning: expected true or false/);
    expect(fail({ threads: 2 })).to.match(
      /options\.threads: unknown option; expected one of provider, fallbackToCpu/,
    );
  });
});

describe('cleanOrtMessage', () => {
  it('strips ANSI codes, C++ source locations and function signatures', () => {
    expect(
      cleanOrtMessage(
        "Non-zero status code returned while running Add node. Name:'layer.0/Add' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/math/element_wise_ops.h:560 void onnxruntime::BroadcastIterator::Append(ptrdiff_t, ptrdiff_t) axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 3 by 4",
      ),
    ).to.equal(
      "Non-zero status code returned while running Add node. Name:'layer.0/Add' Status Message: axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 3 by 4",
    );
    expect(
      cleanOrtMessage(
        'Load model from memory failed:/onnxruntime_src/onnxruntime/core/graph/model.cc:202 onnxruntime::Model::Model(onnx::ModelProto&&, const onnxruntime::PathString&, const onnxruntime::logging::Logger&, const onnxruntime::ModelOptions&) Unsupported model IR version: 14, max supported IR version: 13',
      ),
    ).to.equal(
      'Load model from memory failed: Unsupported model IR version: 14, max supported IR version: 13',
    );
    expect(cleanOrtMessage('\u001b[1;31mfailed\u001b[m: a\n  b')).to.equal('failed: a\nb');
  });
});
