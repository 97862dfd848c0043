/** @peftkit/plugin-hf: Hugging Face-format encoders (BERT, RoBERTa, DistilBERT): config.json + model.safetensors + tokenizer.json. */
export {};
