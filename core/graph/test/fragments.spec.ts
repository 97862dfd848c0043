/** Straight-through estimators and Gumbel-softmax fragments: forward values and gradients. */
import { expect } from 'chai';
import {
  Graph,
  gradients,
  gumbelSoftmax,
  ops,
  serialize,
  stopGradient,
  straightThrough,
  tensor,
} from '../src/index.js';
import { runOrt } from './ort.js';

describe('search fragments', () => {
  it('stopGradient passes values forward and no gradient back', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    const loss = ops.reduceSum(ops.add(ops.mul(stopGradient(x), x), x), null, false);
    g.output(gradients(loss, [x]).get(x)!, 'dx');
    const r = await runOrt(serialize(g), { x: tensor('float32', [3], [1, 2, 3]) }, ['dx'], g);
    // d/dx [sg(x)·x + x] = sg(x) + 1
    expect(Array.from(r.dx!.data as Float32Array)).to.deep.equal([2, 3, 4]);
  });

  it('straightThrough has the hard forward value and the soft gradient', async () => {
    const g = new Graph();
    const s = g.input('s', 'float32', [3]);
    const soft = ops.softmax(s, -1);
    const hard = g.constant(tensor('float32', [3], [0, 1, 0]));
    const y = straightThrough(hard, soft);
    const w = g.constant(tensor('float32', [3], [1, 2, 3]));
    const loss = ops.reduceSum(ops.mul(y, w), null, false);
    g.output(y, 'y');
    g.output(gradients(loss, [s]).get(s)!, 'ds');
    const logits = [0.1, 0.5, -0.3];
    const r = await runOrt(serialize(g), { s: tensor('float32', [3], logits) }, ['y', 'ds'], g);
    expect(Array.from(r.y!.data as Float32Array)).to.deep.equal([0, 1, 0]);
    // Gradient of sum(softmax(s)·w): p ⊙ (w − p·w)
    const e = logits.map(Math.exp);
    const z = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / z);
    const pw = p[0]! * 1 + p[1]! * 2 + p[2]! * 3;
    (r.ds!.data as Float32Array).forEach((v, i) => expect(v).to.be.closeTo(p[i]! * (i + 1 - pw), 1e-6));
  });

  it('gumbelSoftmax (hard) is one-hot at argmax((logits + g)/τ) and differentiates the soft sample', async () => {
    const g = new Graph();
    const l = g.input('l', 'float32', [2, 4]);
    const u = g.input('u', 'float32', [2, 4]);
    const y = gumbelSoftmax(l, u, 0.5, true);
    g.output(y, 'y');
    const w = g.constant(tensor('float32', [2, 4], [1, 2, 3, 4, 4, 3, 2, 1]));
    g.output(gradients(ops.reduceSum(ops.mul(y, w), null, false), [l]).get(l)!, 'dl');
    const logits = [0.2, -0.1, 0.4, 0.0, 1.0, 0.3, -0.5, 0.2];
    const noise = [0.3, 0.9, 0.5, 0.1, 0.6, 0.2, 0.8, 0.4];
    const r = await runOrt(
      serialize(g),
      { l: tensor('float32', [2, 4], logits), u: tensor('float32', [2, 4], noise) },
      ['y', 'dl'],
      g,
    );
    const yv = r.y!.data as Float32Array;
    for (let row = 0; row < 2; row++) {
      const z = logits
        .slice(row * 4, row * 4 + 4)
        .map((v, i) => (v - Math.log(-Math.log(noise[row * 4 + i]!))) / 0.5);
      const arg = z.indexOf(Math.max(...z));
      expect(Array.from(yv.subarray(row * 4, row * 4 + 4))).to.deep.equal(
        [0, 1, 2, 3].map((i) => (i === arg ? 1 : 0)),
      );
      const m = Math.max(...z);
      const ez = z.map((v) => Math.exp(v - m));
      const s = ez.reduce((a, b) => a + b, 0);
      const p = ez.map((v) => v / s);
      const wr = [1, 2, 3, 4, 4, 3, 2, 1].slice(row * 4, row * 4 + 4);
      const pw = p.reduce((a, v, i) => a + v * wr[i]!, 0);
      // d/dl_i of Σ softmax(z)·w with z = (l + g)/τ: p_i (w_i − p·w) / τ
      for (let i = 0; i < 4; i++)
        expect((r.dl!.data as Float32Array)[row * 4 + i]).to.be.closeTo((p[i]! * (wr[i]! - pw)) / 0.5, 1e-5);
    }
  });
});
