/**
 * Conformance suite for training backends (extension point `training-backend`).
 *
 *   import { describeTrainingBackend } from '@peftkit/testing';
 *   describeTrainingBackend('onnxruntime', () => OnnxRuntimeBackend.create({}, logger));
 *
 * It checks the documented contract of TrainingBackend and CompiledProgram with two graphs: a small
 * one, y = relu(x·W + b) and s = Σy with the gradients of s, whose values are computed by hand, and
 * the train program of the tiny fixture transformer (token ids, attention, LayerNorm, the task loss
 * and its gradients), compared with an in-process ONNX Runtime reference:
 * - `describe()` names the backend, its runtime and provider;
 * - a compiled program lists its inputs and outputs, and `run` returns exactly the requested
 *   outputs with the right values;
 * - `compile` calls `build` only on a miss: the same key reuses the program, another key builds,
 *   and after `release(key)` the key builds again; a failing `build` fails the compile and leaves
 *   the key free;
 * - feeds are read, not kept: the caller's arrays are intact after `run` (not transferred away);
 * - the same feeds give the same outputs, also for runs issued concurrently;
 * - `dispose` completes.
 */
import type { TaskInfo, TrainingBackend } from '@peftkit/api';
import { Rng } from '@peftkit/api';
import { Graph, type TensorData, gradients, ops, tensor } from '@peftkit/graph';
import { batchFeeds, buildProgram, encodeExamples, paramFeeds, PeftToolkit } from '@peftkit/nn';
import { expect } from 'chai';
import { tinyBackbone, tinyTask } from '../fixtures.js';
import { runGraph } from '../ort-runner.js';
import { type Factory, SUITE_TIMEOUT_MS, maxAbsDiff, toModuleTypes } from './common.js';
import { mocha } from './mocha.js';

export interface TrainingBackendSuiteOptions {
  /** Largest difference allowed from the reference runtime (default 1e-4, plus 1e-3 relative). */
  tolerance?: number;
  /** Per-test time limit in ms (default 60 s). */
  timeout?: number;
}

const X = [0.5, -1, 2, 1.5, 0.25, -0.5, -2, 1, 0.75];
const W = [1, -1, 2, 0.5, -3, 1];
const B = [0.5, -0.25];

/** y = relu(x·W + b), s = Σy, and ds/dW, ds/db; W and b are inputs (trainable parameters). */
function smallGraph(): Graph {
  const g = new Graph('conformance-small');
  const x = g.input('x', 'float32', ['N', 3]);
  const w = g.param('w', [3, 2]);
  const b = g.param('b', [2]);
  const y = ops.relu(ops.add(ops.matmul(x, w), b));
  g.output(y, 'y');
  const s = ops.reduceSum(y, null, false);
  g.output(s, 's');
  const grads = gradients(s, [w, b]);
  g.output(grads.get(w)!, 'grad:w');
  g.output(grads.get(b)!, 'grad:b');
  return g;
}

/** The expected outputs of smallGraph, computed by hand. */
function smallExpected(): Record<string, number[]> {
  const N = X.length / 3;
  const y: number[] = [];
  const gw = new Array<number>(6).fill(0);
  const gb = new Array<number>(2).fill(0);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < 2; j++) {
      let z = B[j]!;
      for (let i = 0; i < 3; i++) z += X[n * 3 + i]! * W[i * 2 + j]!;
      y.push(Math.max(0, z));
      if (z > 0) {
        gb[j]! += 1;
        for (let i = 0; i < 3; i++) gw[i * 2 + j]! += X[n * 3 + i]!;
      }
    }
  }
  return { y, s: [y.reduce((a, b) => a + b, 0)], 'grad:w': gw, 'grad:b': gb };
}

function smallFeeds(): Record<string, TensorData> {
  return {
    x: tensor('float32', [3, 3], X),
    w: tensor('float32', [3, 2], W),
    b: tensor('float32', [2], B),
  };
}

/** The tiny transformer's train program (no PEFT modules: the head trains) and a batch for it. */
function tinyProgram() {
  const backbone = tinyBackbone({ hidden: 8 });
  const task = tinyTask({ train: 16, validation: 4, test: 4 });
  const types = toModuleTypes([]);
  const info: TaskInfo = task.info;
  const built = buildProgram({ backbone, task: info, types }, { modules: [] }, 'train');
  const params = new PeftToolkit(backbone, info, types).init({ modules: [] }, new Rng(5));
  const examples = encodeExamples(backbone.tokenizer, task.splits.train, 'none', 32);
  const feeds = {
    ...batchFeeds(examples, [0, 1, 2, 3, 4, 5], built.layout, backbone.tokenizer.padId, true),
    ...paramFeeds(built.layout, params),
  };
  const fetches = ['loss', 'logits', ...built.layout.params.map((p) => `grad:${p.name}`)];
  return { graph: built.graph, feeds, fetches };
}

function copyFeeds(feeds: Record<string, TensorData>): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  for (const [k, t] of Object.entries(feeds)) out[k] = { ...t, shape: [...t.shape], data: t.data.slice() };
  return out;
}

function closeTo(got: TensorData | undefined, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got, `${what} missing`).to.not.equal(undefined);
  const g = Array.from(got!.data as Float32Array, Number);
  expect(g.length, `${what} size`).to.equal(want.length);
  for (let i = 0; i < g.length; i++) {
    const w = want[i]!;
    expect(Math.abs(g[i]! - w), `${what}[${i}] = ${g[i]}, expected ${w}`).to.be.at.most(
      tol + 1e-3 * Math.abs(w),
    );
  }
}

export function describeTrainingBackend(
  name: string,
  factory: Factory<TrainingBackend>,
  opts: TrainingBackendSuiteOptions = {},
): void {
  const { describe, it, after } = mocha('describeTrainingBackend');
  const tol = opts.tolerance ?? 1e-4;

  describe(`training backend ${name} (conformance)`, function () {
    this.timeout(opts.timeout ?? SUITE_TIMEOUT_MS);
    let created: Promise<TrainingBackend> | undefined;
    const backend = () => (created ??= Promise.resolve(factory()));
    let key = 0;
    const freshKey = () => `conformance-${name}-${++key}`;

    after(async () => {
      if (created) await (await created).dispose();
    });

    it('describes itself: name, runtime, provider, available providers, threads', async () => {
      const d = (await backend()).describe();
      for (const f of ['name', 'runtime', 'provider'] as const) {
        expect(d[f], `describe().${f}`).to.be.a('string').and.not.equal('');
      }
      expect(d.available, 'describe().available').to.be.an('array').that.includes(d.provider);
      expect(Number.isInteger(d.threads) && d.threads >= 1, `describe().threads ${d.threads}`).to.equal(true);
    });

    it('compiles a graph and returns exactly the requested outputs, with the right values', async () => {
      const p = await (await backend()).compile(freshKey(), smallGraph);
      expect([...p.inputs].sort(), 'inputs').to.deep.equal(['b', 'w', 'x']);
      expect([...p.outputs].sort(), 'outputs').to.deep.equal(['grad:b', 'grad:w', 's', 'y']);
      const want = smallExpected();
      const all = await p.run(smallFeeds(), ['y', 's', 'grad:w', 'grad:b']);
      expect(Object.keys(all).sort()).to.deep.equal(['grad:b', 'grad:w', 's', 'y']);
      for (const k of Object.keys(want)) closeTo(all[k], want[k]!, tol, k);
      expect(all.y!.shape, 'shape of y').to.deep.equal([3, 2]);
      const one = await p.run(smallFeeds(), ['s']);
      expect(Object.keys(one), 'run returns only the requested outputs').to.deep.equal(['s']);
      closeTo(one.s, want.s!, tol, 's');
      const grads = await p.run(smallFeeds(), ['grad:b']);
      expect(Object.keys(grads)).to.deep.equal(['grad:b']);
    });

    it('builds only on a miss: same key reuses, a new key builds, a released key builds again', async () => {
      const b = await backend();
      let builds = 0;
      const build = () => {
        builds++;
        return smallGraph();
      };
      const k = freshKey();
      const first = await b.compile(k, build);
      const second = await b.compile(k, build);
      expect(builds, 'compiling the same key twice builds once').to.equal(1);
      const want = smallExpected();
      closeTo((await second.run(smallFeeds(), ['s'])).s, want.s!, tol, 's (reused program)');
      closeTo((await first.run(smallFeeds(), ['s'])).s, want.s!, tol, 's (first program)');
      await b.compile(freshKey(), build);
      expect(builds, 'a new key builds').to.equal(2);
      await b.release(k);
      const again = await b.compile(k, build);
      expect(builds, 'a released key builds again').to.equal(3);
      closeTo((await again.run(smallFeeds(), ['s'])).s, want.s!, tol, 's (after release)');
    });

    it('fails the compile when build throws, and leaves the key free', async () => {
      const b = await backend();
      const k = freshKey();
      let error: unknown = null;
      try {
        await b.compile(k, () => {
          throw new Error('graph construction failed on purpose');
        });
      } catch (e) {
        error = e;
      }
      expect(error, 'compile must fail when build throws').to.be.instanceOf(Error);
      expect((error as Error).message).to.include('graph construction failed on purpose');
      const p = await b.compile(k, smallGraph);
      closeTo((await p.run(smallFeeds(), ['s'])).s, smallExpected().s!, tol, 's');
    });

    it('runs the tiny transformer train program like the reference runtime, reading the feeds without keeping them', async () => {
      const b = await backend();
      const prog = tinyProgram();
      const reference = await runGraph(prog.graph, copyFeeds(prog.feeds), prog.fetches);
      const p = await b.compile(freshKey(), () => prog.graph);
      const feeds = prog.feeds;
      const before = copyFeeds(feeds);
      const out = await p.run(feeds, prog.fetches);
      for (const [k, t] of Object.entries(before)) {
        expect(feeds[k]!.data.length, `feed ${k} was detached or resized by run()`).to.equal(t.data.length);
        expect(
          maxAbsDiff(
            Array.from(feeds[k]!.data as ArrayLike<number | bigint>, Number),
            Array.from(t.data as ArrayLike<number | bigint>, Number),
          ),
          `feed ${k} was modified by run()`,
        ).to.equal(0);
      }
      for (const f of prog.fetches) {
        closeTo(out[f], reference[f]!.data as Float32Array, tol, f);
        expect(out[f]!.shape, `shape of ${f}`).to.deep.equal(reference[f]!.shape);
      }
    });

    it('is deterministic: the same feeds give the same outputs, also when runs are issued concurrently', async () => {
      const b = await backend();
      const prog = tinyProgram();
      const p = await b.compile(freshKey(), () => prog.graph);
      const first = await p.run(copyFeeds(prog.feeds), prog.fetches);
      const concurrent = await Promise.all([0, 1, 2].map(() => p.run(copyFeeds(prog.feeds), prog.fetches)));
      for (const out of concurrent) {
        for (const f of prog.fetches) {
          expect(maxAbsDiff(out[f]!.data as Float32Array, first[f]!.data as Float32Array), f).to.equal(0);
        }
      }
    });
  });
}
