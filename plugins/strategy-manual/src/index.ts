/** @peftkit/plugin-strategy-manual: Manual PEFT baselines at a budget (largest uniform configuration of one module type), full fine-tuning and frozen linear head. */
export {};
