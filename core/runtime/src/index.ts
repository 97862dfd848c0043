/**
 * @peftkit/runtime: the job runtime below the engine and the testing kit. The workbench (a run's
 * backbone, task and backend with its tokenised splits and compiled programs), the jobs run on it
 * (gradient, evaluate, train), the local executor, the ask/tell search loop with its checkpointed
 * state, and (re-exported from @peftkit/api) the state codec that turns values holding typed arrays
 * into JSON plus safetensors tensors (checkpoints). No plugin loading, no run directories: the engine does those.
 */
export * from './workbench.js';
export * from './trainer.js';
export * from './jobs.js';
export * from './local-executor.js';
export * from './search-loop.js';
// The state codec lives in @peftkit/api (plugins send values holding typed arrays over the wire too).
export { decodeState, encodeState, type EncodedState } from '@peftkit/api';
export * from './memory-limit.js';
