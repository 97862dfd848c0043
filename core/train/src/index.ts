/** @peftkit/train: Optimisers, learning-rate schedules, gradient clipping, metrics and batching, in TypeScript on Float32Arrays. */
export {};
