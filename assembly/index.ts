// attn's WebAssembly kernels. Built twice by scripts/build-wasm.mjs: with plain SIMD128 and
// with relaxed SIMD (fused multiply-add, the int8 dot product); the loader picks what the runtime supports.
export { packBytes, heapBase, gemmRegion, gemmBatched } from './gemm';
export { q8PackedABytes, q8PanelBytes, packQ8A, gemmQ8 } from './gemm-q8';
export { attnForward, attnBackward } from './attention';
export { matvec, halfSpecialAny, prepareHalfAct, dequantRows, readSum, quantizeQ8Rows, dequantQ8Rows, q8ActBlockBytes, prepareQ8Act, matvecQ8 } from './matvec';
export { unaryF32, binaryF32 } from './elementwise';
export { softmaxForward, softmaxBackward, normForward, normBackward, crossEntropyForward, crossEntropyBackward } from './rows';
export { rope } from './rope';
export { gatherRows, scatterAddRows } from './embedding';
export { geluForward, geluBackward, swigluForward, swigluBackward } from './activations';
