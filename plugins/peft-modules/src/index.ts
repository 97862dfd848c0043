/** @peftkit/plugin-peft-modules: PEFT module types: LoRA, serial/parallel/low-rank adapters, prefix tuning, BitFit, LNFit, full fine-tuning. */
export {};
