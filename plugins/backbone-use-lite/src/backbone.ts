/**
 * The USE-lite encoder as a peftkit Backbone: the reconstruction of architecture.ts built with the
 * hooked layers of @peftkit/nn, so that every attachment point below reaches its hook.
 *
 * Attachment points (TF variables in architecture.ts; shapes for this model):
 *
 *   embeddings.word           embedding  [8002, 256] table
 *   layer.i.ln_attn           layernorm  256 (layer 0) / 512 (layer 1), scale + shift
 *   layer.i.attn.q|k|v        linear     256→256 (layer 0) / 512→512, bias; split from the fused qkv
 *   layer.i.attn.scores       attention  4 heads × 64 (layer 0) / 4 × 128 (layer 1)
 *   layer.i.attn.o            linear     256→512 / 512→512, bias
 *   layer.0.attn.residual     linear     256→512, bias (AdjustResidualInput; layer 0 only)
 *   layer.i.attn.sublayer     sublayer   512: attention output before the residual add (x: block input)
 *   layer.i.ln_ffn            layernorm  512
 *   layer.i.ffn.in|out        linear     512→1536 / 1536→512, bias, ReLU between
 *   layer.i.ffn.sublayer      sublayer   512: FFN output before the residual add (x: block input)
 *   pooler                    linear     512→512, bias (then tanh and L2 normalisation)
 */
import type {
  AttachmentPoint,
  Backbone,
  BackboneInfo,
  BuildOptions,
  EncoderHooks,
  EncoderInputs,
  WeightRole,
} from '@peftkit/api';
import { type Graph, type TensorData, type Value, ops } from '@peftkit/graph';
import {
  type LayerContext,
  embedding,
  feedForward,
  layerNorm,
  linear,
  maskedMeanPool,
  selfAttention,
} from '@peftkit/nn';
import type { LayerWeights, Linear, UseLiteWeights } from './architecture.js';
import type { SentencePieceTokenizer } from './tokenizer.js';

const sizeOf = (t: TensorData): number => t.shape.reduce((a, b) => a * b, 1);

function linearPoint(name: string, w: Linear, layer?: number): AttachmentPoint {
  const [inFeatures, outFeatures] = w.weight.shape as [number, number];
  return { name, kind: 'linear', layer, inFeatures, outFeatures, hasBias: true };
}

function layerPoints(i: number, l: LayerWeights): AttachmentPoint[] {
  const p = `layer.${i}`;
  const width = l.o.weight.shape[1]!;
  return [
    { name: `${p}.ln_attn`, kind: 'layernorm', layer: i, features: l.lnAttn.scale.shape[0]!, hasBias: true },
    linearPoint(`${p}.attn.q`, l.q, i),
    linearPoint(`${p}.attn.k`, l.k, i),
    linearPoint(`${p}.attn.v`, l.v, i),
    { name: `${p}.attn.scores`, kind: 'attention', layer: i, heads: l.heads, headDim: l.headDim },
    linearPoint(`${p}.attn.o`, l.o, i),
    ...(l.residual ? [linearPoint(`${p}.attn.residual`, l.residual, i)] : []),
    // Layer 0's attention block reads 256-wide normalised states and produces 512 (the residual is
    // projected), so its sublayer point records both widths.
    {
      name: `${p}.attn.sublayer`,
      kind: 'sublayer',
      layer: i,
      features: width,
      inFeatures: l.lnAttn.scale.shape[0]!,
    },
    { name: `${p}.ln_ffn`, kind: 'layernorm', layer: i, features: l.lnFfn.scale.shape[0]!, hasBias: true },
    linearPoint(`${p}.ffn.in`, l.ffnIn, i),
    linearPoint(`${p}.ffn.out`, l.ffnOut, i),
    { name: `${p}.ffn.sublayer`, kind: 'sublayer', layer: i, features: width },
  ];
}

/** The timing-signal table is a constant of the graph (not a parameter): one initializer per graph. */
const timingValues = new WeakMap<Graph, Value>();

export class UseLiteBackbone implements Backbone {
  readonly info: BackboneInfo;
  private readonly frozen = new Map<string, Partial<Record<WeightRole, TensorData>>>();

  constructor(
    private readonly w: UseLiteWeights,
    readonly tokenizer: SentencePieceTokenizer,
    name = 'use-lite',
  ) {
    const points: AttachmentPoint[] = [
      {
        name: 'embeddings.word',
        kind: 'embedding',
        rows: w.embeddings.shape[0]!,
        features: w.embeddings.shape[1]!,
      },
      ...w.layers.flatMap((l, i) => layerPoints(i, l)),
      linearPoint('pooler', w.pooler),
    ];
    this.frozen.set('embeddings.word', { table: w.embeddings });
    w.layers.forEach((l, i) => {
      const p = `layer.${i}`;
      this.frozen.set(`${p}.ln_attn`, l.lnAttn);
      this.frozen.set(`${p}.ln_ffn`, l.lnFfn);
      const lin: [string, Linear | undefined][] = [
        ['attn.q', l.q],
        ['attn.k', l.k],
        ['attn.v', l.v],
        ['attn.o', l.o],
        ['attn.residual', l.residual],
        ['ffn.in', l.ffnIn],
        ['ffn.out', l.ffnOut],
      ];
      for (const [n, weights] of lin) if (weights) this.frozen.set(`${p}.${n}`, { ...weights });
    });
    this.frozen.set('pooler', { ...w.pooler });
    let params = 0;
    for (const roles of this.frozen.values()) for (const t of Object.values(roles)) params += sizeOf(t);
    this.info = {
      name,
      modelType: 'use-lite',
      numLayers: w.layers.length,
      pooledSize: w.pooler.weight.shape[1]!,
      params,
      maxLength: tokenizer.maxLength,
      pairEncoding: 'separate',
      points,
    };
  }

  pretrained(point: string): Partial<Record<WeightRole, TensorData>> {
    const roles = this.frozen.get(point);
    if (!roles) {
      if (this.info.points.some((p) => p.name === point)) return {};
      throw new Error(`use-lite has no attachment point "${point}"`);
    }
    return { ...roles };
  }

  /** Returns the model's output: the L2-normalised 512-d sentence embedding [B, 512]. */
  encode(g: Graph, inputs: EncoderInputs, hooks: EncoderHooks, opts: BuildOptions): Value {
    // USE-lite has no dropout, so training and evaluation graphs are the same.
    const ctx: LayerContext = { g, hooks, train: opts.train };
    const { w } = this;
    const { ids, mask } = inputs;
    const e = embedding(ctx, 'embeddings.word', ids, w.embeddings);
    const x0 = ops.add(e, ops.add(e, this.timing(g, ids.shape[1]!)));
    // [B, 1, 1, T]: 0 at tokens, the graph's padding bias (-1e9) at padding.
    const maskBias = ops.mul(ops.sub(1, ops.unsqueeze(mask, [1, 2])), w.maskBias);
    let x = x0;
    w.layers.forEach((l, i) => {
      x = this.layer(ctx, i, l, x, maskBias);
    });
    const pooled = maskedMeanPool(x, mask);
    const y = ops.tanh(linear(ctx, 'pooler', pooled, w.pooler.weight, w.pooler.bias));
    const sumSq = ops.reduceSum(ops.mul(y, y), [1], true);
    return ops.mul(y, ops.reciprocal(ops.sqrt(ops.max2(sumSq, w.l2Epsilon))));
  }

  private layer(ctx: LayerContext, i: number, l: LayerWeights, x: Value, maskBias: Value): Value {
    const p = `layer.${i}`;
    const eps = this.w.epsilon;
    const a = layerNorm(ctx, `${p}.ln_attn`, x, l.lnAttn.scale, l.lnAttn.shift, eps);
    const shape = { heads: l.heads, headDim: l.headDim, scale: l.qScale };
    let att = selfAttention(ctx, `${p}.attn`, a, { q: l.q, k: l.k, v: l.v, o: l.o }, shape, maskBias);
    // The sublayer hooks get the block's normalised input, as parallel adapters read it.
    att = ctx.hooks.sublayer(`${p}.attn.sublayer`, a, att);
    const residual = l.residual
      ? linear(ctx, `${p}.attn.residual`, x, l.residual.weight, l.residual.bias)
      : x;
    const h = ops.add(att, residual);
    const f = layerNorm(ctx, `${p}.ln_ffn`, h, l.lnFfn.scale, l.lnFfn.shift, eps);
    let ffn = feedForward(ctx, `${p}.ffn`, f, { in: l.ffnIn, out: l.ffnOut }, 'relu');
    ffn = ctx.hooks.sublayer(`${p}.ffn.sublayer`, f, ffn);
    return ops.add(ffn, h);
  }

  /** Timing-signal rows 0..T-1 as a [T, 256] value (T ≤ 128, the model's clip length). */
  private timing(g: Graph, t: number | string): Value {
    let table = timingValues.get(g);
    if (!table) {
      table = g.initializer('use-lite.timing_signal', this.w.timingSignal);
      timingValues.set(g, table);
    }
    return ops.slice(table, [0], [t], [0]);
  }
}
