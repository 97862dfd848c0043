/**
 * @peftkit/engine: presets and their validation, plugin discovery and registration (one inversify
 * container), run directories, journal and checkpoints, and the built-in reporters.
 */
export * from './config/errors.js';
export * from './config/load.js';
export * from './config/origins.js';
export * from './config/preset.js';
export * from './config/schema.js';
export * from './config/types.js';
export * from './config/validate.js';
export * from './config/yaml.js';
export * from './plugins/discovery.js';
export * from './plugins/engine-module.js';
export * from './plugins/guard.js';
export * from './plugins/loader.js';
export * from './plugins/manifest.js';
export * from './plugins/registry.js';
export * from './reporters/format.js';
export * from './reporters/jsonl.js';
export * from './reporters/plain.js';
export * from './reporters/tty.js';
export * from './run/checkpoint.js';
export * from './run/fingerprint.js';
export * from './run/interrupt.js';
export * from './run/journal.js';
export * from './run/lock.js';
export * from './run/rundir.js';
export * from './schema/problems.js';
export * from './util/fs.js';
export { ENGINE_DIR, engineVersion, workspaceRoot, displayPath } from './util/paths.js';
export { closestMatches, didYouMean, editDistance, showValue } from './util/suggest.js';
export * from '@peftkit/runtime';
export * from './orchestrate/architecture.js';
export * from './orchestrate/run.js';
export * from './report/result.js';
export * from './report/run-report.js';
export * from './report/svg.js';
export * from './orchestrate/export.js';
export * from './orchestrate/evaluate.js';
export * from './orchestrate/compare.js';
export * from './orchestrate/compare-plan.js';
export * from './orchestrate/cell-execution.js';
export * from './orchestrate/cell-worker.js';
export * from './report/compare-report.js';
export * from './orchestrate/selfcheck.js';
export * from './tensorboard/index.js';
export * from './serve/index.js';
export * from './bench/search-bench.js';
