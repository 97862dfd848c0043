/**
 * Conformance suite for backbones (extension point `backbone`).
 *
 *   import { describeBackbone } from '@peftkit/testing';
 *   describeBackbone('hf (bert)', () => loadHfBackbone({ path: checkpointDir }));
 *
 * It checks the documented contract of Backbone, BackboneInfo, AttachmentPoint and Tokenizer:
 * - the info is consistent (layers, pooled size, parameters, max length, pair encoding) and every
 *   point has a unique name, a known kind, a layer index in range and the dimensions its kind needs;
 * - one `encode` passes every listed point, and no other, to the hook of its kind exactly once
 *   (linear → linear, layernorm → layerNorm, sublayer → sublayer, attention → attentionKeys and
 *   attentionContext, embedding → weight), and every frozen weight the point has goes through
 *   `weight` exactly once with its role (what full fine-tuning replaces);
 * - `pretrained(point)` has the shapes the point's fields describe (linear [in, out] weight and
 *   [out] bias when `hasBias`, LayerNorm [features] scale and shift, embedding [rows, features]);
 * - the tokenizer gives ids inside the vocabulary, truncates to `maxLength` (the backbone's, and a
 *   given one of 8), is deterministic, and gives one segment id per token when it gives any;
 * - the pooled output is [B, pooledSize], finite, the same for a sentence alone and padded in a
 *   batch (padding invariance), in evaluation graphs and in training graphs.
 */
import type { AttachmentKind, AttachmentPoint, Backbone, EncoderHooks, WeightRole } from '@peftkit/api';
import { Graph, type TensorData } from '@peftkit/graph';
import { identityHooks, recordingHooks } from '@peftkit/nn';
import { expect } from 'chai';
import { runGraph } from '../ort-runner.js';
import { type Factory, SUITE_TIMEOUT_MS, maxAbsDiff } from './common.js';
import { mocha } from './mocha.js';

export interface BackboneSuiteOptions {
  /** Sentences (and pairs) to encode; defaults are plain English. */
  texts?: readonly (readonly [string, string?])[];
  /** Largest difference allowed between a sentence alone and padded in a batch (default 1e-4). */
  tolerance?: number;
  /** Per-test time limit in ms (default 60 s). */
  timeout?: number;
}

const DEFAULT_TEXTS: readonly (readonly [string, string?])[] = [
  ['the movie was good', 'a fine film'],
  ['people talked about the storm for weeks and the market opened again', 'the river rose'],
  ['bad', 'it was not bad at all, quite good in fact'],
];

const KIND_HOOK: Record<AttachmentKind, (keyof EncoderHooks)[]> = {
  linear: ['linear'],
  layernorm: ['layerNorm'],
  sublayer: ['sublayer'],
  attention: ['attentionKeys', 'attentionContext'],
  embedding: ['weight'],
};

/** Shapes of the frozen weights a point's fields describe. */
function expectedWeights(p: AttachmentPoint): Partial<Record<WeightRole, number[]>> | null {
  switch (p.kind) {
    case 'linear':
      return { weight: [p.inFeatures!, p.outFeatures!], ...(p.hasBias ? { bias: [p.outFeatures!] } : {}) };
    case 'layernorm':
      return { scale: [p.features!], ...(p.hasBias ? { shift: [p.features!] } : {}) };
    case 'embedding':
      return { table: [p.rows!, p.features!] };
    default:
      return null;
  }
}

function pointProblem(p: AttachmentPoint, numLayers: number): string | null {
  const pos = (v: number | undefined) => Number.isInteger(v) && v! > 0;
  if (p.layer !== undefined && !(Number.isInteger(p.layer) && p.layer >= 0 && p.layer < numLayers))
    return `layer ${p.layer} outside [0, ${numLayers})`;
  switch (p.kind) {
    case 'linear':
      return pos(p.inFeatures) && pos(p.outFeatures)
        ? null
        : 'a linear point needs inFeatures and outFeatures';
    case 'layernorm':
    case 'sublayer':
      return pos(p.features) ? null : `a ${p.kind} point needs features`;
    case 'attention':
      return pos(p.heads) && pos(p.headDim) ? null : 'an attention point needs heads and headDim';
    case 'embedding':
      return pos(p.rows) && pos(p.features) ? null : 'an embedding point needs rows and features';
    default:
      return `unknown kind "${String((p as { kind: unknown }).kind)}"`;
  }
}

/** Pad encodings to one length; ids, mask and (joint pairs) segment ids as feeds. */
function batch(b: Backbone, items: readonly (readonly [string, string?])[]): Record<string, TensorData> {
  const joint = b.info.pairEncoding === 'joint';
  const enc = items.map(([a, p]) => b.tokenizer.encode(a, joint ? p : undefined));
  const T = Math.max(...enc.map((e) => e.ids.length));
  const ids = new BigInt64Array(items.length * T).fill(BigInt(b.tokenizer.padId));
  const types = new BigInt64Array(items.length * T);
  const mask = new Float32Array(items.length * T);
  enc.forEach((e, r) => {
    e.ids.forEach((id, t) => {
      ids[r * T + t] = BigInt(id);
      mask[r * T + t] = 1;
      types[r * T + t] = BigInt(e.typeIds?.[t] ?? 0);
    });
  });
  const feeds: Record<string, TensorData> = {
    ids: { dtype: 'int64', shape: [items.length, T], data: ids },
    mask: { dtype: 'float32', shape: [items.length, T], data: mask },
  };
  if (joint) feeds.type_ids = { dtype: 'int64', shape: [items.length, T], data: types };
  return feeds;
}

/** The encoder graph with identity hooks, outputting the pooled representation. */
function encoderGraph(b: Backbone, train: boolean, hooks?: (g: Graph) => EncoderHooks): Graph {
  const g = new Graph('conformance-encoder');
  const ids = g.input('ids', 'int64', ['B', 'T']);
  const mask = g.input('mask', 'float32', ['B', 'T']);
  const typeIds = b.info.pairEncoding === 'joint' ? g.input('type_ids', 'int64', ['B', 'T']) : undefined;
  const pooled = b.encode(g, { ids, mask, typeIds }, hooks ? hooks(g) : identityHooks(g), { train });
  g.output(pooled, 'pooled');
  return g;
}

export function describeBackbone(
  name: string,
  factory: Factory<Backbone>,
  opts: BackboneSuiteOptions = {},
): void {
  const { describe, it } = mocha('describeBackbone');
  const texts = opts.texts ?? DEFAULT_TEXTS;
  const tol = opts.tolerance ?? 1e-4;

  describe(`backbone ${name} (conformance)`, function () {
    this.timeout(opts.timeout ?? SUITE_TIMEOUT_MS);
    let created: Promise<Backbone> | undefined;
    const backbone = () => (created ??= Promise.resolve(factory()));

    it('describes itself consistently and lists well-formed, uniquely named attachment points', async () => {
      const { info } = await backbone();
      expect(info.name, 'info.name').to.be.a('string').and.not.equal('');
      expect(info.modelType, 'info.modelType').to.be.a('string').and.not.equal('');
      for (const f of ['numLayers', 'pooledSize', 'params', 'maxLength'] as const) {
        expect(Number.isInteger(info[f]) && info[f] > 0, `info.${f} = ${info[f]}`).to.equal(true);
      }
      expect(['joint', 'separate'], 'info.pairEncoding').to.include(info.pairEncoding);
      expect(info.points.length, 'at least one attachment point').to.be.greaterThan(0);
      const names = new Set<string>();
      for (const p of info.points) {
        expect(names.has(p.name), `point ${p.name} is listed twice`).to.equal(false);
        names.add(p.name);
        const problem = pointProblem(p, info.numLayers);
        expect(problem, `point ${p.name} (${p.kind}): ${problem}`).to.equal(null);
      }
    });

    it('passes every listed point to the hook of its kind exactly once per encode, and its weights through weight()', async () => {
      const b = await backbone();
      for (const train of [false, true]) {
        const calls: { point: string; hook: keyof EncoderHooks }[] = [];
        const roles: string[] = [];
        encoderGraph(b, train, (g) => {
          const inner = identityHooks(g);
          return recordingHooks(
            {
              ...inner,
              weight: (point, role, frozen) => {
                roles.push(`${point}.${role}:${frozen.shape.join('x')}`);
                return inner.weight(point, role, frozen);
              },
            },
            calls,
          );
        });
        const mode = train ? 'training graph' : 'evaluation graph';
        const listed = new Map(b.info.points.map((p) => [p.name, p]));
        for (const c of calls) {
          expect(
            listed.has(c.point),
            `${mode}: ${c.hook} hook called for unlisted point ${c.point}`,
          ).to.equal(true);
        }
        for (const p of b.info.points) {
          for (const [kind, hooks] of Object.entries(KIND_HOOK) as [
            AttachmentKind,
            (keyof EncoderHooks)[],
          ][]) {
            for (const h of hooks) {
              if (h === 'weight' && p.kind !== 'embedding') continue; // weights are checked by role below
              const n = calls.filter((c) => c.point === p.name && c.hook === h).length;
              expect(n, `${mode}: ${p.name} (${p.kind}) received ${n} ${h} calls`).to.equal(
                kind === p.kind ? 1 : 0,
              );
            }
          }
          const want = expectedWeights(p) ?? {};
          const got = roles.filter((r) => r.startsWith(`${p.name}.`)).sort();
          const expected = Object.entries(want)
            .map(([role, shape]) => `${p.name}.${role}:${shape.join('x')}`)
            .sort();
          expect(got, `${mode}: weight() calls (role:shape) of ${p.name}`).to.deep.equal(expected);
        }
      }
    });

    it("has pretrained weights of the shapes its points' fields describe", async () => {
      const b = await backbone();
      for (const p of b.info.points) {
        const want = expectedWeights(p);
        const got = b.pretrained(p.name);
        if (!want) continue;
        for (const [role, shape] of Object.entries(want)) {
          const t = got[role as WeightRole];
          expect(t, `pretrained(${p.name}).${role} is missing`).to.not.equal(undefined);
          expect(t!.shape, `pretrained(${p.name}).${role} shape`).to.deep.equal(shape);
          expect(t!.data.length, `pretrained(${p.name}).${role} size`).to.equal(
            shape.reduce((a, c) => a * c, 1),
          );
        }
      }
    });

    it('tokenizes into the vocabulary, truncates to maxLength, deterministically', async () => {
      const { tokenizer, info } = await backbone();
      expect(Number.isInteger(tokenizer.vocabSize) && tokenizer.vocabSize > 0, 'vocabSize').to.equal(true);
      expect(
        Number.isInteger(tokenizer.padId) && tokenizer.padId >= 0 && tokenizer.padId < tokenizer.vocabSize,
        'padId',
      ).to.equal(true);
      const long = Array.from({ length: 4 * info.maxLength }, (_, i) => texts[i % texts.length]![0]).join(
        ' ',
      );
      for (const [a, pair] of [...texts, [long, long] as const]) {
        for (const p of info.pairEncoding === 'joint' ? [undefined, pair] : [undefined]) {
          const e = tokenizer.encode(a, p);
          const what = `encode(${JSON.stringify(a.slice(0, 40))}${p !== undefined ? ', pair' : ''})`;
          expect(e.ids.length, `${what}: no tokens`).to.be.greaterThan(0);
          expect(e.ids.length, `${what}: longer than maxLength ${info.maxLength}`).to.be.at.most(
            info.maxLength,
          );
          for (const id of e.ids) {
            expect(
              Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize,
              `${what}: id ${id} outside the vocabulary`,
            ).to.equal(true);
          }
          if (e.typeIds !== undefined) {
            // Segment ids are optional (DistilBERT encodes pairs jointly without them).
            expect(e.typeIds.length, `${what}: one segment id per token`).to.equal(e.ids.length);
            for (const t of e.typeIds)
              expect(Number.isInteger(t) && t >= 0, `${what}: segment id ${t}`).to.equal(true);
          }
          expect(tokenizer.encode(a, p), `${what} is not deterministic`).to.deep.equal(e);
          // 8 leaves room for the special tokens of a pair and a token of each side.
          const short = tokenizer.encode(a, p, 8);
          expect(short.ids.length, `${what} with maxLength 8`).to.be.at.most(8);
        }
      }
    });

    it('pools to [B, pooledSize], finite, and the same for a sentence alone and padded in a batch', async () => {
      const b = await backbone();
      const g = encoderGraph(b, false);
      const all = await runGraph(g, batch(b, texts), ['pooled']);
      const pooled = all.pooled!;
      expect(pooled.shape, 'pooled shape').to.deep.equal([texts.length, b.info.pooledSize]);
      expect(
        Array.from(pooled.data as Float32Array).every(Number.isFinite),
        'pooled values are finite',
      ).to.equal(true);
      const P = b.info.pooledSize;
      for (let i = 0; i < texts.length; i++) {
        const alone = (await runGraph(g, batch(b, [texts[i]!]), ['pooled'])).pooled!.data as Float32Array;
        const inBatch = (pooled.data as Float32Array).subarray(i * P, (i + 1) * P);
        const d = maxAbsDiff(alone, inBatch);
        expect(d, `sentence ${i}: pooled output alone vs padded in a batch differs by ${d}`).to.be.at.most(
          tol,
        );
      }
    });

    it('builds a training graph that runs to finite values', async () => {
      const b = await backbone();
      const out = await runGraph(encoderGraph(b, true), batch(b, texts), ['pooled']);
      expect(out.pooled!.shape).to.deep.equal([texts.length, b.info.pooledSize]);
      expect(Array.from(out.pooled!.data as Float32Array).every(Number.isFinite)).to.equal(true);
    });
  });
}
