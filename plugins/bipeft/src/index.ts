/** @peftkit/plugin-bipeft: BIPEFT's search spaces, sensitivity, budget scheduler and strategy. */
export * from './derivation.js';
export * from './importance-samples.js';
export * from './options.js';
export * from './relax.js';
export * from './rounds.js';
export * from './scheduler.js';
export * from './sensitivity.js';
export * from './spaces.js';
export * from './strategy.js';
export * from './supernet.js';
