/** Composite ops: built from primitives, dispatching to fused kernels where a backend has them. */
export * from './fused.js';
export * from './reductions.js';
export * from './activations.js';
export * from './softmax.js';
export * from './norms.js';
export * from './losses.js';
export * from './dropout.js';
export * from './indexing.js';
export * from './attention.js';
export * from './linear.js';
export * from './rope.js';
