/**
 * @peftkit/plugin-strategy-manual: manual PEFT baselines at a budget (largest uniform configuration
 * of one module type), full fine-tuning and the frozen encoder with a linear head.
 */
export * from './strategy.js';
export * from './targets.js';
