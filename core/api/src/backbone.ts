/**
 * Backbones: pretrained encoders whose weights stay frozen (unless a module makes them trainable),
 * described by their attachment points, and built into a graph with hooks at every point.
 */
import type { Graph, TensorData, Value } from '@peftkit/graph';
import type { Rng } from './rng.js';

/**
 * What kind of place in the network an attachment point is. Module types declare which kinds they
 * attach to (LoRA: linear; LNFit: layernorm; adapters: sublayer; prefix: attention).
 */
export type AttachmentKind = 'linear' | 'layernorm' | 'sublayer' | 'attention' | 'embedding';

/**
 * A named place in the backbone where PEFT modules attach. Names are stable and documented per
 * backbone (docs/modules.md): `layer.0.attn.q`, `layer.1.ffn.out`, `layer.0.ln_attn`,
 * `layer.1.ffn.sublayer`, `layer.0.attn.scores`, `embeddings.word`. Target patterns in presets are
 * globs over these names (`layer.*.attn.[qv]`).
 */
export interface AttachmentPoint {
  readonly name: string;
  readonly kind: AttachmentKind;
  /** Transformer layer index, absent for points outside the layers (embeddings, pooler). */
  readonly layer?: number;
  /** linear: input and output features; sublayer: input width when it differs from `features`. */
  readonly inFeatures?: number;
  readonly outFeatures?: number;
  /** layernorm / sublayer: width of the normalised or produced hidden state. */
  readonly features?: number;
  /** linear / layernorm: whether the frozen layer already has a bias (BitFit then tunes it). */
  readonly hasBias?: boolean;
  /** attention: number of heads and per-head width. */
  readonly heads?: number;
  readonly headDim?: number;
  /** embedding: table shape. */
  readonly rows?: number;
}

export interface BackboneInfo {
  /** Registered backbone name (`use-lite`, `hf`). */
  readonly name: string;
  /** Architecture family (`use-lite`, `bert`, `roberta`, `distilbert`). */
  readonly modelType: string;
  readonly numLayers: number;
  /** Width of the sentence representation the encoder returns. */
  readonly pooledSize: number;
  /** Total parameter count of the frozen backbone (the base of budget ratios). */
  readonly params: number;
  readonly maxLength: number;
  /** How sentence pairs are encoded: jointly in one sequence, or each side separately. */
  readonly pairEncoding: 'joint' | 'separate';
  readonly points: readonly AttachmentPoint[];
}

/** Token ids of one text (or text pair, for joint pair encoding). */
export interface Encoding {
  ids: number[];
  /** Segment ids for joint pair encoding (BERT token_type_ids). */
  typeIds?: number[];
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  /** Encode a text, or a pair for backbones with joint pair encoding; truncated to `maxLength`. */
  encode(text: string, pair?: string, maxLength?: number): Encoding;
}

export type WeightRole = 'weight' | 'bias' | 'scale' | 'shift' | 'table';

/**
 * Hooks the backbone calls at each attachment point while building its graph. The default
 * (`identityHooks`) leaves the frozen network unchanged; PEFT modules are composed into a hooks
 * object by the program builder. Each hook receives graph values and returns the value to use.
 */
export interface EncoderHooks {
  /** The value to use for a backbone weight: a frozen initializer unless a module trains it. */
  weight(point: string, role: WeightRole, frozen: TensorData): Value;
  /** After a linear layer: `y` is the frozen projection of `x` (bias included). */
  linear(point: string, x: Value, y: Value): Value;
  /** After a LayerNorm: `y` is the frozen LN output of `x`. */
  layerNorm(point: string, x: Value, y: Value, epsilon: number): Value;
  /**
   * After a sublayer (attention or FFN block, before the residual add); `x` is the block's input as
   * the block reads it (normalised, for pre-LN layers), which parallel adapters read.
   */
  sublayer(point: string, x: Value, y: Value): Value;
  /**
   * Inside attention, before the softmax. `k`, `v` are [B, heads, T, headDim]; `maskBias` is
   * [B, 1, 1, T] (0 for tokens, large negative for padding). Prefix modules extend all three.
   */
  attentionKeys(point: string, kv: AttentionKV): AttentionKV;
  /** Inside attention, after the softmax-weighted sum: `context` is [B, heads, T, headDim]. */
  attentionContext(point: string, q: Value, context: Value, scale: number): Value;
}

export interface AttentionKV {
  k: Value;
  v: Value;
  maskBias: Value;
}

/** Graph inputs of one encoder pass. */
export interface EncoderInputs {
  /** int64 [B, T] */
  ids: Value;
  /** float [B, T]: 1 for tokens, 0 for padding. */
  mask: Value;
  /** int64 [B, T], for joint pair encoding. */
  typeIds?: Value;
}

export interface BuildOptions {
  /** Training graphs may use dropout; evaluation graphs never do. */
  train: boolean;
}

/**
 * A task head that a backbone offers in place of peftkit's default (one linear layer over the
 * pooled representation): the classification head of the backbone's own model family, so that a
 * trained result means the same model in that family's framework (transformers'
 * `*ForSequenceClassification`). Its parameters are trained like the default head's and stored as
 * `head/<name>`.
 */
export interface TaskHead {
  /** What the head is, for logs and reports (`RobertaClassificationHead: dense, tanh, out_proj`). */
  readonly description: string;
  /** Trainable tensors by local name (`dense.weight`); linear weights are [in, out]. */
  readonly params: readonly { readonly name: string; readonly shape: readonly number[] }[];
  /** Initial values: the checkpoint's own head when it has one of these shapes, else a fresh one. */
  init(rng: Rng): Record<string, Float32Array>;
  /** logits [B, outputs] from the backbone's pooled representation [B, pooledSize]. */
  apply(g: Graph, pooled: Value, param: (name: string) => Value, opts: BuildOptions): Value;
  /**
   * The tensor's name and layout in the model family's framework, for exports
   * (`classifier.out_proj.weight`, stored [out, in]: transpose).
   */
  externalName(name: string): { name: string; transpose: boolean };
  /** The framework's module names the head consists of (PEFT's modules_to_save); [] for none. */
  readonly externalModules: readonly string[];
  /** The encoder's module name inside the framework's task model (`bert`, `roberta`), if any. */
  readonly encoderModule?: string;
  /** The framework's task model class (`BertForSequenceClassification`), if any. */
  readonly externalClass?: string;
}

export interface Backbone {
  readonly info: BackboneInfo;
  readonly tokenizer: Tokenizer;
  /**
   * Build the encoder into `g` and return the pooled sentence representation [B, pooledSize].
   * Every attachment point listed in `info.points` must be passed to the matching hook exactly
   * once per call (pair encoders call `encode` twice, sharing weights and modules).
   */
  encode(g: Graph, inputs: EncoderInputs, hooks: EncoderHooks, opts: BuildOptions): Value;
  /** The frozen weights at an attachment point, by role (full fine-tuning starts from them). */
  pretrained(point: string): Partial<Record<WeightRole, TensorData>>;
  /**
   * Optional: the point's module name in the model's original framework (`encoder.layer.3.attention.
   * self.query` for a Hugging Face BERT), so exports can target it (PEFT's target_modules).
   */
  externalName?(point: string): string | undefined;
  /**
   * Optional: where the model's original framework loads this backbone from (an absolute checkpoint
   * directory or a hub id), so exports can name their base model (PEFT's base_model_name_or_path).
   */
  readonly externalSource?: string;
  /**
   * Optional: the directory holding the model's original files (config.json, tokenizer files), when
   * `externalSource` is a hub id (its snapshot in the Hugging Face cache); else `externalSource` is it.
   */
  readonly externalDir?: string;
  /**
   * Optional: the head to train for a task with `outputs` logits (1 for regression), when the
   * backbone has its own; absent or undefined: peftkit's linear head.
   */
  taskHead?(outputs: number): TaskHead | undefined;
}

/**
 * Tokenizer files a transformers checkpoint may have: the hf backbone downloads those a hub model
 * has (tokenizer.json is what it reads), and exports copy them beside model.onnx.
 */
export const HF_TOKENIZER_FILES: readonly string[] = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.txt',
  'vocab.json',
  'merges.txt',
  'sentencepiece.bpe.model',
  'spiece.model',
];
