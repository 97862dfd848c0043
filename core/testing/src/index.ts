/**
 * @peftkit/testing: what plugin authors use in their tests: conformance suites (one per extension
 * point), tiny fixture backbones and tasks, and an in-process ONNX Runtime runner.
 */
export * from './fixtures.js';
export * from './ort-runner.js';
export * from './inprocess-backend.js';
export * from './browser.js';
