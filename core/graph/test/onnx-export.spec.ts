/**
 * Serialisation options: `standardOps` (contrib ops written as standard ONNX, for onnx.checker)
 * must compute exactly what the contrib version computes, forward and backward.
 */
import { expect } from 'chai';
import { Graph, gradients, ops, serialize, tensor } from '../src/index.js';
import { fusedMatMul } from '../src/ops/linalg.js';
import { runOrt } from './ort.js';

describe('ONNX serialisation with standardOps', () => {
  it('lowers GELU (erf and tanh) and FusedMatMul to standard ops with identical results and gradients', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2, 3, 4]);
    const w = g.input('w', 'float32', [2, 4, 4]);
    const a = ops.gelu(x);
    const b = ops.gelu(x, 'tanh');
    const c = fusedMatMul(ops.add(a, b), w, { transB: true, alpha: 0.5 });
    const d = fusedMatMul(c, w, { transA: false });
    const loss = ops.reduceSum(ops.mul(d, d), null, false);
    g.output(loss, 'loss');
    const grads = gradients(loss, [x, w]);
    g.output(grads.get(x)!, 'dx');
    g.output(grads.get(w)!, 'dw');
    const contrib = serialize(g);
    const standard = serialize(g, { standardOps: true });
    const decoded = (m: Uint8Array) => new TextDecoder('latin1').decode(m);
    expect(decoded(contrib.model)).to.contain('com.microsoft');
    expect(decoded(standard.model)).to.not.contain('com.microsoft');
    const feeds = {
      x: tensor(
        'float32',
        [2, 3, 4],
        Array.from({ length: 24 }, (_, i) => Math.sin(i) * 2),
      ),
      w: tensor(
        'float32',
        [2, 4, 4],
        Array.from({ length: 32 }, (_, i) => Math.cos(i * 0.7)),
      ),
    };
    const r1 = await runOrt(contrib, feeds, ['loss', 'dx', 'dw'], g);
    const r2 = await runOrt(standard, feeds, ['loss', 'dx', 'dw'], g);
    for (const k of ['loss', 'dx', 'dw']) {
      const p = r1[k]!.data as Float32Array;
      const q = r2[k]!.data as Float32Array;
      p.forEach((v, i) => expect(q[i]).to.be.closeTo(v, 1e-4 * Math.max(1, Math.abs(v))));
    }
  });
});
