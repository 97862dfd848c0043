/** @peftkit/plugin-onnxruntime: Training backend on ONNX Runtime (onnxruntime-node): compiled sessions in a worker thread, CPU by default, CUDA opt-in. */
export {};
