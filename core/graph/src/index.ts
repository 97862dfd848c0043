/**
 * @peftkit/graph: the graph IR every training backend consumes.
 *
 * - `Graph` builds typed ONNX graphs with symbolic shapes, checked as each node is added.
 * - The builder functions (`add`, `matmul`, `layerNorm`, ...) are the op vocabulary.
 * - `gradients(loss, wrt)` appends reverse-mode autodiff.
 * - `serialize(graph)` writes ONNX bytes (+ external data, or graph inputs, for frozen weights).
 */
import './ops/elementwise.js';
import './ops/linalg.js';
import './ops/nn.js';
import './ops/reduce.js';
import './ops/shape.js';

export * from './dims.js';
export * from './tensor.js';
export {
  Graph,
  GraphError,
  Value,
  type Node,
  type Initializer,
  type OpOptions,
  type ValueKind,
} from './graph.js';
export * as ops from './builders.js';
export * from './builders.js';
export { gradients, type GradientOptions } from './autodiff.js';
export {
  serialize,
  onnxDataType,
  DEFAULT_OPSET,
  DEFAULT_IR_VERSION,
  type SerializedModel,
  type SerializeOptions,
  type ExternalBuffer,
  type WeightInput,
} from './onnx.js';
export { countFlops, nodeFlops, peakActivationBytes, type FlopReport } from './analysis.js';
export { allOpDefs, getOpDef, type OpDef, type AttrValue, type AttrSpec } from './ops/registry.js';
export * from './fragments.js';
export * from './gradcheck.js';
