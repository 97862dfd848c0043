/**
 * Exact parameter counts of every module type against the closed-form formulas of the reference
 * (bipeft-method.md §1.5, §5), at plain attachment points with the widths of USE-lite and of the
 * reference's T5-large table, and the nested-slicing contract of the rank axes.
 */
import { expect } from 'chai';
import type { AttachmentPoint, PeftModuleType } from '@peftkit/api';
import { ConfigError } from '@peftkit/api';
import { builtinModuleTypes, lowrankDims, storedParams } from '../src/index.js';

const count = (type: string, point: AttachmentPoint, rank: number | null, options = {}) =>
  builtinModuleTypes[type]!.params(point, rank, options).reduce(
    (a, s) => a + s.shape.reduce((x, y) => x * y, 1),
    0,
  );

const linear = (name: string, i: number, o: number, hasBias = true): AttachmentPoint => ({
  name,
  kind: 'linear',
  inFeatures: i,
  outFeatures: o,
  hasBias,
});
const ln = (name: string, f: number, hasBias = true): AttachmentPoint => ({
  name,
  kind: 'layernorm',
  features: f,
  hasBias,
});
const sublayer = (name: string, f: number, inFeatures?: number): AttachmentPoint => ({
  name,
  kind: 'sublayer',
  features: f,
  ...(inFeatures ? { inFeatures } : {}),
});
const attention = (name: string, heads: number, headDim: number): AttachmentPoint => ({
  name,
  kind: 'attention',
  heads,
  headDim,
});

describe('parameter counts', () => {
  describe("the reference's T5-large table (d = 1024, d_ff = 4096, m = 32; no biases)", () => {
    const d = 1024;
    const dff = 4096;
    const q = linear('layer.0.attn.q', d, d, false);
    const wi = linear('layer.0.ffn.in', d, dff, false);
    const wo = linear('layer.0.ffn.out', dff, d, false);
    const norm = ln('layer.0.ln_attn', d, false);
    const ffn = sublayer('layer.0.ffn.sublayer', d);

    it('LoRA on W_q: 2dr = 2,048 / 8,192 / 16,384', () => {
      expect([1, 4, 8].map((r) => count('lora', q, r))).to.deep.equal([2048, 8192, 16384]);
    });
    it('LoRA on W_i: r(d + d_ff) = 5,120 / 20,480 / 40,960', () => {
      expect([1, 4, 8].map((r) => count('lora', wi, r))).to.deep.equal([5120, 20480, 40960]);
    });
    it('low-rank adapter: 2(d + m)r + m + d = 3,168 / 9,504 / 17,952', () => {
      expect(lowrankDims(ffn, {})).to.deep.equal({ d: 1024, m: 32 });
      expect([1, 4, 8].map((r) => count('lowrank-adapter', ffn, r))).to.deep.equal([3168, 9504, 17952]);
    });
    it('S2 serial and parallel adapter: (2d + 1)r + d = 3,073 / 9,220 / 17,416', () => {
      for (const t of ['adapter', 'parallel-adapter'])
        expect([1, 4, 8].map((r) => count(t, ffn, r))).to.deep.equal([3073, 9220, 17416]);
    });
    it('BitFit: d = 1,024 on q/k/v/o, W_o and LayerNorms; d_ff = 4,096 on W_i', () => {
      expect(count('bitfit', q, null)).to.equal(1024);
      expect(count('bitfit', wo, null)).to.equal(1024);
      expect(count('bitfit', norm, null)).to.equal(1024);
      expect(count('bitfit', wi, null)).to.equal(4096);
    });
    it('LNFit: d = 1,024', () => {
      expect(count('lnfit', norm, null)).to.equal(1024);
    });
    it('prefix (16 heads × 64): 2lH (+1 for the gated style); reparam counts the MLP', () => {
      const a = attention('layer.0.attn.scores', 16, 64);
      const H = 1024;
      for (const l of [1, 4, 8]) {
        expect(count('prefix', a, l, { style: 'concat' })).to.equal(2 * l * H);
        expect(count('prefix', a, l)).to.equal(2 * l * H + 1);
        const hidden = 512;
        expect(count('prefix', a, l, { style: 'concat', reparam: { hidden } })).to.equal(
          l * H + H * hidden + hidden + hidden * 2 * H + 2 * H,
        );
        expect(storedParams(a, l, { style: 'concat', reparam: { hidden } })).to.equal(2 * l * H);
        expect(storedParams(a, l, { reparam: { hidden } })).to.equal(2 * l * H + 1);
      }
    });
    it('full fine-tuning: the size of the weights (no biases in T5)', () => {
      expect(count('full', q, null)).to.equal(d * d);
      expect(count('full', wi, null)).to.equal(d * dff);
      expect(count('full', norm, null)).to.equal(d);
      expect(
        count('full', { name: 'embeddings.word', kind: 'embedding', rows: 32100, features: d }, null),
      ).to.equal(32100 * d);
    });
  });

  describe('USE-lite widths', () => {
    // layer 0: 256 in, q/k/v 256→256, o and residual 256→512, FFN 512→1536→512, 4 heads × 64.
    // layer 1: 512 wide, q/k/v/o 512→512, FFN 512→1536→512, 4 heads × 128.
    const pts = {
      ln0: ln('layer.0.ln_attn', 256),
      q0: linear('layer.0.attn.q', 256, 256),
      o0: linear('layer.0.attn.o', 256, 512),
      res0: linear('layer.0.attn.residual', 256, 512),
      attn0: sublayer('layer.0.attn.sublayer', 512, 256),
      scores0: attention('layer.0.attn.scores', 4, 64),
      lnf0: ln('layer.0.ln_ffn', 512),
      in0: linear('layer.0.ffn.in', 512, 1536),
      out0: linear('layer.0.ffn.out', 1536, 512),
      ffn0: sublayer('layer.0.ffn.sublayer', 512),
      q1: linear('layer.1.attn.q', 512, 512),
      scores1: attention('layer.1.attn.scores', 4, 128),
      pooler: linear('pooler', 512, 512),
    };
    it('LoRA r(in + out)', () => {
      for (const r of [1, 4, 8]) {
        expect(count('lora', pts.q0, r)).to.equal(r * (256 + 256));
        expect(count('lora', pts.o0, r)).to.equal(r * (256 + 512));
        expect(count('lora', pts.res0, r)).to.equal(r * (256 + 512));
        expect(count('lora', pts.in0, r)).to.equal(r * (512 + 1536));
        expect(count('lora', pts.q1, r)).to.equal(r * (512 + 512));
      }
    });
    it('BitFit and LNFit: the output / normalised width', () => {
      expect(count('bitfit', pts.q0, null)).to.equal(256);
      expect(count('bitfit', pts.o0, null)).to.equal(512);
      expect(count('bitfit', pts.in0, null)).to.equal(1536);
      expect(count('bitfit', pts.ln0, null)).to.equal(256);
      expect(count('lnfit', pts.ln0, null)).to.equal(256);
      expect(count('lnfit', pts.lnf0, null)).to.equal(512);
    });
    it('adapters: 2dr + r + d; the parallel adapter reads the 256-wide input of layer 0 attention', () => {
      for (const r of [1, 4, 8]) {
        const d = 512;
        expect(count('adapter', pts.attn0, r)).to.equal(2 * d * r + r + d);
        expect(count('adapter', pts.ffn0, r)).to.equal(2 * d * r + r + d);
        expect(count('parallel-adapter', pts.ffn0, r)).to.equal(2 * d * r + r + d);
        expect(count('parallel-adapter', pts.attn0, r)).to.equal((256 + d + 1) * r + d);
        // m = 512 / 32 = 16
        expect(count('lowrank-adapter', pts.ffn0, r)).to.equal(2 * (d + 16) * r + 16 + d);
        expect(count('lowrank-adapter', pts.ffn0, r, { reductionFactor: 8 })).to.equal(
          2 * (d + 64) * r + 64 + d,
        );
      }
    });
    it('prefix: 2·l·heads·headDim (+1)', () => {
      for (const l of [1, 4, 8]) {
        expect(count('prefix', pts.scores0, l, { style: 'concat' })).to.equal(2 * l * 256);
        expect(count('prefix', pts.scores1, l)).to.equal(2 * l * 512 + 1);
      }
    });
    it('full: weight + bias, scale + shift, table', () => {
      expect(count('full', pts.o0, null)).to.equal(256 * 512 + 512);
      expect(count('full', pts.pooler, null)).to.equal(512 * 512 + 512);
      expect(count('full', pts.ln0, null)).to.equal(2 * 256);
      expect(
        count('full', { name: 'embeddings.word', kind: 'embedding', rows: 8002, features: 256 }, null),
      ).to.equal(8002 * 256);
    });
    it('the bottleneck m is at least 1', () => {
      expect(lowrankDims(sublayer('s', 16), {}).m).to.equal(1);
    });
  });

  it('a rank-r module is the leading r slices of the rank-r_max module along each rank axis', () => {
    const cases: [PeftModuleType, AttachmentPoint, Record<string, unknown>][] = [
      [builtinModuleTypes.lora!, linear('l', 12, 20), {}],
      [builtinModuleTypes.adapter!, sublayer('s', 24), {}],
      [builtinModuleTypes['parallel-adapter']!, sublayer('s', 24, 16), {}],
      [builtinModuleTypes['lowrank-adapter']!, sublayer('s', 64), { reductionFactor: 8 }],
      [builtinModuleTypes.prefix!, attention('a', 2, 6), {}],
      [builtinModuleTypes.prefix!, attention('a', 2, 6), { style: 'concat', reparam: { hidden: 7 } }],
    ];
    for (const [type, point, options] of cases) {
      const big = type.params(point, 8, options);
      const small = type.params(point, 3, options);
      expect(small.map((s) => s.name)).to.deep.equal(big.map((s) => s.name));
      big.forEach((s, i) => {
        const want = s.shape.map((n, ax) => (ax === s.rankAxis ? 3 : n));
        expect(small[i]!.shape, `${type.name} ${s.name}`).to.deep.equal(want);
        if (s.rankAxis !== undefined) expect(s.shape[s.rankAxis]).to.equal(8);
      });
      expect(big.some((s) => s.rankAxis !== undefined)).to.equal(true);
    }
  });

  describe('options are checked with errors that name the option', () => {
    const sub = sublayer('layer.0.ffn.sublayer', 16);
    const cases: [string, AttachmentPoint, Record<string, unknown>, RegExp][] = [
      [
        'adapter',
        sub,
        { activation: 'tanh' },
        /adapter module options\.activation: got "tanh", expected relu \| gelu/,
      ],
      ['adapter', sub, { bottleneck: 4 }, /unknown option "bottleneck"; adapter takes activation, init/],
      [
        'lowrank-adapter',
        sub,
        { reductionFactor: 0 },
        /options\.reductionFactor: got 0, expected an integer >= 1/,
      ],
      [
        'prefix',
        attention('a', 2, 4),
        { style: 'prepend' },
        /options\.style: got "prepend", expected gated \| concat/,
      ],
      ['prefix', attention('a', 2, 4), { reparam: {} }, /prefix reparam module options\.hidden: missing/],
      ['bitfit', linear('l', 4, 4), { alpha: 1 }, /unknown option "alpha"; bitfit takes no options/],
    ];
    for (const [type, point, options, message] of cases) {
      it(`${type} ${JSON.stringify(options)}`, () => {
        expect(() => builtinModuleTypes[type]!.params(point, 2, options)).to.throw(ConfigError, message);
      });
    }
  });
});
