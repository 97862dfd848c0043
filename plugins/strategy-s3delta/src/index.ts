/**
 * @peftkit/plugin-strategy-s3delta: the S3Delta baseline (shifted global sigmoid gates at the
 * budget, binary-concrete sampling, second-order DARTS) and its S3PET-M / S3PET-L search spaces.
 */
export * from './concrete.js';
export * from './darts.js';
export * from './options.js';
export * from './shift.js';
export * from './spaces.js';
export * from './strategy.js';
