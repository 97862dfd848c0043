/**
 * @peftkit/plugin-onnxruntime: training backend on ONNX Runtime (onnxruntime-node), with sessions
 * in a worker thread, CPU by default and CUDA opt-in; and the train-step benchmark.
 */
export { OnnxRuntimeBackend, OrtProgram, type OnnxRuntimeDescription, type RunTiming } from './backend.js';
export { BackendError, cleanOrtMessage } from './errors.js';
export { cudaInstallHelp, ortBinDir } from './cuda.js';
export {
  optionsSchema,
  resolveOptions,
  defaultIntraOpThreads,
  type OnnxRuntimeOptions,
  type ResolvedOptions,
  type Provider,
  type GraphOptimizationLevel,
} from './options.js';
export {
  runTrainStepBench,
  type TrainStepBenchOptions,
  type BenchReport,
  type MatMulReference,
  type ProgramTiming,
  type TransferOverhead,
} from './bench/train-step.js';
export {
  BERT_BASE,
  BERT_LARGE,
  QUICK,
  LoraHooks,
  buildProgram,
  encodeBert,
  makeFeeds,
  makeFrozenWeights,
  type EncoderConfig,
  type FrozenWeights,
  type BenchProgram,
} from './bench/model.js';
export { BenchBackbone, benchPoints } from './bench/backbone.js';
