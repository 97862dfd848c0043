/**
 * Tiny fixtures for fast tests (never for results): a 2-layer pre-LN transformer with random
 * weights and a whitespace tokenizer, and a synthetic polarity task it can learn. They implement
 * the same interfaces as the real backbone and tasks, so every plugin can be exercised in
 * milliseconds.
 */
import type {
  AttachmentPoint,
  Backbone,
  BackboneInfo,
  Encoding,
  Example,
  Task,
  Tokenizer,
  WeightRole,
} from '@peftkit/api';
import { Rng } from '@peftkit/api';
import { type TensorData, ops } from '@peftkit/graph';
import {
  type LayerContext,
  attentionMaskBias,
  embedding,
  feedForward,
  layerNorm,
  maskedMeanPool,
  selfAttention,
} from '@peftkit/nn';

const POSITIVE = ['good', 'great', 'fine', 'nice', 'superb', 'lovely', 'happy', 'excellent'];
const NEGATIVE = ['bad', 'awful', 'poor', 'ugly', 'terrible', 'sad', 'boring', 'horrible'];
const FILLER = [
  'the',
  'a',
  'movie',
  'food',
  'was',
  'is',
  'very',
  'and',
  'service',
  'quite',
  'place',
  'it',
  'this',
  'so',
];
export const TINY_VOCAB = ['<pad>', '<unk>', ...POSITIVE, ...NEGATIVE, ...FILLER];

class WhitespaceTokenizer implements Tokenizer {
  readonly vocabSize = TINY_VOCAB.length;
  readonly padId = 0;
  private readonly index = new Map(TINY_VOCAB.map((w, i) => [w, i]));
  encode(text: string, pair?: string, maxLength = 32): Encoding {
    const words = (pair === undefined ? text : `${text} ${pair}`).toLowerCase().split(/\s+/).filter(Boolean);
    const ids = words.map((w) => this.index.get(w) ?? 1).slice(0, maxLength);
    return { ids: ids.length ? ids : [1] };
  }
}

export interface TinyBackboneOptions {
  seed?: number;
  hidden?: number;
  layers?: number;
  heads?: number;
}

/** A small random pre-LN encoder with the standard attachment points. */
export function tinyBackbone(opts: TinyBackboneOptions = {}): Backbone {
  const hidden = opts.hidden ?? 16;
  const layers = opts.layers ?? 2;
  const heads = opts.heads ?? 2;
  const ffn = 2 * hidden;
  const rng = new Rng(opts.seed ?? 7);
  const t = (shape: number[], std: number): TensorData => ({
    dtype: 'float32',
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * std),
  });
  const ones = (n: number): TensorData => ({
    dtype: 'float32',
    shape: [n],
    data: new Float32Array(n).fill(1),
  });
  const weights = new Map<string, Partial<Record<WeightRole, TensorData>>>();
  const points: AttachmentPoint[] = [];
  const V = TINY_VOCAB.length;
  weights.set('embeddings.word', { table: t([V, hidden], 1) });
  points.push({ name: 'embeddings.word', kind: 'embedding', rows: V, features: hidden });
  const lin = (name: string, i: number, o: number, layer: number) => {
    weights.set(name, { weight: t([i, o], 1 / Math.sqrt(i)), bias: t([o], 0.02) });
    points.push({ name, kind: 'linear', layer, inFeatures: i, outFeatures: o, hasBias: true });
  };
  const ln = (name: string, layer: number) => {
    weights.set(name, { scale: ones(hidden), shift: t([hidden], 0.02) });
    points.push({ name, kind: 'layernorm', layer, features: hidden, hasBias: true });
  };
  for (let l = 0; l < layers; l++) {
    ln(`layer.${l}.ln_attn`, l);
    for (const p of ['q', 'k', 'v', 'o']) lin(`layer.${l}.attn.${p}`, hidden, hidden, l);
    points.push({
      name: `layer.${l}.attn.scores`,
      kind: 'attention',
      layer: l,
      heads,
      headDim: hidden / heads,
    });
    points.push({ name: `layer.${l}.attn.sublayer`, kind: 'sublayer', layer: l, features: hidden });
    ln(`layer.${l}.ln_ffn`, l);
    lin(`layer.${l}.ffn.in`, hidden, ffn, l);
    lin(`layer.${l}.ffn.out`, ffn, hidden, l);
    points.push({ name: `layer.${l}.ffn.sublayer`, kind: 'sublayer', layer: l, features: hidden });
  }
  let params = 0;
  for (const w of weights.values()) for (const x of Object.values(w)) params += x!.data.length;
  const info: BackboneInfo = {
    name: 'tiny',
    modelType: 'tiny',
    numLayers: layers,
    pooledSize: hidden,
    params,
    maxLength: 32,
    pairEncoding: 'separate',
    points,
  };
  const w = (p: string, r: WeightRole) => weights.get(p)![r]!;
  return {
    info,
    tokenizer: new WhitespaceTokenizer(),
    pretrained: (point) => weights.get(point) ?? {},
    encode(g, inputs, hooks, { train }) {
      const ctx: LayerContext = { g, hooks, train };
      let h = embedding(ctx, 'embeddings.word', inputs.ids, w('embeddings.word', 'table'));
      const bias = attentionMaskBias(inputs.mask);
      for (let l = 0; l < layers; l++) {
        const p = `layer.${l}`;
        const x = layerNorm(
          ctx,
          `${p}.ln_attn`,
          h,
          w(`${p}.ln_attn`, 'scale'),
          w(`${p}.ln_attn`, 'shift'),
          1e-5,
        );
        const attn = selfAttention(
          ctx,
          `${p}.attn`,
          x,
          {
            q: { weight: w(`${p}.attn.q`, 'weight'), bias: w(`${p}.attn.q`, 'bias') },
            k: { weight: w(`${p}.attn.k`, 'weight'), bias: w(`${p}.attn.k`, 'bias') },
            v: { weight: w(`${p}.attn.v`, 'weight'), bias: w(`${p}.attn.v`, 'bias') },
            o: { weight: w(`${p}.attn.o`, 'weight'), bias: w(`${p}.attn.o`, 'bias') },
          },
          { heads, headDim: hidden / heads, scale: 1 / Math.sqrt(hidden / heads) },
          bias,
        );
        h = ops.add(h, hooks.sublayer(`${p}.attn.sublayer`, x, attn));
        const y = layerNorm(
          ctx,
          `${p}.ln_ffn`,
          h,
          w(`${p}.ln_ffn`, 'scale'),
          w(`${p}.ln_ffn`, 'shift'),
          1e-5,
        );
        const f = feedForward(
          ctx,
          `${p}.ffn`,
          y,
          {
            in: { weight: w(`${p}.ffn.in`, 'weight'), bias: w(`${p}.ffn.in`, 'bias') },
            out: { weight: w(`${p}.ffn.out`, 'weight'), bias: w(`${p}.ffn.out`, 'bias') },
          },
          'gelu',
        );
        h = ops.add(h, hooks.sublayer(`${p}.ffn.sublayer`, y, f));
      }
      return maskedMeanPool(h, inputs.mask);
    },
  };
}

export interface TinyTaskOptions {
  seed?: number;
  train?: number;
  validation?: number;
  test?: number;
  /** Build text pairs (label: do both sides have the same polarity). */
  pair?: boolean;
}

/** A synthetic polarity task over the tiny vocabulary (label = majority polarity of the words). */
export function tinyTask(opts: TinyTaskOptions = {}): Task {
  const rng = new Rng(opts.seed ?? 11);
  const sentence = (): { text: string; polarity: number } => {
    const n = 4 + rng.int(5);
    const words: string[] = [];
    let score = 0;
    for (let i = 0; i < n; i++) {
      const r = rng.next();
      if (r < 0.3) {
        words.push(POSITIVE[rng.int(POSITIVE.length)]!);
        score++;
      } else if (r < 0.6) {
        words.push(NEGATIVE[rng.int(NEGATIVE.length)]!);
        score--;
      } else words.push(FILLER[rng.int(FILLER.length)]!);
    }
    if (score === 0) {
      words.push(rng.next() < 0.5 ? POSITIVE[0]! : NEGATIVE[0]!);
      score = words[words.length - 1] === POSITIVE[0] ? 1 : -1;
    }
    return { text: words.join(' '), polarity: score > 0 ? 1 : 0 };
  };
  const make = (n: number): Example[] =>
    Array.from({ length: n }, () => {
      const a = sentence();
      if (!opts.pair) return { text: a.text, label: a.polarity };
      const b = sentence();
      return { text: a.text, pair: b.text, label: a.polarity === b.polarity ? 1 : 0 };
    });
  return {
    info: {
      name: 'tiny',
      type: 'classification',
      numClasses: 2,
      pair: !!opts.pair,
      metrics: ['accuracy', 'f1'],
      description: 'synthetic polarity task for tests (not real data)',
    },
    splits: {
      train: make(opts.train ?? 64),
      validation: make(opts.validation ?? 32),
      test: make(opts.test ?? 32),
    },
  };
}
