/** The module's output on one vector, worked out by hand, through ONNX Runtime. */
import type { ModuleBuildContext } from '@peftkit/api';
import { Graph, tensor } from '@peftkit/graph';
import { runGraph } from '@peftkit/testing';
import assert from 'node:assert/strict';
import { __CLASS__ } from '../src/index.js';

const point = { name: 'layer.0.attn.q', kind: 'linear', inFeatures: 3, outFeatures: 3 } as const;

describe('__NAME__ values (by hand)', () => {
  it('has one zero-initialised scale per output channel', () => {
    assert.deepEqual(__CLASS__.params(point, null, {}), [{ name: 'scale', shape: [3] }]);
    assert.deepEqual(Array.from(__CLASS__.init(point, null, {}, undefined as never, {}).scale!), [0, 0, 0]);
  });

  it('computes y + g·(y ⊙ s): y = (1, 2, 3), s = (0.5, 0, −1), g = 0.5 → (1.25, 2, 1.5)', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [1, 3]);
    const y = g.input('y', 'float32', [1, 3]);
    const s = g.input('s', 'float32', [3]);
    const gate = g.input('gate', 'float32', []);
    const ctx = {
      g,
      point,
      rank: null,
      options: {},
      train: false,
      param: () => s,
      gate,
      gateDetached: null,
      rankMask: null,
      rankMaskDetached: null,
    } as unknown as ModuleBuildContext;
    g.output(__CLASS__.apply(ctx, { kind: 'linear', x, y }) as never, 'out');
    const r = await runGraph(
      g,
      {
        x: tensor('float32', [1, 3], [0, 0, 0]),
        y: tensor('float32', [1, 3], [1, 2, 3]),
        s: tensor('float32', [3], [0.5, 0, -1]),
        gate: tensor('float32', [], [0.5]),
      },
      ['out'],
    );
    assert.deepEqual(Array.from(r.out!.data as Float32Array), [1.25, 2, 1.5]);
  });
});
