/**
 * @peftkit/nn: transformer layers that call the encoder hooks at every attachment point, and the
 * program builder that assembles backbone, PEFT modules, task head, loss and gradients.
 */
export * from './layers.js';
export * from './hooks.js';
