import { expect } from 'chai';
import ort from 'onnxruntime-node';
import type { Logger } from '@peftkit/api';
import { Graph, type TensorData, ops, serialize, tensor } from '@peftkit/graph';
import { BackendError, OnnxRuntimeBackend, type OrtProgram } from '../src/index.js';

const f32 = (shape: number[], values: number[]): TensorData => tensor('float32', shape, values);

/** y = relu(x·W + b) and s = sum(y), with W [3, 2] and b [2] frozen. */
function smallGraph(): Graph {
  const g = new Graph('small');
  const x = g.input('x', 'float32', ['N', 3]);
  const w = g.initializer('w', f32([3, 2], [1, -1, 2, 0.5, -3, 1]));
  const b = g.initializer('b', f32([2], [0.5, -0.25]));
  const y = ops.relu(ops.add(ops.matmul(x, w), b));
  g.output(y, 'y');
  g.output(ops.reduceSum(y, null, false), 's');
  return g;
}

/** A deterministic pseudo-random float32 tensor. */
function noise(shape: number[], seed: number): TensorData {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return { dtype: 'float32', shape, data: out };
}

/** A few large matmuls, a softmax and a layer norm: enough work to split across threads. */
function heavyGraph(width: number, depth: number): Graph {
  const g = new Graph('heavy');
  let h = g.input('x', 'float32', ['N', width]);
  for (let i = 0; i < depth; i++) {
    const w = g.initializer(`w${i}`, noise([width, width], 100 + i));
    h = ops.layerNorm(ops.gelu(ops.matmul(h, w)), g.initializer(`s${i}`, noise([width], 7 + i)), null);
  }
  g.output(ops.softmax(h, -1), 'p');
  g.output(ops.reduceSum(h, null, false), 'total');
  return g;
}

function quietLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info: () => {}, debug: () => {}, warn: (m) => warnings.push(m) };
}

describe('onnxruntime backend', function () {
  this.timeout(60_000);
  let backend: OnnxRuntimeBackend;

  before(async () => {
    backend = await OnnxRuntimeBackend.create({ intraOpThreads: 2 }, quietLogger());
  });
  after(async () => {
    await backend.dispose();
  });

  it('describes the runtime, provider, providers that load and threads', () => {
    const d = backend.describe();
    expect(d.name).to.equal('onnxruntime');
    expect(d.runtime).to.equal(`onnxruntime-node ${ort.env.versions.node}`);
    expect(d.provider).to.equal('cpu');
    expect(d.available).to.include('cpu');
    expect(d.threads).to.equal(2);
    expect(d.interOpThreads).to.equal(1);
    expect(d.bundled).to.include('cpu');
    expect(d.cuda.loads).to.equal(d.available.includes('cuda'));
  });

  it('compiles and runs a graph, matching hand-computed values', async () => {
    const p = await backend.compile('small', smallGraph);
    expect(p.inputs).to.deep.equal(['x']);
    expect(p.outputs).to.deep.equal(['y', 's']);
    const out = await p.run({ x: f32([2, 3], [1, 2, 3, -1, 0, 1]) }, ['y', 's']);
    // row 1: [1-2*1... ] x·W = [1+4-9, -1+1+3] = [-4, 3] + b = [-3.5, 2.75] -> relu [0, 2.75]
    // row 2: x·W = [-1+0-3, 1+0+1] = [-4, 2] + b = [-3.5, 1.75] -> relu [0, 1.75]
    expect(Array.from(out.y!.data as Float32Array)).to.deep.equal([0, 2.75, 0, 1.75]);
    expect(out.y!.shape).to.deep.equal([2, 2]);
    expect(out.y!.dtype).to.equal('float32');
    expect(out.s!.shape).to.deep.equal([]);
    expect((out.s!.data as Float32Array)[0]).to.equal(4.5);
  });

  it('returns only the requested fetches', async () => {
    const p = await backend.compile('small', smallGraph);
    const x = { x: f32([1, 3], [0, 0, 1]) };
    const onlyS = await p.run(x, ['s']);
    expect(Object.keys(onlyS)).to.deep.equal(['s']);
    const onlyY = await p.run(x, ['y']);
    expect(Object.keys(onlyY)).to.deep.equal(['y']);
    expect(Array.from(onlyY.y!.data as Float32Array)).to.deep.equal([0, 0.75]);
  });

  it('caches programs by key: build is not called on a hit', async () => {
    let builds = 0;
    const build = () => {
      builds++;
      return smallGraph();
    };
    const [a, b] = await Promise.all([backend.compile('cached', build), backend.compile('cached', build)]);
    const c = await backend.compile('cached', build);
    expect(builds).to.equal(1);
    expect(a).to.equal(b).and.to.equal(c);
    expect(backend.keys()).to.include('cached');
  });

  it('releases a program: old handles fail, the next compile builds again', async () => {
    let builds = 0;
    const build = () => {
      builds++;
      return smallGraph();
    };
    const p = await backend.compile('released', build);
    await backend.release('released');
    expect(backend.keys()).not.to.include('released');
    let err: unknown;
    await p.run({ x: f32([1, 3], [1, 1, 1]) }, ['s']).catch((e) => (err = e));
    expect(err).to.be.instanceOf(BackendError);
    expect((err as Error).message).to.match(/program "released".*released/);
    const again = await backend.compile('released', build);
    expect(builds).to.equal(2);
    const out = await again.run({ x: f32([1, 3], [0, 0, 1]) }, ['s']);
    expect((out.s!.data as Float32Array)[0]).to.equal(0.75);
    await backend.release('never-compiled'); // a no-op
  });

  it('leaves the caller’s feed arrays intact and usable', async () => {
    const p = await backend.compile('small', smallGraph);
    const x = f32([1, 3], [1, 2, 3]);
    await p.run({ x }, ['s']);
    expect(x.data.byteLength).to.equal(12);
    expect(Array.from(x.data as Float32Array)).to.deep.equal([1, 2, 3]);
  });

  it('is deterministic on the CPU: identical outputs run to run and session to session', async () => {
    const x = noise([64, 256], 1);
    const p = await backend.compile('heavy', () => heavyGraph(256, 3));
    const r1 = await p.run({ x }, ['p', 'total']);
    const r2 = await p.run({ x }, ['p', 'total']);
    const other = await OnnxRuntimeBackend.create({ intraOpThreads: 2 }, quietLogger());
    try {
      const q = await other.compile('heavy', () => heavyGraph(256, 3));
      const r3 = await q.run({ x }, ['p', 'total']);
      for (const r of [r2, r3]) {
        expect(
          Buffer.from((r.p!.data as Float32Array).buffer).equals(
            Buffer.from((r1.p!.data as Float32Array).buffer),
          ),
        ).to.equal(true);
        expect((r.total!.data as Float32Array)[0]).to.equal((r1.total!.data as Float32Array)[0]);
      }
    } finally {
      await other.dispose();
    }
  });

  it('runs ONNX Runtime off the main thread: the event loop keeps ticking during a long run', async () => {
    const g = () => heavyGraph(1024, 12);
    const x = noise([1536, 1024], 3);
    const p = (await backend.compile('long', g)) as OrtProgram;
    await p.run({ x }, ['total']); // warm-up
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = performance.now();
    await p.run({ x }, ['total']);
    const ms = performance.now() - t0;
    clearInterval(timer);
    // Control: the same model run by onnxruntime-node on this thread blocks the loop.
    const { model, externalData } = serialize(g());
    const session = await ort.InferenceSession.create(model, { externalData, intraOpNumThreads: 2 });
    const feeds = { x: new ort.Tensor('float32', x.data as Float32Array, x.shape) };
    await session.run(feeds, ['total']);
    let blockedTicks = 0;
    const timer2 = setInterval(() => blockedTicks++, 5);
    const t1 = performance.now();
    await session.run(feeds, ['total']);
    const blockedMs = performance.now() - t1;
    clearInterval(timer2);
    await session.release();
    expect(ms, 'the run should take long enough to measure').to.be.greaterThan(100);
    expect(ticks, `${ticks} ticks of 5 ms during ${ms.toFixed(0)} ms`).to.be.greaterThan(ms / 5 / 4);
    expect(
      blockedTicks,
      `${blockedTicks} ticks during a ${blockedMs.toFixed(0)} ms main-thread run`,
    ).to.be.lessThan(3);
  });

  describe('errors', () => {
    it('rejects a feed of the wrong shape, naming the program, the feed and what was expected', async () => {
      const p = await backend.compile('small', smallGraph);
      const err = await p.run({ x: f32([1, 4], [1, 2, 3, 4]) }, ['s']).catch((e: Error) => e);
      expect(err).to.be.instanceOf(BackendError);
      expect((err as Error).message).to.equal(
        'onnxruntime: program "small": feed "x" has shape [1, 4], expected [N, 3]: dimension 1 is 4, should be 3',
      );
    });

    it('names missing and unknown feeds and fetches', async () => {
      const p = await backend.compile('small', smallGraph);
      const x = f32([1, 3], [1, 2, 3]);
      const msg = async (f: () => Promise<unknown>) => ((await f().catch((e: Error) => e)) as Error).message;
      expect(await msg(() => p.run({}, ['s']))).to.match(
        /feed "x" is missing; the program's inputs are x: float32\[N, 3\]/,
      );
      expect(await msg(() => p.run({ x, z: x }, ['s']))).to.match(/unknown feed "z"/);
      expect(await msg(() => p.run({ x }, ['nope']))).to.match(/unknown fetch "nope"; the outputs are y, s/);
      expect(await msg(() => p.run({ x: tensor('float64', [1, 3], [1, 2, 3]) }, ['s']))).to.match(
        /feed "x" is float64\[1, 3\], expected float32\[N, 3\]/,
      );
    });

    it('rethrows ONNX Runtime run errors cleaned of ANSI codes and source paths, naming the key', async () => {
      const p = await backend.compile('lookup', () => {
        const g = new Graph();
        const ids = g.input('ids', 'int64', ['N']);
        g.output(ops.gather(g.initializer('table', f32([4, 2], [1, 2, 3, 4, 5, 6, 7, 8])), ids, 0), 'rows');
        return g;
      });
      const ok = await p.run({ ids: tensor('int64', [2], [3, 0]) }, ['rows']);
      expect(Array.from(ok.rows!.data as Float32Array)).to.deep.equal([7, 8, 1, 2]);
      const err = (await p.run({ ids: tensor('int64', [1], [9]) }, ['rows']).catch((e: Error) => e)) as Error;
      expect(err).to.be.instanceOf(BackendError);
      expect(err.message).to.match(/^onnxruntime: program "lookup": run failed: .*Gather/);
      expect(err.message).to.match(/out of|bounds|range/i);
      expect(err.message).not.to.match(/onnxruntime_src|\.cc:\d|\.h:\d/);
      expect(err.message).not.to.include(String.fromCharCode(27));
    });

    it('rethrows a graph ONNX Runtime cannot load, cleaned and naming the key; the key is not cached', async () => {
      // Erf has no float64 kernel in ONNX Runtime's CPU provider.
      const build = () => {
        const g = new Graph();
        g.output(ops.erf(g.input('x', 'float64', [2])), 'y');
        return g;
      };
      const err = (await backend.compile('erf64', build).catch((e: Error) => e)) as Error;
      expect(err).to.be.instanceOf(BackendError);
      expect(err.message).to.match(/^onnxruntime: program "erf64": compile failed: .*Erf/);
      expect(err.message).not.to.match(/onnxruntime_src|\.cc:\d|\.h:\d/);
      expect(err.message).not.to.include(String.fromCharCode(27));
      expect(backend.keys()).not.to.include('erf64');
    });

    it('passes graph-building errors through unchanged', async () => {
      const err = await backend
        .compile('bad-build', () => {
          throw new Error('the builder failed');
        })
        .catch((e: Error) => e);
      expect((err as Error).message).to.equal('the builder failed');
    });
  });

  describe('CUDA on a machine without the CUDA provider', () => {
    it('explains why provider "cuda" cannot load and how to install it', async function () {
      if (backend.describe().cuda.loads) this.skip();
      const err = (await OnnxRuntimeBackend.create({ provider: 'cuda' }, quietLogger()).catch(
        (e: Error) => e,
      )) as Error;
      expect(err).to.be.instanceOf(BackendError);
      const m = err.message;
      expect(m).to.match(
        /provider "cuda" was requested, but ONNX Runtime cannot load its CUDA execution provider/,
      );
      expect(m).to.match(/libonnxruntime_providers_cuda\.so/);
      expect(m).to.include(`Microsoft.ML.OnnxRuntime.Gpu.Linux ${ort.env.versions.node}`);
      expect(m).to.include('node_modules/onnxruntime-node/bin/napi-v6/linux/x64');
      expect(m).to.match(/CUDA 12.*cuDNN 9/);
      expect(m).to.match(/fallbackToCpu/);
      expect(m).not.to.include(String.fromCharCode(27));
    });

    it('falls back to the CPU with a warning when fallbackToCpu is set', async function () {
      if (backend.describe().cuda.loads) this.skip();
      const log = quietLogger();
      const b = await OnnxRuntimeBackend.create({ provider: 'cuda', fallbackToCpu: true }, log);
      try {
        expect(b.describe().provider).to.equal('cpu');
        expect(log.warnings).to.have.length(1);
        expect(log.warnings[0]).to.match(
          /cannot load its CUDA execution provider.*Running on the CPU instead/s,
        );
        const p = await b.compile('small', smallGraph);
        const out = await p.run({ x: f32([1, 3], [0, 0, 1]) }, ['s']);
        expect((out.s!.data as Float32Array)[0]).to.equal(0.75);
      } finally {
        await b.dispose();
      }
    });
  });

  it('refuses to compile after dispose', async () => {
    const b = await OnnxRuntimeBackend.create({}, quietLogger());
    await b.dispose();
    const err = await b.compile('x', smallGraph).catch((e: Error) => e);
    expect((err as Error).message).to.match(/disposed/);
  });
});
