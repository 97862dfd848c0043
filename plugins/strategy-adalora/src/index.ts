/**
 * @peftkit/plugin-strategy-adalora: AdaLoRA baseline: the `adalora` SVD-form module type and a
 * strategy that masks singular triplets by importance on a cubic budget schedule.
 */
export * from './importance.js';
export * from './module.js';
export * from './orthogonality.js';
export * from './schedule.js';
export * from './strategy.js';
