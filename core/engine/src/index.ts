/** @peftkit/engine: Presets and their validation, plugin discovery and registration (one inversify container), run orchestration, run directories, journal, checkpoints and resume, executors and reporters. */
export {};
export * from './exec/index.js';
