/**
 * Supernet behaviour of each module type in one compiled program of the tiny fixture: a gate of 0
 * gives exactly the program without the module, a gate of 1 with a full rank mask gives the plain
 * (ungated) module, and a rank mask keeping r components gives the rank-r module built from the
 * leading slices (for prefixes: the rank-r_max prefix with the rows beyond r zeroed, see prefix.ts).
 */
import { expect } from 'chai';
import { Rng, type ParamSet, type ProgramModule, type ProgramSpec } from '@peftkit/api';
import { buildProgram } from '@peftkit/nn';
import { acceptedPoints, ctx, hardArch, headOf, logits, maxDiff, perturb, toolkit } from './harness.js';

const R_MAX = 4;
const CLOSE = 2e-5;

interface Case {
  type: string;
  options?: Record<string, unknown>;
  ranked: boolean;
}

const cases: Case[] = [
  { type: 'bitfit', ranked: false },
  { type: 'lnfit', ranked: false },
  { type: 'adapter', ranked: true },
  { type: 'adapter', ranked: true, options: { init: 'zero-up', activation: 'gelu' } },
  { type: 'parallel-adapter', ranked: true },
  { type: 'lowrank-adapter', ranked: true, options: { reductionFactor: 4 } },
  { type: 'prefix', ranked: true },
  { type: 'prefix', ranked: true, options: { style: 'concat' } },
  { type: 'prefix', ranked: true, options: { reparam: { hidden: 6 } } },
  { type: 'prefix', ranked: true, options: { style: 'concat', reparam: { hidden: 6 } } },
];

function spec(c: Case, rank: number | null, arch: boolean): ProgramSpec {
  return {
    modules: acceptedPoints(c.type).map((point): ProgramModule => ({
      type: c.type,
      point,
      rank,
      ...(c.options ? { options: c.options } : {}),
      ...(arch ? { gated: true, rankMasked: rank !== null } : {}),
    })),
  };
}

/** Zero the rows >= r of every prefix key/value (what a rank mask of r leaves of a prefix). */
function zeroRowsFrom(params: ParamSet, r: number): ParamSet {
  const out: ParamSet = { ...params };
  for (const name of Object.keys(params)) {
    if (!/^prefix@.*\/(key|value)$/.test(name)) continue;
    const p = params[name]!.slice();
    const H = p.length / R_MAX;
    p.fill(0, r * H);
    out[name] = p;
  }
  return out;
}

describe('supernet behaviour: gates and rank masks switch modules in one compiled program', function () {
  this.timeout(60_000);
  const frozen = buildProgram(ctx, { modules: [] }, 'eval');

  for (const c of cases) {
    const label = `${c.type}${c.options ? ` ${JSON.stringify(c.options)}` : ''}`;
    it(label, async () => {
      const rank = c.ranked ? R_MAX : null;
      const supernetSpec = spec(c, rank, true);
      const supernet = buildProgram(ctx, supernetSpec, 'eval');
      const params = perturb(toolkit.init(supernetSpec, new Rng(3)), 4);
      const head = headOf(params);

      // Gate 0: the frozen backbone and the head, exactly (the concat prefix to float precision).
      const base = await logits(frozen, head);
      const off = await logits(
        supernet,
        params,
        hardArch(supernet, 0, () => R_MAX),
      );
      expect(maxDiff(off, base)).to.be.lessThan(CLOSE);

      // Gate 1 and a full mask: the plain module.
      const plain = buildProgram(ctx, spec(c, rank, false), 'eval');
      const on = await logits(
        supernet,
        params,
        hardArch(supernet, 1, () => R_MAX),
      );
      const want = await logits(plain, params);
      expect(maxDiff(on, want)).to.be.lessThan(CLOSE);
      expect(maxDiff(on, base), 'the module changes the output').to.be.greaterThan(1e-3);
      if (!c.ranked) return;

      // Rank mask keeping 2 of 4 components.
      const masked = await logits(
        supernet,
        params,
        hardArch(supernet, 1, () => 2),
      );
      expect(maxDiff(masked, on), 'the mask changes the output').to.be.greaterThan(1e-3);
      const small = buildProgram(ctx, spec(c, 2, false), 'eval');
      let sliced: ParamSet = { ...head };
      for (const m of supernetSpec.modules) {
        sliced = { ...sliced, ...toolkit.slice(params, c.type, m.point, R_MAX, 2, c.options ?? {}) };
      }
      const rank2 = await logits(small, sliced);
      if (c.type !== 'prefix') {
        expect(maxDiff(masked, rank2)).to.be.lessThan(CLOSE);
      } else if (!c.options?.reparam) {
        // Reference behaviour (§5.3): masked rows are zero keys that still take softmax mass, so the
        // mask equals the rank-4 prefix with rows 2..3 zeroed, not the rank-2 prefix.
        const zeroed = await logits(plain, zeroRowsFrom(params, 2));
        expect(maxDiff(masked, zeroed)).to.be.lessThan(CLOSE);
        expect(maxDiff(masked, rank2)).to.be.greaterThan(1e-6);
      }
    });
  }

  it('the parallel adapter checks the sublayer input width the point declares', () => {
    // A backbone whose layer-0 attention sublayer claims a 5-wide input (the tiny one's is 8).
    const points = ctx.backbone.info.points.map((p) =>
      p.name === 'layer.0.attn.sublayer' ? { ...p, inFeatures: 5 } : p,
    );
    const wrong = { ...ctx, backbone: { ...ctx.backbone, info: { ...ctx.backbone.info, points } } };
    const s: ProgramSpec = {
      modules: [{ type: 'parallel-adapter', point: 'layer.0.attn.sublayer', rank: 2 }],
    };
    expect(() => buildProgram(wrong, s, 'eval')).to.throw(
      /parallel-adapter at layer\.0\.attn\.sublayer: the sublayer input is 8 wide but the point declares 5/,
    );
  });

  it('full fine-tuning cannot be gated', () => {
    expect(() =>
      buildProgram(
        ctx,
        { modules: [{ type: 'full', point: 'layer.0.attn.q', rank: null, gated: true }] },
        'eval',
      ),
    ).to.throw(/full at layer\.0\.attn\.q: full fine-tuning cannot be gated/);
  });

  it('full fine-tuning at its pretrained initialisation computes the frozen model', async () => {
    const s: ProgramSpec = {
      modules: acceptedPoints('full').map((point) => ({ type: 'full', point, rank: null })),
    };
    const params = toolkit.init(s, new Rng(5));
    const program = buildProgram(ctx, s, 'eval');
    const base = await logits(frozen, headOf(params));
    expect(maxDiff(await logits(program, params), base)).to.be.lessThan(1e-6);
    expect(Object.keys(params).length).to.equal(program.layout.params.length);
  });
});
