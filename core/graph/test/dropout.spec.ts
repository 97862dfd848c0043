import { expect } from 'chai';
import { Graph, gradients, ops, serialize, tensor } from '../src/index.js';
import { runOrt } from './ort.js';

describe('Dropout', () => {
  it('backpropagates through the kept elements, scaled by 1/(1-p)', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [64]);
    const { output, mask } = ops.dropout(x, 0.25, 3);
    const w = g.initializer(
      'w',
      tensor(
        'float32',
        [64],
        Array.from({ length: 64 }, (_, i) => i / 10 - 3),
      ),
    );
    const loss = ops.reduceSum(ops.mul(output, w), null, false);
    g.output(mask, 'mask');
    g.output(gradients(loss, [x]).get(x)!, 'dx');
    const r = await runOrt(
      serialize(g),
      { x: tensor('float32', [64], new Array(64).fill(1)) },
      ['mask', 'dx'],
      g,
    );
    const m = r.mask!.data as Uint8Array;
    const dx = r.dx!.data as Float32Array;
    let dropped = 0;
    for (let i = 0; i < 64; i++) {
      const want = m[i] ? (i / 10 - 3) / 0.75 : 0;
      expect(dx[i]).to.be.closeTo(want, 1e-5);
      if (!m[i]) dropped++;
    }
    expect(dropped).to.be.greaterThan(0).and.lessThan(64);
  });
});
