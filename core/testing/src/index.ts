/**
 * @peftkit/testing: what plugin authors use in their tests: conformance suites (one per extension
 * point), tiny fixture backbones and tasks, and an in-process ONNX Runtime runner.
 *
 * Conformance suites are mocha `describe` blocks a plugin's own test file calls, one per
 * contribution (as Optuna ships sampler tests and ESLint its RuleTester):
 *
 *   import { describeImportanceEstimator } from '@peftkit/testing';
 *   describeImportanceEstimator('grad-norm', () => new GradNormEstimator());
 *
 * Each suite documents what it checks and its options; docs/plugin-authoring.md walks through them.
 */
export * from './fixtures.js';
export * from './ort-runner.js';
export * from './inprocess-backend.js';
export * from './browser.js';
export { describeBackbone, type BackboneSuiteOptions } from './conformance/backbone.js';
export { describeTask, type TaskSuiteOptions } from './conformance/task.js';
export { describePeftModuleType, type PeftModuleTypeSuiteOptions } from './conformance/peft-module.js';
export {
  describeSearchSpace,
  spaceDefinitionProblems,
  type SearchSpaceSuiteOptions,
} from './conformance/space.js';
export {
  describeImportanceEstimator,
  syntheticImportanceSamples,
  type ImportanceEstimatorSuiteOptions,
} from './conformance/importance.js';
export { describeBudgetScheduler, type BudgetSchedulerSuiteOptions } from './conformance/scheduler.js';
export { describeSearchStrategy, type SearchStrategySuiteOptions } from './conformance/strategy.js';
export { describeTrainingBackend, type TrainingBackendSuiteOptions } from './conformance/backend.js';
export {
  describeReporter,
  sampleRunEvents,
  awkwardRunEvents,
  type ReporterSuiteOptions,
} from './conformance/reporter.js';
export { describeExecutor, type ExecutorSuiteOptions } from './conformance/executor.js';
export { fixtureSpace, FIXTURE_SPACE_NAMES, type FixtureSpaceName } from './conformance/spaces.js';
export { loadContributions, ofKind, createContext, creator } from './conformance/contributions.js';
export {
  fingerprint,
  plainDataProblem,
  toModuleTypes,
  type Factory,
  type ModuleTypeSource,
} from './conformance/common.js';
export * from './harness.js';
export * from './python.js';
export * from './hub-server.js';

/** The tiny backbone and task as a plugin's ContainerModule (also this package's `peftkit.module`). */
export { default as fixturePlugin } from './plugin.js';
