/**
 * What the backward pass keeps alive: FusedMatMul instead of transposed copies, LayerNorm gradients
 * from the output, rematerialised activations, and the node order ONNX Runtime executes, checked
 * against finite differences and against ONNX Runtime's own profiler (order and peak memory).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import ort from 'onnxruntime-node';
import {
  type GradientOptions,
  Graph,
  type Node,
  type TensorData,
  type Value,
  gradCheck,
  gradients,
  ops,
  serialize,
} from '../src/index.js';
import { runOrt } from './ort.js';

function noise(shape: number[], seed: number, lo = -1, hi = 1): TensorData {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return { dtype: 'float32', shape, data: out };
}

/** Backward nodes (those added by `gradients`) that read `v`. */
function backwardReaders(g: Graph, from: number, v: Value): Node[] {
  return g.nodes.slice(from).filter((n) => n.inputs.includes(v));
}

const fusedCases: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

describe('FusedMatMul', () => {
  for (const [ta, tb] of fusedCases) {
    it(`agrees with finite differences (transA=${ta}, transB=${tb}, batch broadcast, alpha)`, async () => {
      const r = await gradCheck({
        inputs: [
          { name: 'a', shape: ta ? [2, 1, 4, 3] : [2, 1, 3, 4], dtype: 'float64' },
          { name: 'b', shape: tb ? [3, 5, 4] : [3, 4, 5], dtype: 'float64' },
        ],
        build: (g, x) =>
          g.op(
            'FusedMatMul',
            [x.a!, x.b!],
            { transA: ta ? 1 : 0, transB: tb ? 1 : 0, alpha: 0.7 },
            {},
            'com.microsoft',
          )[0]!,
        run: runOrt,
      });
      expect(r.maxRelError, JSON.stringify(r.worst)).to.be.lessThan(1e-6);
    });
  }

  it('is what batched MatMul differentiates into: no Transpose copies of saved operands', () => {
    const g = new Graph();
    const q = g.input('q', 'float32', ['B', 2, 'T', 4]);
    const k = g.input('k', 'float32', ['B', 2, 'T', 4]);
    const v = g.input('v', 'float32', ['B', 2, 'T', 4]);
    const probs = ops.softmax(ops.matmul(q, ops.transposeLast2(k)), -1);
    const loss = ops.reduceSum(ops.matmul(probs, v), null, false);
    const start = g.nodes.length;
    gradients(loss, [q, k, v]);
    const backward = g.nodes.slice(start);
    expect(backward.filter((n) => n.type === 'FusedMatMul')).to.have.length(4);
    // Transposes left in the backward pass act on gradients only (the VJP of the forward Transpose).
    const forwardValues = new Set(g.nodes.slice(0, start).flatMap((n) => n.outputs));
    for (const n of backward.filter((b) => b.type === 'Transpose')) {
      expect(forwardValues.has(n.inputs[0]!), `${n.name} transposes a forward value`).to.equal(false);
    }
  });
});

describe('LayerNormalization gradient from the output', () => {
  const scale = noise([6], 1, 0.5, 1.5);
  const shift = noise([6], 2, -0.5, 0.5);

  it('agrees with finite differences (float32, frozen scale and shift)', async () => {
    const r = await gradCheck({
      inputs: [{ name: 'x', shape: [3, 6], dtype: 'float32' }],
      build: (g, x) => ops.layerNorm(x.x!, g.initializer('s', scale), g.initializer('b', shift), 1e-5),
      run: runOrt,
      eps: 1e-2,
    });
    expect(r.maxRelError, JSON.stringify(r.worst)).to.be.lessThan(5e-3);
  });

  it('agrees with finite differences with a trainable shift (BitFit on a LayerNorm)', async () => {
    const r = await gradCheck({
      inputs: [
        { name: 'x', shape: [3, 6], dtype: 'float32' },
        { name: 'b', shape: [6], dtype: 'float32' },
      ],
      build: (g, x) => ops.layerNorm(x.x!, g.initializer('s', scale), x.b!, 1e-5),
      run: runOrt,
      eps: 1e-2,
    });
    expect(r.maxRelError, JSON.stringify(r.worst)).to.be.lessThan(5e-3);
  });

  /** LayerNorm of an intermediate value z = 2x; which forward values does the backward read? */
  function lnBackward(scaleData: TensorData): { reads: (v: Value) => boolean; x: Value; y: Value } {
    const g = new Graph();
    const input = g.input('x', 'float32', ['N', 6]);
    const x = ops.mul(input, 2);
    const y = ops.layerNorm(x, g.initializer('s', scaleData), g.initializer('b', shift), 1e-5);
    const loss = ops.reduceSum(ops.mul(y, y), null, false);
    const start = g.nodes.length;
    gradients(loss, [input]);
    return { reads: (v) => backwardReaders(g, start, v).length > 0, x, y };
  }

  it('does not keep the input alive when the scale is a constant far from zero', () => {
    const { reads, x, y } = lnBackward(scale);
    expect(reads(x)).to.equal(false);
    expect(reads(y)).to.equal(true);
  });

  it('falls back to the input when a scale entry is (near) zero', () => {
    const withZero = noise([6], 1, 0.5, 1.5);
    (withZero.data as Float32Array)[3] = 0;
    const { reads, x } = lnBackward(withZero);
    expect(reads(x)).to.equal(true);
  });
});

describe('rematerialisation of activations', () => {
  /** A LoRA-style branch on a GELU output: loss = sum(((gelu(x·W)·Aᵀ)·Bᵀ)^2). */
  function build(g: Graph, x: Value, a: Value, b: Value, act: (v: Value) => Value) {
    const w = g.initializer('w', noise([4, 6], 3));
    const h = act(ops.matmul(x, w));
    const flat = ops.flatten(h, 1);
    const y = ops.gemm(ops.gemm(flat, a, null, { transB: true }), b, null, { transB: true });
    return { h, flat, loss: ops.reduceSum(ops.mul(y, y), null, false) };
  }

  for (const [name, act, tol] of [
    ['Gelu', (v: Value) => ops.gelu(v), 5e-3],
    ['Gelu tanh', (v: Value) => ops.gelu(v, 'tanh'), 5e-3],
    ['Relu', (v: Value) => ops.relu(v), 5e-3],
  ] as const) {
    it(`${name}: the output is recomputed, not kept, and gradients agree with finite differences`, async () => {
      const g = new Graph();
      const x = g.input('x', 'float32', [5, 4]);
      const a = g.param('a', [2, 6]);
      const b = g.param('b', [3, 2]);
      const { h, flat, loss } = build(g, x, a, b, act);
      // x is trainable too, so that the activation's own VJP runs and keeps its input.
      const start = g.nodes.length;
      gradients(loss, [x, a, b]);
      expect(backwardReaders(g, start, h), 'backward readers of the activation output').to.deep.equal([]);
      expect(backwardReaders(g, start, flat), 'backward readers of its flattened view').to.deep.equal([]);

      const r = await gradCheck({
        inputs: [
          { name: 'x', shape: [5, 4], dtype: 'float32', range: [-2, 2] },
          { name: 'a', shape: [2, 6], dtype: 'float32' },
          { name: 'b', shape: [3, 2], dtype: 'float32' },
        ],
        build: (gg, v) => build(gg, v.x!, v.a!, v.b!, act).loss,
        run: runOrt,
        eps: 1e-2,
      });
      expect(r.maxRelError, JSON.stringify(r.worst)).to.be.lessThan(tol);
    });
  }

  it('keeps the output when rematerialisation is off, or when the activation is not differentiated', () => {
    const off = new Graph();
    const x = off.input('x', 'float32', [5, 4]);
    const a = off.param('a', [2, 6]);
    const b = off.param('b', [3, 2]);
    const built = build(off, x, a, b, (v) => ops.gelu(v));
    const start = off.nodes.length;
    gradients(built.loss, [x, a, b], { rematerialize: false });
    expect(backwardReaders(off, start, built.flat)).to.have.length(1);

    // Only A and B trainable: the GELU is not differentiated, so its input is not kept anyway
    // and recomputing would keep the input instead of the output: no gain, so it is not done.
    const frozen = new Graph();
    const x2 = frozen.input('x', 'float32', [5, 4]);
    const a2 = frozen.param('a', [2, 6]);
    const b2 = frozen.param('b', [3, 2]);
    const built2 = build(frozen, x2, a2, b2, (v) => ops.gelu(v));
    const start2 = frozen.nodes.length;
    gradients(built2.loss, [a2, b2]);
    expect(backwardReaders(frozen, start2, built2.flat)).to.have.length(1);
  });
});

/**
 * A stack of frozen residual FFN blocks with LoRA on both linears,
 *   u = h·W1 + (h·A)·B,  a = gelu(u),  h ← h + a·W2 + (a·C)·D,
 * then a sum-of-squares loss. Returns the graph with the loss and the gradients of every LoRA
 * factor as outputs (`grad_a<l>`, ...).
 */
function loraStack(layers: number, tokens: number, width: number, opts: GradientOptions): Graph {
  const g = new Graph('lora-stack');
  let h = g.input('x', 'float32', [tokens, width]);
  const params: Value[] = [];
  const lora = (x: Value, name: string, l: number, inF: number, outF: number) => {
    const a = g.param(`a${name}${l}`, [inF, 4]);
    const b = g.param(`b${name}${l}`, [4, outF]);
    params.push(a, b);
    return ops.matmul(ops.matmul(x, a), b);
  };
  const ffn = 4 * width;
  for (let l = 0; l < layers; l++) {
    h = g.scoped(`layer${l}`, () => {
      const w1 = g.initializer(`w1_${l}`, noise([width, ffn], 10 + l, -0.1, 0.1));
      const w2 = g.initializer(`w2_${l}`, noise([ffn, width], 20 + l, -0.1, 0.1));
      const a = ops.gelu(ops.add(ops.matmul(h, w1), lora(h, 'in', l, width, ffn)));
      return ops.add(h, ops.add(ops.matmul(a, w2), lora(a, 'out', l, ffn, width)));
    });
  }
  const loss = ops.reduceSum(ops.mul(h, h), null, false);
  g.output(loss, 'loss');
  const grads = gradients(loss, params, opts);
  for (const p of params) g.output(grads.get(p)!, `grad_${p.name}`);
  return g;
}

interface Profile {
  /** Node names in execution order. */
  order: string[];
  /** Peak bytes in use by ONNX Runtime's CPU allocator during the run. */
  peakBytes: number;
}

async function profileRun(g: Graph, feeds: Record<string, TensorData>): Promise<Profile> {
  const dir = mkdtempSync(join(tmpdir(), 'peftkit-profile-'));
  try {
    const { model, externalData } = serialize(g);
    const session = await ort.InferenceSession.create(model, {
      externalData,
      intraOpNumThreads: 1,
      enableMemPattern: false,
      enableProfiling: true,
      profileFilePrefix: join(dir, 'run'),
    });
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds))
      ortFeeds[k] = new ort.Tensor('float32', t.data as Float32Array, [...t.shape]);
    await session.run(
      ortFeeds,
      g.outputs.map((o) => o.name),
    );
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'))!;
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
      cat: string;
      name: string;
      args?: Record<string, unknown>;
    }[];
    const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
    return {
      order: kernels.map((e) => e.name.slice(0, -'_kernel_time'.length)),
      peakBytes: Math.max(...kernels.map((e) => Number(e.args?.mem_in_use_peak ?? 0))),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('backward node order, as ONNX Runtime executes it', function () {
  this.timeout(60_000);
  const layers = 4;
  const tokens = 256;
  const width = 64;
  const params = () => {
    const feeds: Record<string, TensorData> = { x: noise([tokens, width], 1) };
    for (let l = 0; l < layers; l++) {
      feeds[`ain${l}`] = noise([width, 4], 20 + l, -0.1, 0.1);
      feeds[`bin${l}`] = noise([4, 4 * width], 30 + l, -0.1, 0.1);
      feeds[`aout${l}`] = noise([4 * width, 4], 40 + l, -0.1, 0.1);
      feeds[`bout${l}`] = noise([4, width], 50 + l, -0.1, 0.1);
    }
    return feeds;
  };

  it('keeps the graph topologically ordered and puts the top layer’s parameter gradients last', () => {
    const g = loraStack(layers, tokens, width, {});
    const seen = new Set<Value>([...g.inputs, ...g.initializers.keys()]);
    for (const n of g.nodes) {
      for (const v of n.inputs)
        if (v) expect(seen.has(v), `${n.name} reads ${v.name} before it exists`).to.equal(true);
      for (const o of n.outputs) seen.add(o);
    }
    const pos = (name: string) => g.nodes.findIndex((n) => n.outputs.some((o) => o.name === name));
    expect(pos(`grad_ain${layers - 1}`)).to.be.greaterThan(pos('grad_ain0'));
  });

  it('computes each layer’s parameter gradients before the backward pass of the layer below', async () => {
    const g = loraStack(layers, tokens, width, {});
    const producers = new Map(g.outputs.map((o) => [o.name, o.value.producer!.name]));
    const { order } = await profileRun(g, params());
    const at = (nodeName: string) => {
      const i = order.indexOf(nodeName);
      expect(i, `${nodeName} in the profile`).to.be.greaterThanOrEqual(0);
      return i;
    };
    for (let l = layers - 1; l >= 1; l--) {
      const below = order.findIndex((n) => n.startsWith(`grad.layer${l - 1}/`));
      expect(below).to.be.greaterThan(0);
      for (const p of ['ain', 'bin', 'aout', 'bout']) {
        const name = `grad_${p}${l}`;
        expect(at(producers.get(name)!), `${name} vs layer ${l - 1}'s backward`).to.be.lessThan(below);
      }
    }
  });

  it('needs clearly less memory than the unscheduled, unrematerialised backward pass', async () => {
    const feeds = params();
    const tuned = await profileRun(loraStack(layers, tokens, width, {}), feeds);
    const plain = await profileRun(
      loraStack(layers, tokens, width, { schedule: false, rematerialize: false }),
      feeds,
    );
    const ordered = await profileRun(loraStack(layers, tokens, width, { rematerialize: false }), feeds);
    // Per layer the tuned pass keeps the layer input (64 KiB) and the GELU input (256 KiB); the
    // plain one also keeps the GELU output, the GELU derivative terms computed ahead of time and,
    // until the very end, every layer's incoming gradients. (Measured: 3.63 vs 4.39 vs 5.14 MB.)
    const msg = `tuned ${tuned.peakBytes}, scheduled only ${ordered.peakBytes}, plain ${plain.peakBytes}`;
    expect(tuned.peakBytes, msg).to.be.lessThan(ordered.peakBytes);
    expect(ordered.peakBytes, msg).to.be.lessThan(plain.peakBytes);
    expect(tuned.peakBytes, msg).to.be.lessThan(0.8 * plain.peakBytes);
  });
});
