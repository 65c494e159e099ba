/** The neural engine: tensors, autograd, ops, layers, optimizers and parameter files. */
export { Tensor, tensor, zeros, full, parameter, sizeOf, type Shape } from './tensor.js';
export { RowGrad } from './row-grad.js';
export { Rng } from './rng.js';
export { StepArena, floats } from './memory.js';
export { noGrad, isGradEnabled, needsGrad, record, clearTape, tapeLength } from './autograd.js';
export { add, sub, mul, div, scale, addN } from './ops/elementwise.js';
export { matmul, bmm, linear, type MatmulOptions } from './ops/matmul.js';
export {
  reshape,
  permute,
  transpose,
  concat,
  slice,
  indexRows,
  embedding,
  selectRows,
  detach,
} from './ops/shape.js';
export { sum, mean } from './ops/reduce.js';
export { relu, gelu, tanh, sigmoid } from './ops/activation.js';
export { softmax, maskedSoftmax, logSoftmax, causalPaddingMask } from './ops/softmax.js';
export { causalAttention } from './ops/attention.js';
export { layerNorm, dyt, l2Normalize } from './ops/norm.js';
export { dropout } from './ops/dropout.js';
export { crossEntropy, linearCrossEntropy, bceWithLogits } from './ops/loss.js';
export { Module, ModuleList } from './nn/module.js';
export { Linear, Embedding, LayerNorm, DyT, type InitOptions } from './nn/layers.js';
export {
  MultiHeadSelfAttention,
  TransformerBlock,
  TransformerEncoder,
  type TransformerOptions,
} from './nn/transformer.js';
export { normalParam, xavierUniformParam, constantParam } from './nn/init.js';
export { Adam, AdamW, type AdamOptions } from './optim/adam.js';
export { clipGradNorm, gradNorm } from './optim/grads.js';
export {
  saveParameters,
  loadParameters,
  loadSafetensors,
  encodeSafetensors,
  decodeSafetensors,
  PARAMS_FORMAT_VERSION,
} from './io/safetensors.js';
