/** @peftkit/train: Optimisers, learning-rate schedules, gradient clipping, metrics and batching, in TypeScript on Float32Arrays. */
export * from './metrics.js';
export * from './optim.js';
export * from './schedule.js';
export * from './clip.js';
