/**
 * The checkpoint's own tokenizer (tokenizer.json, run by @huggingface/tokenizers), with the
 * truncation the transformers tokenizers apply for `truncation=True` (longest-first: drop tokens
 * from the end of the longer text, the second on ties) done before the special tokens are added,
 * so that the [SEP] / </s> markers always survive truncation.
 */
import { ConfigError, DataError, type Encoding, type Tokenizer } from '@peftkit/api';
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import type { HfConfig } from './config.js';

/** How token type ids are produced: BERT's segments, RoBERTa's all-zero ids, or none (DistilBERT). */
export type TypeIdMode = 'segments' | 'zeros' | 'none';

export function typeIdModeOf(cfg: HfConfig): TypeIdMode {
  if (cfg.typeVocabSize === 0) return 'none';
  return cfg.typeVocabSize === 1 ? 'zeros' : 'segments';
}

/** Parse tokenizer.json (and tokenizer_config.json when present); `file` names it in errors. */
export function parseHfTokenizer(json: string, configJson: string | null, file: string): HfTokenizerImpl {
  let spec: unknown;
  let config: unknown = {};
  try {
    spec = JSON.parse(json);
  } catch (e) {
    throw new DataError(`not valid JSON: ${(e as Error).message}`, file);
  }
  if (configJson !== null) {
    try {
      config = JSON.parse(configJson);
    } catch (e) {
      throw new DataError(`tokenizer_config.json is not valid JSON: ${(e as Error).message}`, file);
    }
  }
  const s = spec as Record<string, unknown>;
  if (typeof s !== 'object' || s === null || typeof s.model !== 'object' || s.model === null) {
    throw new DataError('not a tokenizer.json: expected an object with a "model"', file);
  }
  // transformers always writes these keys; tokenizers.js insists on them, so default the absent ones.
  const full = {
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    added_tokens: [],
    ...s,
  };
  try {
    return new HfTokenizerImpl(full, config as object);
  } catch (e) {
    throw new DataError(`cannot build the tokenizer: ${(e as Error).message}`, file);
  }
}

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;

  constructor(
    private readonly impl: HfTokenizerImpl,
    readonly padId: number,
    /** Default and upper limit of `encode`'s maxLength (the model's usable positions). */
    readonly maxLength: number,
    private readonly positionLimit: number,
    private readonly typeIds: TypeIdMode,
  ) {
    let maxId = -1;
    for (const id of impl.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
  }

  /** Number of special tokens added around one text (pair = false) or a pair. */
  private specialCount(pair: boolean): number {
    return this.assemble([], pair ? [] : null).ids.length;
  }

  private assemble(a: string[], b: string[] | null): Encoding {
    const post = this.impl.post_processor;
    let tokens: string[];
    let types: number[] | undefined;
    if (post) {
      const out = post(a, b, true);
      tokens = out.tokens;
      types = out.token_type_ids;
    } else {
      tokens = [...a, ...(b ?? [])];
    }
    types ??= [...a.map(() => 0), ...(b ?? []).map(() => 1)];
    const unk = this.impl.model?.unk_token_id;
    const ids = tokens.map((t) => {
      const id = this.impl.token_to_id(t) ?? unk;
      if (id === undefined)
        throw new Error(`token "${t}" is not in the vocabulary and there is no unknown token`);
      return id;
    });
    if (this.typeIds === 'none') return { ids };
    return { ids, typeIds: this.typeIds === 'zeros' ? ids.map(() => 0) : types };
  }

  encode(text: string, pair?: string, maxLength: number = this.maxLength): Encoding {
    if (!Number.isInteger(maxLength) || maxLength > this.positionLimit) {
      throw new ConfigError(
        `maxLength ${maxLength} must be an integer no larger than the model's ${this.positionLimit} positions`,
        undefined,
        'backbone.options.maxLength',
      );
    }
    const a = this.impl.tokenize(text);
    const b = pair === undefined ? null : this.impl.tokenize(pair);
    const room = maxLength - this.specialCount(b !== null);
    if (room < (b === null ? 1 : 2)) {
      throw new ConfigError(
        `maxLength ${maxLength} leaves no room for text after the ${this.specialCount(b !== null)} special tokens${b !== null ? ' of a sentence pair' : ''}`,
        undefined,
        'backbone.options.maxLength',
        `use at least ${this.specialCount(b !== null) + (b === null ? 1 : 2)}`,
      );
    }
    let na = a.length;
    let nb = b?.length ?? 0;
    while (na + nb > room) {
      if (na > nb) na--;
      else nb--;
    }
    return this.assemble(a.slice(0, na), b ? b.slice(0, nb) : null);
  }
}
