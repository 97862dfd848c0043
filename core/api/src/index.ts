/**
 * @peftkit/api: what plugin authors import. Extension-point interfaces (each documented with its
 * call order and invariants), the plain data types that flow between them, and a few shared
 * utilities (the seeded RNG, error types, the safetensors and state codecs). No engine logic lives here.
 */
export * from './backbone.js';
export * from './backend.js';
export * from './batches.js';
export * from './budget.js';
export * from './cells.js';
export * from './errors.js';
export * from './events.js';
export * from './importance.js';
export * from './peft.js';
export * from './plugin.js';
export * from './process.js';
export * from './rng.js';
export * from './safetensors.js';
export * from './search-kit.js';
export * from './space.js';
export * from './state.js';
export * from './strategy.js';
export * from './task.js';
export * from './targets.js';
export * from './text.js';
export * from './wire.js';
