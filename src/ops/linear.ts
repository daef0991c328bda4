/**
 * linear(x, W, b) = x W^T + b, the projection of every transformer layer. Float weights go through
 * matmul (with autograd). Weights stored as float16, bfloat16, int8 or int4 with block scales
 * (inference) use the backend's fused `linear` kernel, which dequantises in registers and reads
 * each weight once; without one, or when x needs a gradient, the weights are dequantised first
 * (the oracle: `weight.to('float32')`, then the float path).
 */
import {
  add, fail, formatShape, fromBuffer, isFloat, matmul, quantizeActivationsQ8, transpose, type LinearKernelOptions, type Tensor,
} from '../tensor/index.js';
import { fusedKernel } from './fused.js';

/**
 * `opts.activations: 'q8_0'` (int8 / int4 weights only; float weights ignore it) quantizes x to
 * q8_0 blocks before the product, as llama.cpp does: decode then runs on integer dot products
 * and the outputs follow llama.cpp's arithmetic. Inference only (no gradient through it).
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: LinearKernelOptions = {}): Tensor {
  if (weight.ndim !== 2) fail('linear', `weight must be [out, in], got ${formatShape(weight.shape)}`);
  const [n, k] = weight.shape as [number, number];
  if (x.shape[x.ndim - 1] !== k) fail('linear', `input ${formatShape(x.shape)} does not end in the weight's input size ${k} (weight ${formatShape(weight.shape)})`);
  const activations = opts.activations ?? 'float32';
  if (activations !== 'float32' && activations !== 'q8_0') fail('linear', `activations must be 'float32' or 'q8_0', got '${String(activations)}'`);
  let y: Tensor;
  if (isFloat(weight.dtype)) {
    y = matmul(x, transpose(weight, 0, 1)); // [..., N]
  } else {
    const q8 = activations === 'q8_0';
    if (q8) {
      const block = weight.storage.quant?.blockSize ?? 0;
      if (k % 32 !== 0 || block % 32 !== 0) fail('linear', `q8_0 activations need an input size and weight block size that are multiples of 32 (input ${k}, block ${block})`);
      if (x.requiresGrad) fail('linear', 'q8_0 activations are for inference: the input requires a gradient (run under noGrad)');
    }
    if (q8 && weight.dtype === 'int4' && weight.storage.quant!.blockSize !== 32) {
      fail('linear', `q8_0 activations need int4 weights in blocks of 32 (Q4_0), got blocks of ${weight.storage.quant!.blockSize}`);
    }
    const kernel = fusedKernel('linear');
    const fused = kernel && x.dtype === 'float32' && !x.requiresGrad && weight.isContiguous
      ? kernel.forward(x.contiguous().view('linear'), weight.view('linear'), weight.storage.quant, { activations })
      : null;
    y = fused ? fromBuffer(fused, 'float32', [...x.shape.slice(0, -1), n])
      : matmul(q8 ? quantizeActivationsQ8(x) : x, transpose(weight.to('float32'), 0, 1));
  }
  return bias ? add(y, bias) : y;
}
