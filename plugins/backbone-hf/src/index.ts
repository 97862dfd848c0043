/**
 * @peftkit/plugin-hf: Hugging Face-format encoders (BERT, RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA)
 * from a checkpoint directory with config.json + model.safetensors + tokenizer.json (or a hub id in
 * the Hugging Face cache), with each architecture's transformers classification head.
 */
export { loadHfBackbone, type HfBackboneOptions } from './load.js';
export { HfEncoder, attachmentPoints, POOLINGS, type Pooling, type EncoderOptions } from './encoder.js';
export { parseHfConfig, MODEL_TYPES, type HfConfig, type ModelType } from './config.js';
export { HfTokenizer } from './tokenizer.js';
export { weightSpecs, type WeightSpec } from './weights.js';
export { hfTaskHead, headPooling } from './head.js';
export { hubCacheDir, resolveHubModel } from './hub.js';
