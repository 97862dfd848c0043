import { expect } from 'chai';
import type { Logger } from '@peftkit/api';
import { Graph, type TensorData, ops, serialize } from '@peftkit/graph';
import { OnnxRuntimeBackend } from '../src/index.js';
import { WeightRegistry } from '../src/weights.js';

const quiet: Logger = { info: () => {}, warn: () => {}, debug: () => {} };

function noise(shape: number[], seed: number, shared = false): TensorData {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(shared ? new SharedArrayBuffer(n * 4) : new ArrayBuffer(n * 4));
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return { dtype: 'float32', shape, data: out };
}

/** Two frozen layers; `variant` changes the graph (a second program over the same weights). */
function twoLayer(w1: TensorData, w2: TensorData, variant: number): Graph {
  const g = new Graph(`two-layer-${variant}`);
  const x = g.input('x', 'float32', ['N', 16]);
  let h = ops.gelu(ops.matmul(x, g.initializer('w1', w1)));
  // A small bias stays an inline initializer (below the external-data size).
  h = ops.add(ops.matmul(h, g.initializer('w2', w2)), g.initializer('b2', noise([8], 9)));
  if (variant > 0) h = ops.mul(h, g.scalar(variant + 1));
  g.output(h, 'y');
  return g;
}

describe('frozen weights held once (shareWeights)', function () {
  this.timeout(60_000);

  it('serialize: external weights become graph inputs listed in weightInputs, small ones stay inline', () => {
    const w1 = noise([16, 32], 1);
    const w2 = noise([32, 8], 2);
    const g = twoLayer(w1, w2, 0);
    const asInputs = serialize(g, { frozenWeights: 'inputs' });
    expect(asInputs.externalData).to.deep.equal([]);
    expect(asInputs.weightInputs.map((w) => w.name)).to.deep.equal(['w1', 'w2']);
    expect(asInputs.weightInputs[0]!.data.data).to.equal(w1.data);
    expect(g.initializers.size).to.equal(3);
    const asExternal = serialize(g);
    expect(asExternal.weightInputs).to.deep.equal([]);
    expect(asExternal.externalData.length).to.equal(2);
  });

  it('registry: one id per viewed byte range, sent once, dropped with its last program', () => {
    const r = new WeightRegistry();
    const buf = new Float32Array(8);
    const a = { name: 'a', data: { dtype: 'float32' as const, shape: [4], data: buf.subarray(0, 4) } };
    const aAgain = { name: 'a2', data: { dtype: 'float32' as const, shape: [4], data: buf.subarray(0, 4) } };
    const b = { name: 'b', data: { dtype: 'float32' as const, shape: [4], data: buf.subarray(4) } };
    const p1 = r.acquire([a, b]);
    expect(p1.fresh.map((f) => f.id)).to.have.length(2);
    const p2 = r.acquire([aAgain]);
    expect(p2.fresh).to.deep.equal([]);
    expect(p2.refs[0]!.id).to.equal(p1.refs[0]!.id);
    expect(r.release(p1.refs)).to.deep.equal([p1.refs[1]!.id]);
    expect(r.held()).to.equal(1);
    expect(r.release(p2.refs)).to.deep.equal([p1.refs[0]!.id]);
    expect(r.held()).to.equal(0);
    // After its last program went, a weight is sent again with the next program that needs it.
    expect(r.acquire([a]).fresh).to.have.length(1);
  });

  it('on by default on the CPU, and described so (the workbench charges one copy of the weights, not one per program)', async () => {
    const byDefault = await OnnxRuntimeBackend.create({ intraOpThreads: 1 }, quiet);
    const off = await OnnxRuntimeBackend.create({ intraOpThreads: 1, shareWeights: false }, quiet);
    try {
      expect(byDefault.options.shareWeights).to.equal(true);
      expect(byDefault.describe().sharesWeights).to.equal(true);
      expect(off.describe().sharesWeights).to.equal(false);
    } finally {
      await byDefault.dispose();
      await off.dispose();
    }
  });

  for (const shared of [false, true]) {
    it(`programs over the same weights (${shared ? 'Shared' : ''}ArrayBuffer) share them and compute what per-session copies compute`, async () => {
      const w1 = noise([16, 32], 3, shared);
      const w2 = noise([32, 8], 4, shared);
      const x = noise([5, 16], 5);
      const sharing = await OnnxRuntimeBackend.create({ intraOpThreads: 1, shareWeights: true }, quiet);
      const copying = await OnnxRuntimeBackend.create({ intraOpThreads: 1, shareWeights: false }, quiet);
      try {
        for (const variant of [0, 1, 2]) {
          const p = await sharing.compile(`v${variant}`, () => twoLayer(w1, w2, variant));
          const q = await copying.compile(`v${variant}`, () => twoLayer(w1, w2, variant));
          expect(p.inputs).to.deep.equal(['x']);
          const got = (await p.run({ x }, ['y'])).y!.data as Float32Array;
          const want = (await q.run({ x }, ['y'])).y!.data as Float32Array;
          expect([...got]).to.deep.equal([...want]);
        }
        expect(sharing.heldWeights()).to.equal(2);
        expect(copying.heldWeights()).to.equal(0);
        await sharing.release('v0');
        await sharing.release('v1');
        expect(sharing.heldWeights()).to.equal(2);
        // The remaining program still runs on the weights the released ones shared.
        const p2 = await sharing.compile('v2', () => twoLayer(w1, w2, 2));
        await p2.run({ x }, ['y']);
        await sharing.release('v2');
        expect(sharing.heldWeights()).to.equal(0);
        // Compiled again after everything was released: the weights are sent again.
        const again = await sharing.compile('v0', () => twoLayer(w1, w2, 0));
        const q0 = await copying.compile('v0', () => twoLayer(w1, w2, 0));
        expect([...((await again.run({ x }, ['y'])).y!.data as Float32Array)]).to.deep.equal([
          ...((await q0.run({ x }, ['y'])).y!.data as Float32Array),
        ]);
        expect(sharing.heldWeights()).to.equal(2);
      } finally {
        await sharing.dispose();
        await copying.dispose();
      }
    });
  }

  it('a failed compile releases the weights it sent', async () => {
    const backend = await OnnxRuntimeBackend.create({ intraOpThreads: 1, shareWeights: true }, quiet);
    try {
      const w = noise([16, 32], 6);
      const bad = () => {
        const g = new Graph('bad');
        const x = g.input('x', 'float32', ['N', 16]);
        g.output(ops.matmul(x, g.initializer('w', w)), 'y');
        // Erf has no float64 kernel in ONNX Runtime's CPU provider: creating the session fails.
        g.output(ops.erf(g.input('z', 'float64', [2])), 'e');
        return g;
      };
      let failed = false;
      await backend.compile('bad', bad).catch(() => (failed = true));
      expect(failed).to.equal(true);
      expect(backend.heldWeights()).to.equal(0);
    } finally {
      await backend.dispose();
    }
  });
});
