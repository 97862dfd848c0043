/**
 * Every module type's fragment through the composed train program of the tiny fixture transformer
 * (2 layers, hidden 8, 2 heads): the gradients of its parameters, gates and rank masks against
 * central finite differences of the loss.
 */
import { expect } from 'chai';
import type { ProgramModule } from '@peftkit/api';
import { encoded, gradientCheck, pointsOf } from './harness.js';

const TOLERANCE = 5e-3;

const mods = (type: string, points: string[], extra: Partial<ProgramModule> = {}): ProgramModule[] =>
  points.map((point) => ({ type, point, rank: null, ...extra }));

describe('gradients through the composed train program match finite differences', function () {
  this.timeout(60_000);

  it('bitfit at linear and LayerNorm points (gated)', async () => {
    const points = ['layer.0.attn.q', 'layer.1.ffn.in', 'layer.0.ln_ffn', 'layer.1.ln_attn'];
    const r = await gradientCheck(
      { modules: mods('bitfit', points, { gated: true }) },
      {
        seed: 10,
        params: Object.fromEntries(points.map((p) => [`bitfit@${p}/bias`, 3])),
        gateEntries: [0, 1, 2, 3],
      },
    );
    expect(r.worst).to.be.lessThan(TOLERANCE);
  });

  it('lnfit (gated), alone and composed with bitfit on the same LayerNorm', async () => {
    const points = pointsOf('layernorm');
    const r = await gradientCheck(
      {
        modules: [
          ...mods('lnfit', points, { gated: true }),
          { type: 'bitfit', point: 'layer.1.ln_ffn', rank: null, gated: true },
        ],
      },
      {
        seed: 20,
        params: {
          'lnfit@layer.0.ln_attn/gamma': 4,
          'lnfit@layer.1.ln_ffn/gamma': 4,
          'bitfit@layer.1.ln_ffn/bias': 2,
        },
        gateEntries: [0, 1, 2, 3, 4],
      },
    );
    expect(r.worst).to.be.lessThan(TOLERANCE);
  });

  for (const type of ['adapter', 'parallel-adapter']) {
    it(`${type} at every sublayer (gated, rank-masked)`, async () => {
      const points = pointsOf('sublayer');
      const id = (p: string) => `${type}@${p}`;
      const r = await gradientCheck(
        {
          modules: points.map((point) => ({
            type,
            point,
            rank: 3,
            gated: true,
            rankMasked: true,
            // GELU: finite differences across a ReLU kink would be meaningless.
            options: { activation: 'gelu' },
          })),
        },
        {
          seed: 30,
          params: {
            [`${id('layer.0.attn.sublayer')}/down`]: 3,
            [`${id('layer.0.attn.sublayer')}/down_bias`]: 2,
            [`${id('layer.1.ffn.sublayer')}/up`]: 3,
            [`${id('layer.1.ffn.sublayer')}/up_bias`]: 2,
          },
          gateEntries: [0, 3],
          maskEntries: [0, 4, 11],
        },
      );
      expect(r.worst).to.be.lessThan(TOLERANCE);
    });
  }

  it('lowrank-adapter at every sublayer (gated, rank-masked), composed with a serial adapter', async () => {
    const points = pointsOf('sublayer');
    const id = (p: string) => `lowrank-adapter@${p}`;
    const r = await gradientCheck(
      {
        modules: [
          ...points.map((point) => ({
            type: 'lowrank-adapter',
            point,
            rank: 3,
            gated: true,
            rankMasked: true,
            options: { reductionFactor: 4 },
          })),
          { type: 'adapter', point: 'layer.1.ffn.sublayer', rank: 2, options: { activation: 'gelu' } },
        ],
      },
      {
        seed: 40,
        params: Object.fromEntries(
          ['down_left', 'down_right', 'down_bias', 'up_left', 'up_right', 'up_bias'].map((n, i) => [
            `${id(points[i % points.length]!)}/${n}`,
            2,
          ]),
        ),
        gateEntries: [0, 1, 2, 3],
        maskEntries: [0, 2, 5, 10],
      },
    );
    expect(r.worst).to.be.lessThan(TOLERANCE);
  });

  it('prefix: gated style on layer 0, concat style with an MLP re-parameterisation on layer 1', async () => {
    const [a0, a1] = pointsOf('attention') as [string, string];
    const r = await gradientCheck(
      {
        modules: [
          { type: 'prefix', point: a0, rank: 3, gated: true, rankMasked: true },
          {
            type: 'prefix',
            point: a1,
            rank: 3,
            gated: true,
            rankMasked: true,
            options: { style: 'concat', reparam: { hidden: 5 } },
          },
        ],
      },
      {
        seed: 50,
        params: {
          [`prefix@${a0}/key`]: 3,
          [`prefix@${a0}/value`]: 3,
          [`prefix@${a0}/lambda`]: [0],
          [`prefix@${a1}/embedding`]: 3,
          [`prefix@${a1}/mlp_w1`]: 2,
          [`prefix@${a1}/mlp_b2`]: 2,
        },
        gateEntries: [0, 1],
        maskEntries: [0, 2, 3, 5],
      },
    );
    expect(r.worst).to.be.lessThan(TOLERANCE);
  });

  it('prefix: concat style on layer 0, gated style with an MLP re-parameterisation on layer 1', async () => {
    const [a0, a1] = pointsOf('attention') as [string, string];
    const r = await gradientCheck(
      {
        modules: [
          { type: 'prefix', point: a0, rank: 3, gated: true, rankMasked: true, options: { style: 'concat' } },
          {
            type: 'prefix',
            point: a1,
            rank: 2,
            gated: true,
            rankMasked: true,
            options: { reparam: { hidden: 4 } },
          },
        ],
      },
      {
        seed: 60,
        params: {
          [`prefix@${a0}/key`]: 3,
          [`prefix@${a0}/value`]: 3,
          [`prefix@${a1}/mlp_w2`]: 3,
          [`prefix@${a1}/lambda`]: [0],
        },
        gateEntries: [0, 1],
        maskEntries: [0, 1, 3, 4],
      },
    );
    expect(r.worst).to.be.lessThan(TOLERANCE);
  });

  it('full fine-tuning of the embedding table (Gather scatter-add), a LayerNorm and a linear', async () => {
    // Rows of tokens that occur in the checked batch, one of them twice in a sentence if possible.
    const ids = [...encoded[0]!.ids, ...encoded[1]!.ids];
    const width = 8;
    const rows = [...new Set(ids)].slice(0, 3);
    const tableCoords = rows.flatMap((row, k) => [row * width + k, row * width + 7 - k]);
    const r = await gradientCheck(
      {
        modules: [
          { type: 'full', point: 'embeddings.word', rank: null },
          { type: 'full', point: 'layer.0.ln_attn', rank: null },
          { type: 'full', point: 'layer.1.attn.v', rank: null },
          // Composed with a branch on the same point: LoRA reads the trainable weight's input.
          { type: 'lora', point: 'layer.1.attn.v', rank: 2 },
        ],
      },
      {
        seed: 70,
        params: {
          'full@embeddings.word/table': tableCoords,
          'full@layer.0.ln_attn/scale': 3,
          'full@layer.0.ln_attn/shift': 3,
          'full@layer.1.attn.v/weight': 3,
          'full@layer.1.attn.v/bias': 2,
        },
      },
    );
    expect(r.worst).to.be.lessThan(TOLERANCE);
  });
});
