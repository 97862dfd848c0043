/** @peftkit/plugin-strategy-random: random search baseline over the same space and budget. */
export * from './sampler.js';
export * from './strategy.js';
