/** Plugin entry: contributes the `onnxruntime` training backend. */
import { ContainerModule, contribute } from '@peftkit/api';
import { OnnxRuntimeBackend } from './backend.js';
import { optionsSchema } from './options.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'training-backend',
    name: 'onnxruntime',
    description:
      'ONNX Runtime (onnxruntime-node): compiles peftkit graphs into inference sessions that run forward and backward passes in a worker thread; CPU by default, CUDA when its provider is installed.',
    optionsSchema,
    create: (options, ctx) => OnnxRuntimeBackend.create(options, ctx.log),
  });
});
