/**
 * Conformance suite for PEFT module types (extension point `peft-module`).
 *
 *   import { describePeftModuleType } from '@peftkit/testing';
 *   describePeftModuleType('lora', () => lora);
 *   describePeftModuleType('adapter', () => adapter, { options: { activation: 'gelu' } });
 *
 * On the tiny fixture transformer (2 layers, hidden 8, 2 heads), at every attachment point the type
 * accepts, it checks the documented contract of PeftModuleType:
 * - it declares its kinds, accepts at least one point of the fixture, and has a name and order;
 * - `params` gives uniquely named parameters of positive shapes whose sizes add up to the count
 *   (the budget arithmetic rests on it), at every rank;
 * - ranked types grow only along each parameter's `rankAxis` (other axes fixed, the rank axis
 *   increasing with the rank), and cutting rank-r_max parameters to rank r (the toolkit's `slice`)
 *   gives the rank-r sizes; unranked types declare no `rankAxis`;
 * - `init` returns every declared parameter at its size, finite, the same for the same seed;
 * - `apply` returns, at every hook call of its points, a value of the site's shape and type (for
 *   attention keys: keys, values and mask bias that agree), and the composed program runs to
 *   finite logits;
 * - gated off (gate 0) the module is the identity, gated on (gate 1) it changes the output
 *   (unless `gateable: false`, for types such as full fine-tuning that refuse gates);
 * - the gradients of the composed train program's loss with respect to the module's parameters,
 *   its gates and its rank masks match central finite differences (set `options` that make the
 *   module smooth, e.g. a GELU activation instead of ReLU);
 * - ranked, rank-maskable types where `exactRankSlice(options)` holds (the default): at every smaller rank r,
 *   the rank-r_max program with a rank mask keeping the leading r components gives the outputs of
 *   the rank-r program fed with the leading slices of the same parameters (the toolkit's `slice`);
 *   where it is false, they differ at some r (the declaration is not needless);
 * - when `merge` is provided, folding the trained parameters into the frozen weights gives the
 *   same outputs as the module.
 */
import type {
  AttachmentPoint,
  AttentionKV,
  Backbone,
  HookResult,
  HookSite,
  ModuleTypes,
  ParamSet,
  PeftModuleType,
  ProgramModule,
  ProgramSpec,
  WeightRole,
} from '@peftkit/api';
import { Rng, moduleId, siteValue } from '@peftkit/api';
import { type TensorData, type Value, dimEquals, shapeToString } from '@peftkit/graph';
import {
  type BuiltProgram,
  PeftToolkit,
  batchFeeds,
  buildProgram,
  encodeExamples,
  paramFeeds,
} from '@peftkit/nn';
import { expect } from 'chai';
import { tinyBackbone, tinyTask } from '../fixtures.js';
import { runGraph } from '../ort-runner.js';
import { type Factory, SUITE_TIMEOUT_MS, maxAbsDiff, toModuleTypes } from './common.js';
import { mocha } from './mocha.js';

export interface PeftModuleTypeSuiteOptions {
  /** Per-module options used in every check (default {}). */
  options?: Record<string, unknown>;
  /** Ranks to check ranked types at, ascending (default [1, 2, 4]); programs use the largest. */
  ranks?: readonly number[];
  /** The type supports architecture gates (default true). */
  gateable?: boolean;
  /** A ranked type supports rank masks (default true). */
  rankMaskable?: boolean;
  /** Largest relative error of the finite-difference gradient check (default 5e-3, float32). */
  gradientTolerance?: number;
  /** The backbone to attach to (default: the tiny fixture transformer, hidden 8). */
  backbone?: Backbone;
  /** Per-test time limit in ms (default 60 s). */
  timeout?: number;
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Add N(0, scale²) noise to every tensor: zero-initialised factors would hide a module's effect. */
function perturb(params: ParamSet, seed: number, scale = 0.3): ParamSet {
  const rng = new Rng(seed);
  const out: ParamSet = {};
  for (const [k, v] of Object.entries(params)) out[k] = Float32Array.from(v, (x) => x + rng.normal() * scale);
  return out;
}

const f32 = (data: Float32Array): TensorData => ({ dtype: 'float32', shape: [data.length], data });

function sameShape(a: Value, b: Value): boolean {
  return a.rank === b.rank && a.shape.every((d, i) => dimEquals(d, b.shape[i]!));
}

/** Why `result` does not fit `site`, or null. */
function siteResultProblem(site: HookSite, result: HookResult): string | null {
  if (site.kind === 'attention-keys') {
    const kv = result as AttentionKV;
    if (!kv || !kv.k || !kv.v || !kv.maskBias) return 'attention-keys must return { k, v, maskBias }';
    const [k0, v0] = [site.kv.k, site.kv.v];
    for (const [what, got, was] of [
      ['k', kv.k, k0],
      ['v', kv.v, v0],
    ] as const) {
      if (got.rank !== 4 || ![0, 1, 3].every((i) => dimEquals(got.shape[i]!, was.shape[i]!)))
        return `${what} ${shapeToString(got.shape)} must keep batch, heads and head width of ${shapeToString(was.shape)}`;
      if (got.dtype !== was.dtype) return `${what} is ${got.dtype}, expected ${was.dtype}`;
    }
    if (!dimEquals(kv.k.shape[2]!, kv.v.shape[2]!)) return 'k and v must have the same number of positions';
    const m = kv.maskBias;
    if (m.rank !== 4 || !dimEquals(m.shape[3]!, kv.k.shape[2]!) || !dimEquals(m.shape[0]!, k0.shape[0]!))
      return `maskBias ${shapeToString(m.shape)} must be [B, 1, 1, positions of k ${String(kv.k.shape[2])}]`;
    return null;
  }
  const was = siteValue(site) as Value;
  const got = result as Value;
  if (!got || typeof got !== 'object' || !('shape' in got)) return 'must return a graph value';
  if (!sameShape(got, was))
    return `returned ${shapeToString(got.shape)}, the site's value is ${shapeToString(was.shape)}`;
  if (got.dtype !== was.dtype) return `returned ${got.dtype}, the site's value is ${was.dtype}`;
  return null;
}

class Harness {
  readonly backbone: Backbone;
  readonly types: ModuleTypes;
  readonly toolkit: PeftToolkit;
  readonly points: AttachmentPoint[];
  readonly rank: number | null;
  private readonly encoded;
  private readonly task = tinyTask({ train: 16, validation: 4, test: 4 });

  constructor(
    readonly type: PeftModuleType,
    readonly opts: PeftModuleTypeSuiteOptions,
    readonly ranks: readonly number[],
  ) {
    this.backbone = opts.backbone ?? tinyBackbone({ hidden: 8, layers: 2, heads: 2 });
    this.types = toModuleTypes([type]);
    this.toolkit = new PeftToolkit(this.backbone, this.task.info, this.types);
    this.points = this.backbone.info.points.filter(
      (p) => type.attachesTo.includes(p.kind) && type.accepts(p),
    );
    this.rank = type.ranked ? ranks[ranks.length - 1]! : null;
    this.encoded = encodeExamples(
      this.backbone.tokenizer,
      this.task.splits.train,
      'none',
      this.backbone.info.maxLength,
    );
  }

  get options(): Record<string, unknown> {
    return this.opts.options ?? {};
  }

  spec(points: readonly AttachmentPoint[], extra: Partial<ProgramModule> = {}): ProgramSpec {
    return {
      modules: points.map((p) => ({
        type: this.type.name,
        point: p.name,
        rank: this.rank,
        options: this.options,
        ...extra,
      })),
    };
  }

  build(spec: ProgramSpec, mode: 'train' | 'eval', types = this.types, inline?: ParamSet): BuiltProgram {
    return buildProgram(
      { backbone: this.backbone, task: this.task.info, types },
      spec,
      mode,
      inline ? { inlineParams: inline, merge: true } : {},
    );
  }

  params(spec: ProgramSpec, seed: number): ParamSet {
    return perturb(this.toolkit.init(spec, new Rng(seed)), seed + 1);
  }

  feeds(
    built: BuiltProgram,
    params: ParamSet | null,
    arch: {
      gates?: Float32Array;
      gatesDetached?: Float32Array;
      masks?: Float32Array;
      masksDetached?: Float32Array;
    } = {},
  ): Record<string, TensorData> {
    const train = built.graph.inputs.some((v) => v.name === 'labels');
    const feeds: Record<string, TensorData> = {
      ...batchFeeds(this.encoded, [0, 1, 2, 3, 4], built.layout, this.backbone.tokenizer.padId, train),
      ...(params ? paramFeeds(built.layout, params) : {}),
    };
    if (built.layout.gated.length) {
      feeds.gates = f32(arch.gates!);
      feeds.gates_detached = f32(arch.gatesDetached ?? arch.gates!);
    }
    if (built.layout.rankMasked.length) {
      feeds.rank_masks = f32(arch.masks!);
      feeds.rank_masks_detached = f32(arch.masksDetached ?? arch.masks!);
    }
    return feeds;
  }

  async logits(built: BuiltProgram, params: ParamSet | null, arch = {}): Promise<Float32Array> {
    return (await runGraph(built.graph, this.feeds(built, params, arch), ['logits'])).logits!
      .data as Float32Array;
  }

  /**
   * Logits of the rank-r_max program over every point with rank masks keeping the leading `r`
   * components (1 for the first r, 0 for the rest, gradient-carrying and detached copies alike),
   * and of the rank-r program without masks fed with the leading slices of the same parameters.
   */
  async maskedAndSliced(r: number, seed: number): Promise<{ masked: Float32Array; sliced: Float32Array }> {
    const rmax = this.rank!;
    const bigSpec = this.spec(this.points, { rankMasked: true });
    const params = this.params(bigSpec, seed);
    const big = this.build(bigSpec, 'eval');
    const R = big.layout.rankMasked.reduce((a, m) => a + m.length, 0);
    const masks = new Float32Array(R);
    for (const m of big.layout.rankMasked) masks.fill(1, m.offset, m.offset + Math.min(r, m.length));
    const masked = await this.logits(big, params, { masks, masksDetached: masks });
    // The head is shared; every module's parameters are cut from r_max to r.
    const cut: ParamSet = { 'head/weight': params['head/weight']!, 'head/bias': params['head/bias']! };
    for (const p of this.points)
      Object.assign(cut, this.toolkit.slice(params, this.type.name, p.name, rmax, r, this.options));
    const sliced = await this.logits(this.build(this.spec(this.points, { rank: r }), 'eval'), cut);
    return { masked, sliced };
  }
}

/**
 * Largest excess of |a - b| over the float32 tolerance atol + rtol·|b| (numpy's allclose with
 * atol = rtol = 1e-5), 0 when every element is within it, with the largest absolute difference.
 */
function closeness(a: Float32Array, b: Float32Array, tol = 1e-5): { excess: number; maxAbs: number } {
  let excess = 0;
  for (let i = 0; i < a.length; i++)
    excess = Math.max(excess, Math.abs(a[i]! - b[i]!) - tol * (1 + Math.abs(b[i]!)));
  return { excess, maxAbs: maxAbsDiff(a, b) };
}

export function describePeftModuleType(
  name: string,
  factory: Factory<PeftModuleType>,
  opts: PeftModuleTypeSuiteOptions = {},
): void {
  const { describe, it } = mocha('describePeftModuleType');
  const ranks = opts.ranks ?? [1, 2, 4];
  const gateable = opts.gateable ?? true;
  const tolerance = opts.gradientTolerance ?? 5e-3;

  describe(`PEFT module type ${name} (conformance)`, function () {
    this.timeout(opts.timeout ?? SUITE_TIMEOUT_MS);
    let made: Promise<Harness> | undefined;
    const harness = () => (made ??= Promise.resolve(factory()).then((t) => new Harness(t, opts, ranks)));

    it('declares its kinds and order, and accepts at least one point of the fixture backbone', async () => {
      const h = await harness();
      const t = h.type;
      expect(t.name, 'name').to.be.a('string').and.not.equal('');
      expect(t.description, 'description').to.be.a('string').and.not.equal('');
      expect(t.attachesTo.length, 'attachesTo lists at least one kind').to.be.greaterThan(0);
      for (const k of t.attachesTo)
        expect(['linear', 'layernorm', 'sublayer', 'attention', 'embedding']).to.include(k);
      expect(Number.isFinite(t.order), 'order is a number').to.equal(true);
      expect(typeof t.ranked, 'ranked').to.equal('boolean');
      expect(
        h.points.length,
        `accepts no point of kinds ${t.attachesTo.join(', ')} on the fixture`,
      ).to.be.greaterThan(0);
    });

    it('declares uniquely named parameters whose sizes add up to its count, at every rank', async () => {
      const h = await harness();
      for (const p of h.points) {
        for (const r of h.type.ranked ? ranks : [null]) {
          const specs = h.type.params(p, r, h.options);
          const at = `${p.name} rank ${r}`;
          expect(specs.length, `${at}: no parameters`).to.be.greaterThan(0);
          expect(new Set(specs.map((s) => s.name)).size, `${at}: parameter names repeat`).to.equal(
            specs.length,
          );
          for (const s of specs) {
            expect(
              /^[A-Za-z0-9_.-]+$/.test(s.name),
              `${at}: parameter name "${s.name}" (letters, digits, _ . -)`,
            ).to.equal(true);
            expect(
              s.shape.every((d) => Number.isInteger(d) && d > 0),
              `${at}: ${s.name} shape [${s.shape.join(', ')}]`,
            ).to.equal(true);
          }
          const total = specs.reduce((a, s) => a + sizeOf(s.shape), 0);
          expect(h.toolkit.count(h.type.name, p.name, r, h.options), `${at}: count`).to.equal(total);
        }
      }
    });

    it('grows only along rankAxis as the rank grows, and slices consistently', async () => {
      const h = await harness();
      for (const p of h.points) {
        if (!h.type.ranked) {
          for (const s of h.type.params(p, null, h.options))
            expect(s.rankAxis, `${p.name}: unranked ${s.name} declares a rankAxis`).to.equal(undefined);
          continue;
        }
        const byRank = ranks.map((r) => h.type.params(p, r, h.options));
        const top = byRank[byRank.length - 1]!;
        expect(
          top.some((s) => s.rankAxis !== undefined),
          `${p.name}: a ranked type needs a parameter with a rankAxis`,
        ).to.equal(true);
        byRank.forEach((specs, i) => {
          expect(
            specs.map((s) => s.name),
            `${p.name}: parameter names at rank ${ranks[i]}`,
          ).to.deep.equal(top.map((s) => s.name));
          specs.forEach((s, j) => {
            const big = top[j]!;
            expect(s.rankAxis, `${p.name}/${s.name}: rankAxis differs between ranks`).to.equal(big.rankAxis);
            expect(s.shape.length, `${p.name}/${s.name}: rank of the tensor`).to.equal(big.shape.length);
            s.shape.forEach((d, axis) => {
              if (axis === s.rankAxis) {
                if (i > 0) {
                  const prev = byRank[i - 1]![j]!.shape[axis]!;
                  expect(d, `${p.name}/${s.name}: axis ${axis} must grow with the rank`).to.be.greaterThan(
                    prev,
                  );
                }
              } else {
                expect(d, `${p.name}/${s.name}: axis ${axis} changes with the rank`).to.equal(
                  big.shape[axis],
                );
              }
            });
          });
        });
        // Cutting the largest-rank parameters to each smaller rank gives that rank's sizes.
        const rmax = ranks[ranks.length - 1]!;
        const full = h.toolkit.init(h.spec([p]), new Rng(3));
        for (const r of ranks.slice(0, -1)) {
          const cut = h.toolkit.slice(full, h.type.name, p.name, rmax, r, h.options);
          for (const s of h.type.params(p, r, h.options)) {
            const v = cut[`${moduleId(h.type.name, p.name)}/${s.name}`];
            expect(v?.length, `${p.name}/${s.name} cut from rank ${rmax} to ${r}`).to.equal(sizeOf(s.shape));
          }
        }
      }
    });

    it('initialises every parameter at its declared size, finite, the same for the same seed', async () => {
      const h = await harness();
      for (const p of h.points) {
        for (const r of h.type.ranked ? ranks : [null]) {
          const init = (seed: number) =>
            h.type.init(p, r, h.options, new Rng(seed), h.backbone.pretrained(p.name));
          const a = init(11);
          const specs = h.type.params(p, r, h.options);
          expect(Object.keys(a).sort(), `${p.name} rank ${r}: init keys`).to.deep.equal(
            specs.map((s) => s.name).sort(),
          );
          for (const s of specs) {
            const v = a[s.name]!;
            expect(v, `${p.name}/${s.name}`).to.be.instanceOf(Float32Array);
            expect(v.length, `${p.name}/${s.name} size`).to.equal(sizeOf(s.shape));
            expect(v.every(Number.isFinite), `${p.name}/${s.name} has non-finite values`).to.equal(true);
          }
          expect(init(11), `${p.name} rank ${r}: init with the same seed`).to.deep.equal(a);
        }
      }
    });

    it("returns values of the site's shape at every hook it is applied to, and the composed program runs", async () => {
      const h = await harness();
      const calls: { point: string; site: HookSite; result: HookResult }[] = [];
      const recording: PeftModuleType = Object.assign(Object.create(h.type) as PeftModuleType, {
        apply(ctx: Parameters<PeftModuleType['apply']>[0], site: HookSite): HookResult {
          const result = h.type.apply(ctx, site);
          calls.push({ point: ctx.point.name, site, result });
          return result;
        },
      });
      const spec = h.spec(h.points);
      let built: BuiltProgram | null = null;
      let buildError: unknown = null;
      try {
        built = h.build(spec, 'eval', toModuleTypes([recording]));
      } catch (e) {
        buildError = e; // a value of the wrong shape usually breaks a later node: report the value first
      }
      for (const c of calls) {
        const problem = siteResultProblem(c.site, c.result);
        expect(problem, `apply at ${c.point} (${c.site.kind} site): ${problem}`).to.equal(null);
      }
      if (buildError) throw buildError;
      for (const p of h.points) {
        expect(
          calls.some((c) => c.point === p.name),
          `apply was never called at ${p.name}`,
        ).to.equal(true);
      }
      const logits = await h.logits(built!, h.params(spec, 21));
      expect(logits.length, 'logits of 5 examples').to.equal(5 * 2);
      expect(logits.every(Number.isFinite), 'logits are finite').to.equal(true);
    });

    if (gateable) {
      it('is the identity when gated off (gate 0), and changes the output when gated on', async () => {
        const h = await harness();
        const spec = h.spec(h.points, { gated: true });
        const params = h.params(spec, 31);
        const gatedProgram = h.build(spec, 'eval');
        const head = { 'head/weight': params['head/weight']!, 'head/bias': params['head/bias']! };
        const plain = await h.logits(h.build({ modules: [] }, 'eval'), head);
        const G = gatedProgram.layout.gated.length;
        expect(G, 'gated modules in the program').to.equal(h.points.length);
        const off = await h.logits(gatedProgram, params, { gates: new Float32Array(G) });
        const on = await h.logits(gatedProgram, params, { gates: new Float32Array(G).fill(1) });
        expect(maxAbsDiff(off, plain), 'gate 0: logits differ from the frozen model').to.be.at.most(1e-5);
        expect(
          maxAbsDiff(on, plain),
          'gate 1: the module (with random parameters) has no effect',
        ).to.be.greaterThan(1e-6);
      });
    }

    it('has gradients (parameters, gates, rank masks) that match finite differences through a composed train program', async () => {
      const h = await harness();
      const chosen = [...new Set([h.points[0]!, h.points[h.points.length - 1]!])];
      const masked = h.type.ranked && (opts.rankMaskable ?? true);
      const spec = h.spec(chosen, { gated: gateable, rankMasked: masked });
      const built = h.build(spec, 'train');
      const { layout } = built;
      const params = h.params(spec, 41);
      const G = layout.gated.length;
      const R = layout.rankMasked.reduce((a, m) => a + m.length, 0);
      const gates = Float32Array.from({ length: G }, (_, i) => 0.5 + (i % 3) * 0.25);
      const masks = Float32Array.from({ length: R }, (_, i) => 0.3 + (i % 5) * 0.15);
      const arch = (gv: Float32Array, mv: Float32Array) => ({
        gates: gv,
        gatesDetached: gates,
        masks: mv,
        masksDetached: masks,
      });
      const lossAt = async (p: ParamSet, gv = gates, mv = masks) =>
        (await runGraph(built.graph, h.feeds(built, p, arch(gv, mv)), ['loss'])).loss!.data[0] as number;
      const fetch = ['loss', ...layout.params.map((p) => `grad:${p.name}`)];
      if (G) fetch.push('grad:gates');
      if (R) fetch.push('grad:rank_masks');
      const out = await runGraph(built.graph, h.feeds(built, params, arch(gates, masks)), fetch);
      const eps = 1e-2;
      let worst = { err: 0, what: '' };
      const check = (what: string, analytic: number, plus: number, minus: number) => {
        const numeric = (plus - minus) / (2 * eps);
        const err = Math.abs(numeric - analytic) / Math.max(Math.abs(numeric), Math.abs(analytic), 1e-2);
        if (err > worst.err) worst = { err, what: `${what}: analytic ${analytic}, numeric ${numeric}` };
      };
      const rng = new Rng(43);
      const moduleParams = layout.params.filter((p) => !p.name.startsWith('head/'));
      for (const p of moduleParams) {
        const g = out[`grad:${p.name}`]!.data as Float32Array;
        for (let n = 0; n < 2; n++) {
          const i = rng.int(g.length);
          const shifted = (d: number) => {
            const v = params[p.name]!.slice();
            v[i]! += d;
            return { ...params, [p.name]: v };
          };
          check(`${p.name}[${i}]`, g[i]!, await lossAt(shifted(eps)), await lossAt(shifted(-eps)));
        }
      }
      const shift = (v: Float32Array, i: number, d: number) => {
        const c = v.slice();
        c[i]! += d;
        return c;
      };
      if (G > 0) {
        const dg = out['grad:gates']!.data as Float32Array;
        expect(
          dg.some((v) => Math.abs(v) > 1e-7),
          'no gate carries a gradient: the architecture could not learn (multiply by ctx.gate; ctx.gateDetached is for factors without gradient)',
        ).to.equal(true);
      }
      if (R > 0) {
        const dm = out['grad:rank_masks']!.data as Float32Array;
        expect(
          dm.some((v) => Math.abs(v) > 1e-7),
          'no rank mask entry carries a gradient (use ctx.rankMask; ctx.rankMaskDetached is for factors without gradient)',
        ).to.equal(true);
      }
      for (let i = 0; i < G; i++) {
        const dg = out['grad:gates']!.data as Float32Array;
        check(
          `gate ${i}`,
          dg[i]!,
          await lossAt(params, shift(gates, i, eps)),
          await lossAt(params, shift(gates, i, -eps)),
        );
      }
      for (const i of [...new Set([0, Math.floor(R / 2), R - 1])].filter((x) => x >= 0 && x < R)) {
        const dm = out['grad:rank_masks']!.data as Float32Array;
        check(
          `rank mask ${i}`,
          dm[i]!,
          await lossAt(params, gates, shift(masks, i, eps)),
          await lossAt(params, gates, shift(masks, i, -eps)),
        );
      }
      expect(worst.err, `worst gradient error ${worst.what}`).to.be.lessThan(tolerance);
    });

    // A rank mask of r over the rank-r_max module vs the rank-r module cut from the same parameters
    // (what strategies rely on to fold a frozen rank into a smaller program). The two programs
    // differ only by components whose activations are multiplied by exact zeros, so the outputs
    // agree up to float32 reassociation in the kernels (reductions over r_max vs r terms, a few
    // ulp per op through two layers and layer norms): 1e-5 absolute plus 1e-5 relative is ~100
    // ulp of the O(1) logits, far above that noise and far below any real difference (a wrong
    // scaling or a masked row that still takes softmax mass moves the logits by ~1e-3 or more).
    it('with a rank mask keeping r components computes the rank-r module from the leading slices (exactRankSlice)', async function () {
      const h = await harness();
      const smaller = ranks.slice(0, -1);
      if (
        !h.type.ranked ||
        !(opts.rankMaskable ?? true) ||
        h.type.exactRankSlice?.(h.options) === false ||
        !smaller.length
      )
        this.skip();
      const diffs: string[] = [];
      const bad: number[] = [];
      for (const r of smaller) {
        const { masked, sliced } = await h.maskedAndSliced(r, 61 + r);
        expect(masked.every(Number.isFinite), `rank mask ${r} of ${h.rank}: finite logits`).to.equal(true);
        const { excess, maxAbs } = closeness(masked, sliced);
        diffs.push(`r=${r}: ${maxAbs}`);
        if (excess > 0) bad.push(r);
      }
      expect(
        bad,
        `a rank mask keeping r of ${h.rank} components differs from the rank-r module built from the leading slices (max |diff| ${diffs.join(', ')}); let exactRankSlice(options) return false where the type cannot be folded this way`,
      ).to.deep.equal([]);
    });

    it('differs from the rank-r module at some r when exactRankSlice(options) is false', async function () {
      const h = await harness();
      const smaller = ranks.slice(0, -1);
      if (
        !h.type.ranked ||
        !(opts.rankMaskable ?? true) ||
        (h.type.exactRankSlice?.(h.options) ?? true) ||
        !smaller.length
      )
        this.skip();
      const diffs: string[] = [];
      let differs = false;
      for (const r of smaller) {
        const { masked, sliced } = await h.maskedAndSliced(r, 61 + r);
        const { excess, maxAbs } = closeness(masked, sliced);
        diffs.push(`r=${r}: ${maxAbs}`);
        if (excess > 0) differs = true;
      }
      expect(
        differs,
        `exactRankSlice(options) is false, but every rank mask computes the sliced module (max |diff| ${diffs.join(', ')}): the flag keeps strategies from folding needlessly`,
      ).to.equal(true);
    });

    it('merges into the frozen weights without changing the outputs (when merge is provided)', async function () {
      const h = await harness();
      if (!h.type.merge) this.skip();
      const spec = h.spec(h.points);
      const params = h.params(spec, 51);
      // Fold each point's module into every frozen weight it merges into; a module that merged
      // into at least one weight is left out of the program (its effect now lives in the weights).
      const folded = new Map<string, TensorData>();
      const unmerged: ProgramModule[] = [];
      for (const m of spec.modules) {
        const p = h.points.find((x) => x.name === m.point)!;
        const id = moduleId(h.type.name, p.name);
        const local: Record<string, Float32Array> = {};
        for (const s of h.type.params(p, h.rank, h.options)) local[s.name] = params[`${id}/${s.name}`]!;
        let any = false;
        for (const [role, frozen] of Object.entries(h.backbone.pretrained(p.name))) {
          const merged = h.type.merge!(p, h.rank, h.options, local, role as WeightRole, frozen!);
          if (!merged) continue;
          any = true;
          expect(merged.shape, `merged ${p.name}.${role} shape`).to.deep.equal(frozen!.shape);
          expect(merged.data.length, `merged ${p.name}.${role} size`).to.equal(frozen!.data.length);
          folded.set(`${p.name}.${role}`, merged);
        }
        if (!any) unmerged.push(m);
      }
      expect(
        folded.size,
        'merge is provided but returned null for every weight of every point',
      ).to.be.greaterThan(0);
      const withModules = await h.logits(h.build(spec, 'eval'), params);
      // Frozen weights are initializers named <point>.<role> (identity hooks of @peftkit/nn).
      const mergedProgram = h.build({ modules: unmerged }, 'eval');
      let replaced = 0;
      for (const [v, init] of mergedProgram.graph.initializers) {
        const data = folded.get(v.name);
        if (data) {
          (init as { data: TensorData }).data = data;
          replaced++;
        }
      }
      expect(replaced, 'frozen weights found in the program').to.equal(folded.size);
      const kept = new Set(mergedProgram.layout.params.map((p) => p.name));
      const keptParams = Object.fromEntries(Object.entries(params).filter(([k]) => kept.has(k)));
      const mergedLogits = await h.logits(mergedProgram, keptParams);
      expect(maxAbsDiff(withModules, mergedLogits), 'merged model vs model with modules').to.be.at.most(1e-4);
    });
  });
}
