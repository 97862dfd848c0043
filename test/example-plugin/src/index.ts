/** peftkit-plugin-grad-norm: an importance estimator written against @peftkit/api only. */
export * from './grad-norm.js';
