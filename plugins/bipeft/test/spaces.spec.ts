/**
 * Component tests of BIPEFT's search spaces (method spec §1.3, §1.5): the candidates S1 and S2 put
 * on a backbone, their rank sets, and the parameter counts of the full S1/S2 supernets at r_max,
 * hand-computed here from the closed-form per-module formulas:
 *
 *   LoRA on a linear in→out: r(in + out)         low-rank adapter (width d, m = d/32): 2(d+m)r + m + d
 *   BitFit: output width                         LNFit: LayerNorm width
 *   serial / parallel adapter (d_in → r → d): (d_in + d + 1)r + d = (2d+1)r + d when d_in = d
 *   gated prefix (peftkit variant, docs/modules.md): 2lH + 1
 */
import { expect } from 'chai';
import type { AttachmentPoint, Backbone, BackboneInfo, Candidate } from '@peftkit/api';
import { PeftToolkit } from '@peftkit/nn';
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import { loadUseLite } from '@peftkit/plugin-use-lite';
import { tinyBackbone, tinyTask, toModuleTypes } from '@peftkit/testing';
import { MIXED_ENTRIES, PatternSpace, S1_ENTRIES, S2_ENTRIES } from '../src/spaces.js';

const types = toModuleTypes(builtinModuleTypes);
const s1 = (ranks?: number[]) => new PatternSpace('s1', S1_ENTRIES, ranks ? { ranks } : {});
const s2 = (ranks?: number[]) => new PatternSpace('s2', S2_ENTRIES, ranks ? { ranks } : {});

/** A toolkit over a backbone description only (counting needs nothing else). */
function toolkitFor(info: BackboneInfo): PeftToolkit {
  const backbone = { info } as unknown as Backbone;
  return new PeftToolkit(backbone, tinyTask().info, types);
}

const byId = (cs: readonly Candidate[]) =>
  [...cs]
    .map((c) => ({ id: c.id, type: c.type, point: c.point, ranks: c.ranks, options: c.options }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** The S1 candidates of the spec's encoder block (m0–m7 matrix, v0–v9 vector), written out. */
function expectedS1(layers: number, ranks: number[]) {
  const out: { id: string; type: string; point: string; ranks: number[] | null; options: object }[] = [];
  const add = (type: string, point: string, ranked: boolean, options: object = {}) =>
    out.push({ id: `${type}@${point}`, type, point, ranks: ranked ? ranks : null, options });
  for (let l = 0; l < layers; l++) {
    const p = `layer.${l}`;
    // m0–m5: LoRA on W_q, W_k, W_v, W_o and FFN W_i, W_o.
    for (const x of ['attn.q', 'attn.k', 'attn.v', 'attn.o', 'ffn.in', 'ffn.out'])
      add('lora', `${p}.${x}`, true);
    // m6, m7: low-rank adapters after the attention and the FFN sublayer (bottleneck d/32).
    add('lowrank-adapter', `${p}.attn.sublayer`, true, { reductionFactor: 32 });
    add('lowrank-adapter', `${p}.ffn.sublayer`, true, { reductionFactor: 32 });
    // v0–v3, v6, v7: BitFit on the six projections; v4/v5, v8/v9: BitFit + LNFit on both LNs.
    for (const x of ['attn.q', 'attn.k', 'attn.v', 'attn.o', 'ffn.in', 'ffn.out', 'ln_attn', 'ln_ffn'])
      add('bitfit', `${p}.${x}`, false);
    add('lnfit', `${p}.ln_attn`, false);
    add('lnfit', `${p}.ln_ffn`, false);
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** S2: serial + parallel adapter (GELU) on the FFN sublayer and a gated prefix on self-attention. */
function expectedS2(layers: number, ranks: number[]) {
  const out = [];
  for (let l = 0; l < layers; l++) {
    const p = `layer.${l}`;
    out.push(
      {
        id: `adapter@${p}.ffn.sublayer`,
        type: 'adapter',
        point: `${p}.ffn.sublayer`,
        ranks,
        options: { activation: 'gelu' },
      },
      {
        id: `parallel-adapter@${p}.ffn.sublayer`,
        type: 'parallel-adapter',
        point: `${p}.ffn.sublayer`,
        ranks,
        options: { activation: 'gelu' },
      },
      {
        id: `prefix@${p}.attn.scores`,
        type: 'prefix',
        point: `${p}.attn.scores`,
        ranks,
        options: { style: 'gated' },
      },
    );
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** One T5-large encoder block's points (d = 1024, d_ff = 4096, 16 heads × 64, no biases). */
function t5LargeBlock(): BackboneInfo {
  const d = 1024;
  const dff = 4096;
  const lin = (name: string, i: number, o: number): AttachmentPoint => ({
    name,
    kind: 'linear',
    layer: 0,
    inFeatures: i,
    outFeatures: o,
    hasBias: false,
  });
  const points: AttachmentPoint[] = [
    { name: 'layer.0.ln_attn', kind: 'layernorm', layer: 0, features: d, hasBias: false },
    lin('layer.0.attn.q', d, d),
    lin('layer.0.attn.k', d, d),
    lin('layer.0.attn.v', d, d),
    lin('layer.0.attn.o', d, d),
    { name: 'layer.0.attn.scores', kind: 'attention', layer: 0, heads: 16, headDim: 64 },
    { name: 'layer.0.attn.sublayer', kind: 'sublayer', layer: 0, features: d },
    { name: 'layer.0.ln_ffn', kind: 'layernorm', layer: 0, features: d, hasBias: false },
    lin('layer.0.ffn.in', d, dff),
    lin('layer.0.ffn.out', dff, d),
    { name: 'layer.0.ffn.sublayer', kind: 'sublayer', layer: 0, features: d },
  ];
  return {
    name: 't5-large-block',
    modelType: 't5',
    numLayers: 1,
    pooledSize: d,
    params: 0,
    maxLength: 512,
    pairEncoding: 'separate',
    points,
  };
}

const total = (toolkit: PeftToolkit, cs: readonly Candidate[], rank: number) =>
  cs.reduce((a, c) => a + toolkit.count(c.type, c.point, c.ranks ? rank : null, { ...c.options }), 0);

/** The total of one module type's candidates at `rank` (so a compensating error cannot hide). */
const totalOfType = (toolkit: PeftToolkit, cs: readonly Candidate[], type: string, rank: number) =>
  total(
    toolkit,
    cs.filter((c) => c.type === type),
    rank,
  );

describe('BIPEFT search spaces (spaces.ts)', () => {
  const tiny = tinyBackbone({ hidden: 16, layers: 2 });

  describe('S1 (S3Delta mixed space)', () => {
    it('per layer: LoRA on q,k,v,o,ffn.in,ffn.out; low-rank adapters (d/32) after both sublayers; BitFit; LNFit', () => {
      const def = s1().build(tiny.info, types);
      expect(def.name).to.equal('s1');
      expect(byId(def.candidates)).to.deep.equal(expectedS1(2, [1, 4, 8]));
    });

    it('8 matrix (ranked) and 10 vector (on/off) modules per block, as in the spec', () => {
      const cs = s1().build(tiny.info, types).candidates;
      for (const l of [0, 1]) {
        const inLayer = cs.filter((c) => c.point.startsWith(`layer.${l}.`));
        expect(inLayer.filter((c) => c.ranks).length).to.equal(8);
        expect(inLayer.filter((c) => !c.ranks).length).to.equal(10);
      }
      expect(cs.length).to.equal(36);
    });

    it('T5-large encoder block: per-module sizes and the 196,672 block total of spec §1.5', () => {
      const info = t5LargeBlock();
      const tk = toolkitFor(info);
      const cs = s1().build(info, types).candidates;
      const size = (id: string, r: number | null) => {
        const c = cs.find((x) => x.id === id)!;
        return tk.count(c.type, c.point, r, { ...c.options });
      };
      // §1.5 table: LoRA q/k/v/o 2dr; FFN r(d + d_ff); LRA 2(d+m)r + m + d with m = 32.
      expect([1, 4, 8].map((r) => size('lora@layer.0.attn.q', r))).to.deep.equal([2048, 8192, 16384]);
      expect([1, 4, 8].map((r) => size('lora@layer.0.ffn.in', r))).to.deep.equal([5120, 20480, 40960]);
      expect([1, 4, 8].map((r) => size('lora@layer.0.ffn.out', r))).to.deep.equal([5120, 20480, 40960]);
      expect([1, 4, 8].map((r) => size('lowrank-adapter@layer.0.ffn.sublayer', r))).to.deep.equal([
        3168, 9504, 17952,
      ]);
      expect(size('bitfit@layer.0.attn.o', null)).to.equal(1024);
      expect(size('bitfit@layer.0.ffn.in', null)).to.equal(4096);
      expect(size('bitfit@layer.0.ln_ffn', null)).to.equal(1024);
      expect(size('lnfit@layer.0.ln_attn', null)).to.equal(1024);
      // 4·16,384 + 2·40,960 + 2·17,952 + (6·1,024 + 4,096) + 2·1,024 = 196,672 (spec §1.5).
      expect(total(tk, cs, 8)).to.equal(196_672);
    });

    it('USE-lite at r_max = 8: 163,648 parameters, hand-computed per module from its dims', () => {
      const use = loadUseLite();
      const tk = new PeftToolkit(use, tinyTask().info, types);
      const cs = s1().build(use.info, types).candidates;
      expect(byId(cs)).to.deep.equal(expectedS1(2, [1, 4, 8]));
      // USE-lite dims (docs/backbones.md): layer 0 reads 256 and writes 512 (o: 256→512), layer 1 is
      // 512 throughout; FFN 512→1536→512; the sublayers' outputs are 512 wide (m = 512/32 = 16).
      const dims = [
        { ln: 256, q: [256, 256], o: [256, 512] },
        { ln: 512, q: [512, 512], o: [512, 512] },
      ];
      for (const [l, d] of dims.entries()) {
        const pt = (n: string) => use.info.points.find((p) => p.name === `layer.${l}.${n}`)!;
        expect([pt('attn.q').inFeatures, pt('attn.q').outFeatures]).to.deep.equal(d.q);
        expect([pt('attn.o').inFeatures, pt('attn.o').outFeatures]).to.deep.equal(d.o);
        expect(pt('ln_attn').features).to.equal(d.ln);
        expect([pt('ffn.in').inFeatures, pt('ffn.in').outFeatures]).to.deep.equal([512, 1536]);
        expect(pt('attn.sublayer').features).to.equal(512);
        expect(pt('ffn.sublayer').features).to.equal(512);
      }
      const r = 8;
      const lora = (i: number, o: number) => r * (i + o);
      const lra = (d: number) => 2 * (d + d / 32) * r + d / 32 + d;
      const perLayer = dims.map((d) => {
        const loras = 3 * lora(d.q[0]!, d.q[1]!) + lora(d.o[0]!, d.o[1]!) + lora(512, 1536) + lora(1536, 512);
        const adapters = 2 * lra(512);
        const bitfit = 3 * d.q[1]! + d.o[1]! + 1536 + 512 + d.ln + 512;
        const lnfit = d.ln + 512;
        return { loras, adapters, bitfit, lnfit };
      });
      // Layer 0: LoRA 3·4,096 + 6,144 + 2·16,384 = 51,200; LRA 2·8,976; BitFit 4,096; LNFit 768.
      // Layer 1: LoRA 4·8,192 + 2·16,384 = 65,536; LRA 2·8,976; BitFit 5,120; LNFit 1,024.
      expect(perLayer).to.deep.equal([
        { loras: 51200, adapters: 17952, bitfit: 4096, lnfit: 768 },
        { loras: 65536, adapters: 17952, bitfit: 5120, lnfit: 1024 },
      ]);
      expect(total(tk, cs, 8)).to.equal(74_016 + 89_632);
      expect(total(tk, cs, 8)).to.equal(163_648);
      // And per type, so a compensating error cannot hide.
      expect(totalOfType(tk, cs, 'lora', 8)).to.equal(116_736);
      expect(totalOfType(tk, cs, 'lowrank-adapter', 8)).to.equal(35_904);
      expect(totalOfType(tk, cs, 'bitfit', 8)).to.equal(9_216);
      expect(totalOfType(tk, cs, 'lnfit', 8)).to.equal(1_792);
      // At rank 1: LoRA 116,736/8; LRA 4·(2·528 + 528) = 6,336; vectors unchanged.
      expect(total(tk, cs, 1)).to.equal(116_736 / 8 + 6_336 + 9_216 + 1_792);
    });
  });

  describe('S2 (AutoPEFT space)', () => {
    it('per layer: serial and parallel adapter (GELU) on the FFN sublayer, gated prefix on self-attention', () => {
      const def = s2().build(tiny.info, types);
      expect(def.name).to.equal('s2');
      expect(byId(def.candidates)).to.deep.equal(expectedS2(2, [1, 4, 8]));
    });

    it('SA/PA sizes match spec §1.5 on a T5-large block: (2d+1)r + d = 3,073 / 9,220 / 17,416', () => {
      const info = t5LargeBlock();
      const tk = toolkitFor(info);
      const cs = s2().build(info, types).candidates;
      for (const type of ['adapter', 'parallel-adapter']) {
        const c = cs.find((x) => x.type === type)!;
        expect([1, 4, 8].map((r) => tk.count(c.type, c.point, r, { ...c.options }))).to.deep.equal([
          3073, 9220, 17416,
        ]);
      }
    });

    it('USE-lite at r_max = 8: SA/PA 8,712 each per layer; gated prefix 2·8·H + 1 (H = 256, 512)', () => {
      const use = loadUseLite();
      const tk = new PeftToolkit(use, tinyTask().info, types);
      const cs = s2().build(use.info, types).candidates;
      expect(byId(cs)).to.deep.equal(expectedS2(2, [1, 4, 8]));
      const ad = (2 * 512 + 1) * 8 + 512; // 8,712
      const prefix = [2 * 8 * 4 * 64 + 1, 2 * 8 * 4 * 128 + 1]; // 4,097 and 8,193
      expect(total(tk, cs, 8)).to.equal(2 * (2 * ad) + prefix[0]! + prefix[1]!);
      expect(total(tk, cs, 8)).to.equal(47_138);
      // Rank 1: 2·2·1,537 + 513 + 1,025.
      expect(total(tk, cs, 1)).to.equal(7_686);
    });
  });

  describe('mixed (every manual type at its default positions)', () => {
    it('USE-lite: LoRA ×12, Houlsby adapters ×4, prefixes ×2, BitFit on all 18 linears/LNs, LNFit ×4', () => {
      const use = loadUseLite();
      const tk = new PeftToolkit(use, tinyTask().info, types);
      const cs = new PatternSpace('mixed', MIXED_ENTRIES).build(use.info, types).candidates;
      const ids = (t: string) => cs.filter((c) => c.type === t).map((c) => c.point);
      const layers = (names: string[]) => [0, 1].flatMap((l) => names.map((n) => `layer.${l}.${n}`));
      expect(ids('lora')).to.deep.equal(
        layers(['attn.q', 'attn.k', 'attn.v', 'attn.o', 'ffn.in', 'ffn.out']),
      );
      expect(ids('adapter')).to.deep.equal(layers(['attn.sublayer', 'ffn.sublayer']));
      expect(ids('prefix')).to.deep.equal(layers(['attn.scores']));
      // Manual BitFit's targets: every linear layer and LayerNorm, the residual projection of
      // layer 0 (256 → 512) and the pooler included.
      const vec = ['ln_attn', 'attn.q', 'attn.k', 'attn.v', 'attn.o'];
      expect(ids('bitfit')).to.deep.equal([
        ...layers([...vec, 'attn.residual', 'ln_ffn', 'ffn.in', 'ffn.out']).filter(
          (p) => p !== 'layer.1.attn.residual',
        ),
        'pooler',
      ]);
      expect(ids('lnfit')).to.deep.equal(layers(['ln_attn', 'ln_ffn']));
      expect(cs.length).to.equal(40);
      // Hand-computed at rank 8: LoRA as in S1 (116,736); adapters 4·((2·512+1)·8 + 512) = 34,848 —
      // the manual adapter at 0.5 % of USE-lite, exactly; gated prefixes 2·8·256 + 1 + 2·8·512 + 1;
      // BitFit 4,608 (layer 0) + 5,120 (layer 1) + 512 (pooler) = 10,240 — manual BitFit's count.
      expect(totalOfType(tk, cs, 'lora', 8)).to.equal(116_736);
      expect(totalOfType(tk, cs, 'adapter', 8)).to.equal(34_848);
      expect(totalOfType(tk, cs, 'prefix', 8)).to.equal(4_097 + 8_193);
      expect(totalOfType(tk, cs, 'bitfit', 8)).to.equal(10_240);
      expect(totalOfType(tk, cs, 'lnfit', 8)).to.equal(1_792);
      expect(total(tk, cs, 8)).to.equal(175_906);
    });
  });

  describe('rank sets', () => {
    it('the default candidate ranks are {1, 4, 8}, only on ranked modules', () => {
      for (const space of [s1(), s2(), new PatternSpace('mixed', MIXED_ENTRIES)]) {
        for (const c of space.build(tiny.info, types).candidates) {
          if (c.type === 'bitfit' || c.type === 'lnfit') expect(c.ranks).to.equal(null);
          else expect(c.ranks).to.deep.equal([1, 4, 8]);
        }
      }
    });

    it('a custom `ranks` option is used, ascending (e.g. the large space {1,2,4,8})', () => {
      const cs = s1([8, 2, 4, 1]).build(tiny.info, types).candidates;
      expect(byId(cs)).to.deep.equal(expectedS1(2, [1, 2, 4, 8]));
      const small = s2([2, 1]).build(tiny.info, types).candidates;
      expect(byId(small)).to.deep.equal(expectedS2(2, [1, 2]));
    });

    it('`entries` replaces the default entries', () => {
      const space = new PatternSpace('custom', S1_ENTRIES, {
        entries: [{ type: 'lora', targets: ['layer.1.attn.{q,v}'] }],
        ranks: [2],
      });
      const def = space.build(tiny.info, types);
      expect(def.name).to.equal('custom');
      expect(byId(def.candidates).map((c) => [c.id, c.ranks])).to.deep.equal([
        ['lora@layer.1.attn.q', [2]],
        ['lora@layer.1.attn.v', [2]],
      ]);
    });
  });
});
