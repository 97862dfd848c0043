/** @peftkit/plugin-strategy-adalora: AdaLoRA baseline: SVD-form LoRA with importance-based rank allocation on a cubic budget schedule. */
export {};
