/**
 * The benchmark model: a BERT-shaped encoder built from @peftkit/nn's hooked layers, with random
 * frozen weights from a seeded generator, rank-r LoRA on every attention projection and both FFN
 * linears, a mean-pool + linear classification head and a cross-entropy loss.
 *
 * The LoRA hooks here are deliberately small (y + s·(x·Aᵀ)·Bᵀ with A [r, in] and B [out, r] as graph
 * inputs); peftkit's real LoRA module lives in the peft-modules plugin.
 */
import type { EncoderHooks } from '@peftkit/api';
import { Rng } from '@peftkit/api';
import { type Dim, Graph, type TensorData, type Value, gradients, ops } from '@peftkit/graph';
import {
  type LayerContext,
  attentionMaskBias,
  embedding,
  feedForward,
  frozenWeight,
  layerNorm,
  maskedMeanPool,
  selfAttention,
} from '@peftkit/nn';

export interface EncoderConfig {
  layers: number;
  hidden: number;
  heads: number;
  ffn: number;
  vocab: number;
  maxPositions: number;
  /** post: BERT (LayerNorm after each residual add); pre: LayerNorm before each sublayer. */
  norm: 'post' | 'pre';
  rank: number;
  loraAlpha: number;
  classes: number;
}

export const BERT_BASE: EncoderConfig = {
  layers: 12,
  hidden: 768,
  heads: 12,
  ffn: 3072,
  vocab: 30522,
  maxPositions: 512,
  norm: 'post',
  rank: 8,
  loraAlpha: 16,
  classes: 2,
};

/** BERT-large's shape: 24 layers, hidden 1024, FFN 4096, 16 heads. */
export const BERT_LARGE: EncoderConfig = { ...BERT_BASE, layers: 24, hidden: 1024, heads: 16, ffn: 4096 };

/** Smoke-test size: 2 layers of width 128. */
export const QUICK: EncoderConfig = { ...BERT_BASE, layers: 2, hidden: 128, heads: 2, ffn: 512 };

interface Linear {
  weight: TensorData;
  bias: TensorData;
}

export interface FrozenWeights {
  word: TensorData;
  position: TensorData;
  embLn: { scale: TensorData; shift: TensorData };
  layers: {
    q: Linear;
    k: Linear;
    v: Linear;
    o: Linear;
    lnAttn: { scale: TensorData; shift: TensorData };
    ffnIn: Linear;
    ffnOut: Linear;
    lnFfn: { scale: TensorData; shift: TensorData };
  }[];
  finalLn: { scale: TensorData; shift: TensorData };
  /** Number of frozen parameters. */
  count: number;
}

/**
 * Random frozen weights in SharedArrayBuffers (so the backend hands them to its worker without a
 * copy). Values are uniform with standard deviation 0.02 (BERT's init scale); uniform rather than
 * normal only because it is 5x faster to draw 110 M of them.
 */
export function makeFrozenWeights(cfg: EncoderConfig, seed: number): FrozenWeights {
  const rng = new Rng(seed);
  let count = 0;
  const rand = (shape: number[], std = 0.02): TensorData => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(new SharedArrayBuffer(n * 4));
    const half = std * Math.sqrt(3);
    const k = (2 * half) / 4294967296;
    for (let i = 0; i < n; i++) data[i] = rng.nextUint32() * k - half;
    count += n;
    return { dtype: 'float32', shape, data };
  };
  const fill = (shape: number[], value: number): TensorData => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(new SharedArrayBuffer(n * 4)).fill(value);
    count += n;
    return { dtype: 'float32', shape, data };
  };
  const ln = () => ({ scale: fill([cfg.hidden], 1), shift: fill([cfg.hidden], 0) });
  const linear = (inF: number, outF: number): Linear => ({
    weight: rand([inF, outF]),
    bias: rand([outF]),
  });
  const H = cfg.hidden;
  return {
    word: rand([cfg.vocab, H]),
    position: rand([cfg.maxPositions, H]),
    embLn: ln(),
    layers: Array.from({ length: cfg.layers }, () => ({
      q: linear(H, H),
      k: linear(H, H),
      v: linear(H, H),
      o: linear(H, H),
      lnAttn: ln(),
      ffnIn: linear(H, cfg.ffn),
      ffnOut: linear(cfg.ffn, H),
      lnFfn: ln(),
    })),
    finalLn: ln(),
    get count() {
      return count;
    },
  };
}

export interface TrainableParam {
  name: string;
  value: Value;
  shape: number[];
}

/** Identity hooks, plus LoRA on every linear whose point `targets` accepts. */
export class LoraHooks implements EncoderHooks {
  readonly params: TrainableParam[] = [];
  private readonly cache = new Map<string, Value>();

  constructor(
    private readonly g: Graph,
    private readonly rank: number,
    private readonly alpha: number,
    private readonly targets: (point: string) => boolean,
  ) {}

  weight(point: string, role: Parameters<EncoderHooks['weight']>[1], data: TensorData): Value {
    return frozenWeight(this.g, this.cache, point, role, data);
  }

  linear(point: string, x: Value, y: Value): Value {
    if (!this.targets(point)) return y;
    const inF = x.shape[x.rank - 1]!;
    const outF = y.shape[y.rank - 1]!;
    if (typeof inF !== 'number' || typeof outF !== 'number') {
      throw new Error(`LoRA at ${point}: feature sizes must be static, got ${inF} and ${outF}`);
    }
    const a = this.param(`${point}.lora_A`, [this.rank, inF]);
    const b = this.param(`${point}.lora_B`, [outF, this.rank]);
    // On flattened activations with Gemm transB, so that no transposed copy of A or B is made.
    const flat = ops.flatten(x, x.rank - 1);
    const down = ops.gemm(flat, a, null, { transB: true });
    const up = ops.gemm(down, b, null, { transB: true, alpha: this.alpha / this.rank });
    return ops.add(y, ops.reshape(up, y.shape as Dim[]));
  }

  layerNorm(_p: string, _x: Value, y: Value): Value {
    return y;
  }
  sublayer(_p: string, _x: Value, y: Value): Value {
    return y;
  }
  attentionKeys(_p: string, kv: Parameters<EncoderHooks['attentionKeys']>[1]) {
    return kv;
  }
  attentionContext(_p: string, _q: Value, context: Value): Value {
    return context;
  }

  param(name: string, shape: number[]): Value {
    const value = this.g.param(name, shape);
    this.params.push({ name, value, shape });
    return value;
  }
}

export interface BenchProgram {
  graph: Graph;
  params: TrainableParam[];
  /** Output names: `logits` (forward) or `loss` + `grad:<param>` (train). */
  outputs: string[];
}

export const LORA_POINTS = ['attn.q', 'attn.k', 'attn.v', 'attn.o', 'ffn.in', 'ffn.out'];

/**
 * The encoder (embeddings, layers, final LayerNorm for pre-LN) with every attachment point passed
 * to `ctx.hooks`; returns the hidden states [B, T, H]. The points are `benchPoints(cfg)`.
 */
export function encodeBert(
  ctx: LayerContext,
  cfg: EncoderConfig,
  w: FrozenWeights,
  ids: Value,
  mask: Value,
): Value {
  const { g } = ctx;
  const H = cfg.hidden;
  const shape = { heads: cfg.heads, headDim: H / cfg.heads, scale: 1 / Math.sqrt(H / cfg.heads) };
  const eps = 1e-12;
  const positions = ops.slice(ctx.hooks.weight('embeddings.position', 'table', w.position), [0], ['T'], [0]);
  let h = ops.add(embedding(ctx, 'embeddings.word', ids, w.word), positions);
  h = layerNorm(ctx, 'embeddings.ln', h, w.embLn.scale, w.embLn.shift, eps);
  const maskBias = attentionMaskBias(mask);
  w.layers.forEach((L, i) => {
    const p = `layer.${i}`;
    g.scoped(p, () => {
      const attn = (x: Value) =>
        ctx.hooks.sublayer(`${p}.attn.sublayer`, x, selfAttention(ctx, `${p}.attn`, x, L, shape, maskBias));
      const ffn = (x: Value) =>
        ctx.hooks.sublayer(
          `${p}.ffn.sublayer`,
          x,
          feedForward(ctx, `${p}.ffn`, x, { in: L.ffnIn, out: L.ffnOut }, 'gelu'),
        );
      if (cfg.norm === 'post') {
        h = layerNorm(ctx, `${p}.ln_attn`, ops.add(h, attn(h)), L.lnAttn.scale, L.lnAttn.shift, eps);
        h = layerNorm(ctx, `${p}.ln_ffn`, ops.add(h, ffn(h)), L.lnFfn.scale, L.lnFfn.shift, eps);
      } else {
        h = ops.add(h, attn(layerNorm(ctx, `${p}.ln_attn`, h, L.lnAttn.scale, L.lnAttn.shift, eps)));
        h = ops.add(h, ffn(layerNorm(ctx, `${p}.ln_ffn`, h, L.lnFfn.scale, L.lnFfn.shift, eps)));
      }
    });
  });
  if (cfg.norm === 'pre') h = layerNorm(ctx, 'final_ln', h, w.finalLn.scale, w.finalLn.shift, eps);
  return h;
}

/** Build the forward (logits) or train (loss + gradients of every LoRA and head parameter) graph. */
export function buildProgram(cfg: EncoderConfig, w: FrozenWeights, kind: 'forward' | 'train'): BenchProgram {
  const g = new Graph(`bench-${kind}`);
  const targets = new Set<string>();
  for (let i = 0; i < cfg.layers; i++) for (const p of LORA_POINTS) targets.add(`layer.${i}.${p}`);
  const hooks = new LoraHooks(g, cfg.rank, cfg.loraAlpha, (p) => targets.has(p));
  const ids = g.input('ids', 'int64', ['B', 'T']);
  const mask = g.input('mask', 'float32', ['B', 'T']);
  const H = cfg.hidden;
  const h = encodeBert({ g, hooks, train: kind === 'train' }, cfg, w, ids, mask);

  const pooled = maskedMeanPool(h, mask);
  const headW = hooks.param('head.weight', [H, cfg.classes]);
  const headB = hooks.param('head.bias', [cfg.classes]);
  const logits = ops.add(ops.matmul(pooled, headW), headB);
  if (kind === 'forward') {
    g.output(logits, 'logits');
    return { graph: g, params: hooks.params, outputs: ['logits'] };
  }
  const labels = g.input('labels', 'int64', ['B']);
  const loss = ops.softmaxCrossEntropy(logits, labels);
  g.output(loss, 'loss');
  const grads = gradients(
    loss,
    hooks.params.map((p) => p.value),
  );
  const outputs = ['loss'];
  for (const p of hooks.params) {
    g.output(grads.get(p.value)!, `grad:${p.name}`);
    outputs.push(`grad:${p.name}`);
  }
  return { graph: g, params: hooks.params, outputs };
}

/** Feeds for one step: random ids, padded masks (lengths T/2..T), labels and parameter values. */
export function makeFeeds(
  cfg: EncoderConfig,
  program: BenchProgram,
  batch: number,
  seq: number,
  seed: number,
): Record<string, TensorData> {
  const rng = new Rng(seed);
  const ids = new BigInt64Array(batch * seq);
  const mask = new Float32Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    const len = Math.ceil(seq / 2) + rng.int(seq - Math.ceil(seq / 2) + 1);
    for (let t = 0; t < seq; t++) {
      ids[b * seq + t] = BigInt(rng.int(cfg.vocab));
      mask[b * seq + t] = t < len ? 1 : 0;
    }
  }
  const feeds: Record<string, TensorData> = {
    ids: { dtype: 'int64', shape: [batch, seq], data: ids },
    mask: { dtype: 'float32', shape: [batch, seq], data: mask },
  };
  if (program.graph.inputs.some((v) => v.name === 'labels')) {
    feeds.labels = {
      dtype: 'int64',
      shape: [batch],
      data: BigInt64Array.from({ length: batch }, () => BigInt(rng.int(cfg.classes))),
    };
  }
  for (const p of program.params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    // A ~ U(±1/sqrt(in)); B small but non-zero so that every gradient is non-trivial.
    const scale = p.name.endsWith('lora_A') ? 1 / Math.sqrt(p.shape[1]!) : 0.01;
    const data = Float32Array.from({ length: n }, () => rng.uniform(-scale, scale));
    feeds[p.name] = { dtype: 'float32', shape: p.shape, data };
  }
  return feeds;
}
