/** @peftkit/plugin-executor-bullmq: comparison cells and search trials on BullMQ workers over Redis. */
export * from './cell-runner.js';
export * from './cell-worker.js';
export * from './executor.js';
export * from './options.js';
export * from './queue-client.js';
export * from './tls.js';
export * from './trial-executor.js';
export * from './wire.js';
