/**
 * linear(x, W, b) = x W^T + b, the projection of every transformer layer. Float weights go through
 * matmul (with autograd). Weights stored as float16, bfloat16, int8 or int4 with block scales
 * (inference) use the backend's fused `linear` kernel, which dequantises in registers and reads
 * each weight once; without one, or when x needs a gradient, the weights are dequantised first
 * (the oracle: `weight.to('float32')`, then the float path).
 */
import { add, fail, formatShape, fromBuffer, isFloat, matmul, transpose, type Tensor } from '../tensor/index.js';
import { fusedKernel } from './fused.js';

export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (weight.ndim !== 2) fail('linear', `weight must be [out, in], got ${formatShape(weight.shape)}`);
  const [n, k] = weight.shape as [number, number];
  if (x.shape[x.ndim - 1] !== k) fail('linear', `input ${formatShape(x.shape)} does not end in the weight's input size ${k} (weight ${formatShape(weight.shape)})`);
  let y: Tensor;
  if (isFloat(weight.dtype)) {
    y = matmul(x, transpose(weight, 0, 1)); // [..., N]
  } else {
    const kernel = fusedKernel('linear');
    if (kernel && x.dtype === 'float32' && !x.requiresGrad && weight.isContiguous) {
      const xc = x.contiguous();
      y = fromBuffer(kernel.forward(xc.view('linear'), weight.view('linear'), weight.storage.quant), 'float32', [...x.shape.slice(0, -1), n]);
    } else {
      y = matmul(x, transpose(weight.to('float32'), 0, 1));
    }
  }
  return bias ? add(y, bias) : y;
}
