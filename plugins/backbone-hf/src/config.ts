/**
 * config.json of a Hugging Face encoder checkpoint, normalised over the supported architectures.
 * BERT, RoBERTa, XLM-RoBERTa and ELECTRA use the BertConfig field names (ELECTRA adds
 * `embedding_size`); DistilBERT has its own (`dim`, `n_layers`, `n_heads`, `hidden_dim`,
 * `activation`). A field missing from the file takes the default of the transformers config class,
 * as `from_pretrained` would.
 */
import { ConfigError } from '@peftkit/api';
import type { Activation } from '@peftkit/nn';

export const MODEL_TYPES = ['bert', 'roberta', 'xlm-roberta', 'distilbert', 'electra'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

/** transformers' base_model_prefix: the encoder's module name inside the task models. */
const MODEL_PREFIXES: Record<ModelType, string> = {
  bert: 'bert',
  roberta: 'roberta',
  'xlm-roberta': 'roberta',
  distilbert: 'distilbert',
  electra: 'electra',
};

export interface HfConfig {
  readonly modelType: ModelType;
  /** The encoder's module name in the task models (`bert`, `roberta` also for XLM-RoBERTa). */
  readonly modelPrefix: string;
  /** RoBERTa's position ids (padding_idx + running count of real tokens): RoBERTa and XLM-RoBERTa. */
  readonly robertaPositions: boolean;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  /** Width of the embeddings; differs from hiddenSize only in ELECTRA (then embeddings_project maps it). */
  readonly embeddingSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly intermediateSize: number;
  /** The activation as config.json names it, and the graph activation it maps to. */
  readonly activationName: string;
  readonly activation: Activation;
  readonly layerNormEps: number;
  readonly maxPositions: number;
  /** Rows of the token type table; 0 when the architecture has none (DistilBERT). */
  readonly typeVocabSize: number;
  readonly padTokenId: number;
  /**
   * First position id of a real token: RoBERTa counts positions from padding_idx + 1 (its table
   * reserves the rows up to the padding index), BERT and DistilBERT from 0.
   */
  readonly positionOffset: number;
  /** Std of transformers' normal initialisation of fresh Linear weights (initializer_range). */
  readonly initializerRange: number;
  /** Dropout of the classification head: classifier_dropout (seq_classif_dropout), else the hidden one. */
  readonly classifierDropout: number;
}

/** The activations of transformers' ACT2FN that the graph implements exactly. */
const ACTIVATIONS: Record<string, Activation> = {
  gelu: 'gelu',
  gelu_new: 'gelu_tanh',
  gelu_pytorch_tanh: 'gelu_tanh',
  relu: 'relu',
};

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate to `word`, when it is close enough to be a plausible typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestD) [best, bestD] = [c, dist];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Parse config.json text; `file` names it in errors. */
export function parseHfConfig(text: string, file: string): HfConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`not valid JSON: ${(e as Error).message}`, file);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError('expected a JSON object', file);
  }
  const c = raw as Record<string, unknown>;

  const rawType = c.model_type;
  if (typeof rawType !== 'string' || !(MODEL_TYPES as readonly string[]).includes(rawType)) {
    const guess = typeof rawType === 'string' ? didYouMean(rawType, MODEL_TYPES) : undefined;
    throw new ConfigError(
      `unsupported model_type ${JSON.stringify(rawType)}; supported: ${MODEL_TYPES.join(', ')}`,
      file,
      'model_type',
      guess ? `did you mean "${guess}"?` : undefined,
    );
  }
  const modelType = rawType as ModelType;

  const int = (field: string, fallback?: number, min = 1): number => {
    const v = c[field] ?? fallback;
    if (v === undefined) throw new ConfigError(`missing; expected an integer >= ${min}`, file, field);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new ConfigError(`expected an integer >= ${min}, found ${JSON.stringify(v)}`, file, field);
    }
    return v;
  };
  const positive = (field: string, fallback: number): number => {
    const v = c[field] ?? fallback;
    if (typeof v !== 'number' || !(v > 0)) {
      throw new ConfigError(`expected a positive number, found ${JSON.stringify(v)}`, file, field);
    }
    return v;
  };
  const activationOf = (field: string): { activationName: string; activation: Activation } => {
    const name = c[field] ?? 'gelu';
    const act = typeof name === 'string' ? ACTIVATIONS[name] : undefined;
    if (!act) {
      throw new ConfigError(
        `unsupported activation ${JSON.stringify(name)}; supported: ${Object.keys(ACTIVATIONS).join(', ')}`,
        file,
        field,
      );
    }
    return { activationName: name as string, activation: act };
  };

  const probability = (field: string, fallback: number): number => {
    const v = c[field] ?? fallback;
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) {
      throw new ConfigError(`expected a probability in [0, 1), found ${JSON.stringify(v)}`, file, field);
    }
    return v;
  };
  const shared = {
    modelType,
    modelPrefix: MODEL_PREFIXES[modelType],
    robertaPositions: modelType === 'roberta' || modelType === 'xlm-roberta',
    initializerRange: positive('initializer_range', 0.02),
  };

  let cfg: HfConfig;
  if (modelType === 'distilbert') {
    const hiddenSize = int('dim');
    cfg = {
      ...shared,
      vocabSize: int('vocab_size'),
      hiddenSize,
      embeddingSize: hiddenSize,
      numLayers: int('n_layers'),
      numHeads: int('n_heads'),
      intermediateSize: int('hidden_dim'),
      ...activationOf('activation'),
      // DistilBERT's LayerNorms are built with eps=1e-12 regardless of the config.
      layerNormEps: 1e-12,
      maxPositions: int('max_position_embeddings'),
      typeVocabSize: 0,
      padTokenId: int('pad_token_id', 0, 0),
      positionOffset: 0,
      classifierDropout: probability('seq_classif_dropout', 0.2),
    };
  } else {
    const pet = c.position_embedding_type;
    if (pet !== undefined && pet !== null && pet !== 'absolute') {
      throw new ConfigError(
        `position_embedding_type ${JSON.stringify(pet)} is not supported; only "absolute" is`,
        file,
        'position_embedding_type',
      );
    }
    const padTokenId = int('pad_token_id', shared.robertaPositions ? 1 : 0, 0);
    const hiddenSize = int('hidden_size');
    const hiddenDropout = probability('hidden_dropout_prob', 0.1);
    cfg = {
      ...shared,
      vocabSize: int('vocab_size'),
      hiddenSize,
      embeddingSize: modelType === 'electra' ? int('embedding_size', 128) : hiddenSize,
      numLayers: int('num_hidden_layers'),
      numHeads: int('num_attention_heads'),
      intermediateSize: int('intermediate_size'),
      ...activationOf('hidden_act'),
      layerNormEps: positive('layer_norm_eps', 1e-12),
      maxPositions: int('max_position_embeddings'),
      typeVocabSize: int('type_vocab_size', 2),
      padTokenId,
      positionOffset: shared.robertaPositions ? padTokenId + 1 : 0,
      classifierDropout:
        c.classifier_dropout === undefined || c.classifier_dropout === null
          ? hiddenDropout
          : probability('classifier_dropout', 0),
    };
  }
  const headsField = modelType === 'distilbert' ? 'n_heads' : 'num_attention_heads';
  if (cfg.hiddenSize % cfg.numHeads !== 0) {
    throw new ConfigError(
      `${cfg.numHeads} heads do not divide the hidden size ${cfg.hiddenSize}`,
      file,
      headsField,
    );
  }
  if (cfg.padTokenId >= cfg.vocabSize) {
    throw new ConfigError(`pad_token_id ${cfg.padTokenId} is not below vocab_size ${cfg.vocabSize}`, file);
  }
  if (cfg.maxPositions <= cfg.positionOffset) {
    throw new ConfigError(
      `max_position_embeddings ${cfg.maxPositions} leaves no positions after the offset ${cfg.positionOffset}`,
      file,
      'max_position_embeddings',
    );
  }
  return cfg;
}
