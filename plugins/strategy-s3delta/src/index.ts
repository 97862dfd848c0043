/** @peftkit/plugin-strategy-s3delta: S3Delta baseline: shifted global sigmoid gates, binary-concrete sampling, second-order DARTS. */
export {};
