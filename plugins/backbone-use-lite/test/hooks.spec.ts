/**
 * Hook coverage: every attachment point the backbone lists reaches the hook of its kind exactly once
 * per encode call, no hook sees an unlisted point, and every hook's return value is really used.
 */
import type { AttachmentKind, EncoderHooks } from '@peftkit/api';
import { Graph, type Value, ops } from '@peftkit/graph';
import { identityHooks, recordingHooks } from '@peftkit/nn';
import { expect } from 'chai';
import { loadUseLite } from '../src/index.js';
import { maxAbsDiff, runBatch, session } from './ort.js';
import { realSentences } from './sentences.js';

type HookName = keyof EncoderHooks;

const HOOKS_OF_KIND: Record<AttachmentKind, HookName[]> = {
  linear: ['linear'],
  layernorm: ['layerNorm'],
  sublayer: ['sublayer'],
  attention: ['attentionKeys', 'attentionContext'],
  embedding: [],
};

function encoderGraph(): { g: Graph; ids: Value; mask: Value } {
  const g = new Graph('hooks');
  return { g, ids: g.input('ids', 'int64', ['B', 'T']), mask: g.input('mask', 'float32', ['B', 'T']) };
}

describe('use-lite attachment points and hooks', () => {
  const backbone = loadUseLite();
  const points = backbone.info.points;

  it('lists the documented points', () => {
    const perLayer = (i: number, residual: boolean) =>
      [
        'ln_attn',
        'attn.q',
        'attn.k',
        'attn.v',
        'attn.scores',
        'attn.o',
        ...(residual ? ['attn.residual'] : []),
        'attn.sublayer',
        'ln_ffn',
        'ffn.in',
        'ffn.out',
        'ffn.sublayer',
      ].map((n) => `layer.${i}.${n}`);
    expect(points.map((p) => p.name)).to.deep.equal([
      'embeddings.word',
      ...perLayer(0, true),
      ...perLayer(1, false),
      'pooler',
    ]);
  });

  it('calls the hook of each point kind exactly once per encode, twice for two encodes (pairs)', () => {
    const { g, ids, mask } = encoderGraph();
    const calls: { point: string; hook: HookName }[] = [];
    const hooks = recordingHooks(identityHooks(g), calls);
    for (const encodes of [1, 2]) {
      backbone.encode(g, { ids, mask }, hooks, { train: encodes === 2 });
      const count = (point: string, hook: HookName) =>
        calls.filter((c) => c.point === point && c.hook === hook).length;
      for (const p of points) {
        for (const hook of ['linear', 'layerNorm', 'sublayer', 'attentionKeys', 'attentionContext'] as const)
          expect(count(p.name, hook), `${p.name} ${hook}`).to.equal(
            HOOKS_OF_KIND[p.kind].includes(hook) ? encodes : 0,
          );
        // Weights: one call per frozen role (weight+bias, scale+shift, table), none for the others.
        const roles = Object.keys(backbone.pretrained(p.name)).length;
        expect(roles, p.name).to.equal(
          { linear: 2, layernorm: 2, embedding: 1, sublayer: 0, attention: 0 }[p.kind],
        );
        expect(count(p.name, 'weight'), `${p.name} weight`).to.equal(roles * encodes);
      }
      const listed = new Set(points.map((p) => p.name));
      expect(calls.filter((c) => !listed.has(c.point))).to.deep.equal([]);
    }
  });

  it('uses the value every hook returns (perturbing any one point changes the embedding)', async function () {
    // One graph: the unperturbed encoder plus one encoder per (point, hook) with that hook's result
    // scaled by 1.5; all share the frozen initializers.
    const { g, ids, mask } = encoderGraph();
    const base = identityHooks(g);
    g.output(backbone.encode(g, { ids, mask }, base, { train: false }), 'base');
    const cases: string[] = [];
    for (const p of points) {
      for (const hook of [...HOOKS_OF_KIND[p.kind], ...(p.kind === 'embedding' ? ['weight' as const] : [])]) {
        const at = (point: string) => point === p.name;
        const scale = (v: Value) => ops.mul(v, 1.5);
        const hooks: EncoderHooks = {
          ...base,
          weight: (q, r, d) =>
            hook === 'weight' && at(q) ? scale(base.weight(q, r, d)) : base.weight(q, r, d),
          linear: (q, x, y) => (hook === 'linear' && at(q) ? scale(y) : y),
          layerNorm: (q, x, y) => (hook === 'layerNorm' && at(q) ? scale(y) : y),
          sublayer: (q, x, y) => (hook === 'sublayer' && at(q) ? scale(y) : y),
          attentionKeys: (q, kv) => (hook === 'attentionKeys' && at(q) ? { ...kv, k: scale(kv.k) } : kv),
          attentionContext: (q, _q, c) => (hook === 'attentionContext' && at(q) ? scale(c) : c),
        };
        const name = `out${cases.length}`;
        g.output(backbone.encode(g, { ids, mask }, hooks, { train: false }), name);
        cases.push(`${p.name} ${hook}`);
      }
    }
    const s = await session(g);
    const rows = realSentences(2).map((t) => backbone.tokenizer.encode(t).ids);
    const names = ['base', ...cases.map((_, i) => `out${i}`)];
    const out = await runBatch(s, rows, backbone.tokenizer.padId, names);
    cases.forEach((c, i) => expect(maxAbsDiff(out[`out${i}`]!, out.base!), c).to.be.above(1e-4));
    expect(cases).to.have.length(points.length + 2); // attention points have two hooks
  });
});
