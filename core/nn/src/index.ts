/**
 * @peftkit/nn: transformer layers that call the encoder hooks at every attachment point, the
 * program builder that assembles backbone, PEFT modules, task head, loss and gradients, and the
 * module toolkit (parameter arithmetic and initialisation).
 */
export * from './layers.js';
export * from './hooks.js';
export * from './program.js';
export * from './toolkit.js';
export * from './batch.js';
