/**
 * The BERT / RoBERTa / XLM-RoBERTa / DistilBERT / ELECTRA encoder as a peftkit graph, built from
 * the hooked layers of @peftkit/nn so that every attachment point is offered to the PEFT modules:
 *
 *   embeddings (word + position [+ token type]) -> LayerNorm [-> dropout] [-> ELECTRA's projection]
 *   per layer (post-LN):  h = LN_attn(h + Attention(h));  h = LN_ffn(h + FFN(h))
 *   pooling: [CLS] (`cls`), masked mean (`mean`), or BERT's tanh(dense([CLS])) (`pooler`)
 *
 * This follows transformers' BertModel / RobertaModel / DistilBertModel forward pass in eval mode;
 * in training graphs, dropout (when the `dropout` option is > 0) is applied where those models
 * apply hidden dropout: after the embeddings and after each sublayer, before the residual add.
 * (Attention-probability dropout is not applied.)
 */
import { weightSpecs } from './weights.js';
import type {
  AttachmentPoint,
  Backbone,
  BackboneInfo,
  BuildOptions,
  EncoderHooks,
  EncoderInputs,
  SafetensorsTensor,
  TaskHead,
  WeightRole,
} from '@peftkit/api';
import { type Graph, type TensorData, type Value, ops, tensor } from '@peftkit/graph';
import {
  type LayerContext,
  attentionMaskBias,
  embedding,
  feedForward,
  layerNorm,
  linear,
  maskedMeanPool,
  selfAttention,
} from '@peftkit/nn';
import type { HfConfig } from './config.js';
import type { HfTokenizer } from './tokenizer.js';
import { hfTaskHead } from './head.js';

export type Pooling = 'cls' | 'mean' | 'pooler';
export const POOLINGS: readonly Pooling[] = ['cls', 'mean', 'pooler'];

export type HeadChoice = 'hf' | 'linear';
export const HEADS: readonly HeadChoice[] = ['hf', 'linear'];

export interface EncoderOptions {
  readonly pooling: Pooling;
  /** The task head: the architecture's *ForSequenceClassification head, or peftkit's linear one. */
  readonly head: HeadChoice;
  readonly maxLength: number;
  /** Hidden dropout probability of training graphs (0: none). */
  readonly dropout: number;
}

/** The attachment points of an encoder with this configuration, in graph order. */
export function attachmentPoints(cfg: HfConfig, pooling: Pooling): AttachmentPoint[] {
  const H = cfg.hiddenSize;
  const E = cfg.embeddingSize;
  const I = cfg.intermediateSize;
  const heads = cfg.numHeads;
  const points: AttachmentPoint[] = [
    { name: 'embeddings.word', kind: 'embedding', rows: cfg.vocabSize, features: E },
    { name: 'embeddings.position', kind: 'embedding', rows: cfg.maxPositions, features: E },
  ];
  if (cfg.typeVocabSize > 0) {
    points.push({ name: 'embeddings.type', kind: 'embedding', rows: cfg.typeVocabSize, features: E });
  }
  points.push({ name: 'embeddings.ln', kind: 'layernorm', features: E, hasBias: true });
  if (E !== H) {
    points.push({ name: 'embeddings.project', kind: 'linear', inFeatures: E, outFeatures: H, hasBias: true });
  }
  const lin = (name: string, layer: number, inF: number, outF: number): AttachmentPoint => ({
    name,
    kind: 'linear',
    layer,
    inFeatures: inF,
    outFeatures: outF,
    hasBias: true,
  });
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `layer.${i}`;
    points.push(
      lin(`${p}.attn.q`, i, H, H),
      lin(`${p}.attn.k`, i, H, H),
      lin(`${p}.attn.v`, i, H, H),
      { name: `${p}.attn.scores`, kind: 'attention', layer: i, heads, headDim: H / heads, features: H },
      lin(`${p}.attn.o`, i, H, H),
      { name: `${p}.attn.sublayer`, kind: 'sublayer', layer: i, features: H },
      { name: `${p}.ln_attn`, kind: 'layernorm', layer: i, features: H, hasBias: true },
      lin(`${p}.ffn.in`, i, H, I),
      lin(`${p}.ffn.out`, i, I, H),
      { name: `${p}.ffn.sublayer`, kind: 'sublayer', layer: i, features: H },
      { name: `${p}.ln_ffn`, kind: 'layernorm', layer: i, features: H, hasBias: true },
    );
  }
  if (pooling === 'pooler') {
    points.push({ name: 'pooler', kind: 'linear', inFeatures: H, outFeatures: H, hasBias: true });
  }
  return points;
}

export class HfEncoder implements Backbone {
  readonly info: BackboneInfo;
  private readonly pointNames: Set<string>;

  constructor(
    readonly config: HfConfig,
    private readonly weights: ReadonlyMap<string, Partial<Record<WeightRole, TensorData>>>,
    readonly tokenizer: HfTokenizer,
    readonly options: EncoderOptions,
    /** What was loaded, from where, and what was skipped or converted. */
    readonly description: string,
    /** The checkpoint's task-head tensors, by their names there (empty for base-model checkpoints). */
    private readonly headTensors: ReadonlyMap<string, SafetensorsTensor> = new Map(),
    /** The hub id, or the checkpoint directory as resolved (transformers' from_pretrained loads either). */
    readonly externalSource?: string,
    /** The checkpoint directory (a hub id's snapshot in the cache). */
    readonly externalDir?: string,
  ) {
    const points = attachmentPoints(config, options.pooling);
    this.pointNames = new Set(points.map((p) => p.name));
    let params = 0;
    for (const p of points) {
      for (const t of Object.values(weights.get(p.name) ?? {})) params += t!.data.length;
    }
    this.info = {
      name: 'hf',
      modelType: config.modelType,
      numLayers: config.numLayers,
      pooledSize: config.hiddenSize,
      params,
      maxLength: options.maxLength,
      pairEncoding: 'joint',
      points,
    };
  }

  /** The transformers module name of a point (the HF weight name without `.weight`). */
  externalName(point: string): string | undefined {
    const spec = weightSpecs(this.config).find(
      (w) => w.point === point && (w.role === 'weight' || w.role === 'scale' || w.role === 'table'),
    );
    return spec ? spec.hfName.replace(/\.weight$/, '') : undefined;
  }

  /**
   * The architecture's *ForSequenceClassification head (option head: hf), else peftkit's linear
   * head. It drops out (when the dropout option is > 0) with the checkpoint's classifier dropout.
   */
  taskHead(outputs: number): TaskHead | undefined {
    if (this.options.head !== 'hf') return undefined;
    const p = this.options.dropout > 0 ? this.config.classifierDropout : 0;
    return hfTaskHead(this.config, outputs, this.headTensors, p);
  }

  pretrained(point: string): Partial<Record<WeightRole, TensorData>> {
    if (!this.pointNames.has(point)) {
      throw new RangeError(`backbone hf (${this.config.modelType}) has no attachment point "${point}"`);
    }
    return { ...(this.weights.get(point) ?? {}) };
  }

  private w(point: string, role: WeightRole): TensorData {
    const t = this.weights.get(point)?.[role];
    if (!t) throw new Error(`internal: no ${role} loaded for ${point}`);
    return t;
  }

  private lin(point: string): { weight: TensorData; bias: TensorData } {
    return { weight: this.w(point, 'weight'), bias: this.w(point, 'bias') };
  }

  encode(g: Graph, inputs: EncoderInputs, hooks: EncoderHooks, opts: BuildOptions): Value {
    const cfg = this.config;
    const ctx: LayerContext = { g, hooks, train: opts.train };
    const p = opts.train ? this.options.dropout : 0;
    let dropouts = 0;
    const drop = (x: Value): Value => (p > 0 ? ops.dropout(x, p, ++dropouts).output : x);
    const eps = cfg.layerNormEps;

    let h = ops.add(
      embedding(ctx, 'embeddings.word', inputs.ids, this.w('embeddings.word', 'table')),
      embedding(
        ctx,
        'embeddings.position',
        this.positionIds(g, inputs.ids),
        this.w('embeddings.position', 'table'),
      ),
    );
    if (cfg.typeVocabSize > 0) {
      // Without type ids, every token is segment 0 (transformers' default token_type_ids).
      const typeIds = inputs.typeIds ?? g.ints([0]);
      h = ops.add(h, embedding(ctx, 'embeddings.type', typeIds, this.w('embeddings.type', 'table')));
    }
    const ln = (point: string, x: Value): Value =>
      layerNorm(ctx, point, x, this.w(point, 'scale'), this.w(point, 'shift'), eps);
    h = drop(ln('embeddings.ln', h));
    if (cfg.embeddingSize !== cfg.hiddenSize) {
      const project = this.lin('embeddings.project');
      h = linear(ctx, 'embeddings.project', h, project.weight, project.bias);
    }

    const maskBias = attentionMaskBias(inputs.mask);
    const headDim = cfg.hiddenSize / cfg.numHeads;
    for (let i = 0; i < cfg.numLayers; i++) {
      const l = `layer.${i}`;
      const attnOut = g.scoped(l, () =>
        selfAttention(
          ctx,
          `${l}.attn`,
          h,
          {
            q: this.lin(`${l}.attn.q`),
            k: this.lin(`${l}.attn.k`),
            v: this.lin(`${l}.attn.v`),
            o: this.lin(`${l}.attn.o`),
          },
          { heads: cfg.numHeads, headDim, scale: 1 / Math.sqrt(headDim) },
          maskBias,
        ),
      );
      h = ln(`${l}.ln_attn`, ops.add(h, hooks.sublayer(`${l}.attn.sublayer`, h, drop(attnOut))));
      const ffnOut = g.scoped(l, () =>
        feedForward(
          ctx,
          `${l}.ffn`,
          h,
          { in: this.lin(`${l}.ffn.in`), out: this.lin(`${l}.ffn.out`) },
          cfg.activation,
        ),
      );
      h = ln(`${l}.ln_ffn`, ops.add(h, hooks.sublayer(`${l}.ffn.sublayer`, h, drop(ffnOut))));
    }

    if (this.options.pooling === 'mean') return maskedMeanPool(h, inputs.mask);
    const cls = ops.squeeze(ops.slice(h, [0], [1], [1]), [1]);
    if (this.options.pooling === 'cls') return cls;
    const pooler = this.lin('pooler');
    return ops.tanh(linear(ctx, 'pooler', cls, pooler.weight, pooler.bias));
  }

  /**
   * int64 position ids. BERT / DistilBERT: 0..T-1 (shared by the batch, [T]). RoBERTa, as
   * transformers' create_position_ids_from_input_ids: padding_idx + the running count of non-pad
   * tokens for real tokens and padding_idx for pad tokens ([B, T]); the running count is
   * mask·U with the upper-triangular ones U[i, j] = (i <= j), since the IR has no CumSum.
   */
  private positionIds(g: Graph, ids: Value): Value {
    const cfg = this.config;
    const limit = cfg.maxPositions - cfg.positionOffset;
    const seqLen = ops.gather(ops.shapeOf(ids), g.ints([1]), 0);
    const upTo = (dtype: 'int64' | 'float32'): Value =>
      g.op('Slice', [
        g.constant(
          tensor(
            dtype,
            [limit],
            Array.from({ length: limit }, (_, i) => i),
          ),
        ),
        g.ints([0]),
        seqLen,
        g.ints([0]),
      ])[0]!;
    if (!cfg.robertaPositions) return upTo('int64');
    const notPad = ops.cast(ops.not(ops.equal(ids, cfg.padTokenId)), 'float32');
    const ar = upTo('float32');
    const upper = ops.cast(
      g.op('LessOrEqual', [ops.unsqueeze(ar, [1]), ops.unsqueeze(ar, [0])])[0]!,
      'float32',
    );
    const count = ops.matmul(notPad, upper);
    return ops.cast(ops.add(ops.mul(count, notPad), cfg.padTokenId), 'int64');
  }
}
