/** The tensor core: Tensor, dtypes, creation, primitives with autograd, backend interface. */
export * from './dtype.js';
export * from './errors.js';
export * from './shape.js';
export * from './random.js';
export * from './storage.js';
export * from './backend.js';
export { Tensor, type NestedArray, type TensorLike } from './tensor.js';
export { GradNode, noGrad, isGradEnabled, recordOp, backward, type GradRule, type BackwardOptions } from './autograd.js';
export { tidy, keep } from './scope.js';
export * from './creation.js';
export * from './primitives.js';
export { toDType, quantizeInt8, quantizeInt4, quantizedTensor, quantizeActivationsQ8, toBackendMemory, int4At, type QuantizeOptions } from './convert.js';
