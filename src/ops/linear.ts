/**
 * linear(x, W, b) = x W^T + b, the projection of every transformer layer. Float weights go through
 * matmul (with autograd). Weights stored as float16, bfloat16, int8 or int4 with block scales
 * (inference) use the backend's fused `linear` kernel, which dequantises in registers and reads
 * each weight once; without one, or when x needs a gradient, the weights are dequantised first
 * (the oracle: `weight.to('float32')`, then the float path).
 */
import {
  add, fail, formatShape, fromBuffer, isFloat, isGradEnabled, matmul, quantizeActivationsQ8, transpose, type LinearKernelOptions,
  type Tensor,
} from '../tensor/index.js';
import { fusedKernel } from './fused.js';

/**
 * `opts.activations: 'q8_0'` (int8 / int4 weights only; float weights ignore it) quantizes x to
 * q8_0 blocks before the product, as llama.cpp does: decode then runs on integer dot products
 * and the outputs follow llama.cpp's arithmetic. Inference only (no gradient through it).
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: LinearKernelOptions = {}): Tensor {
  const activations = checkLinear(x, weight, opts);
  const n = weight.shape[0]!;
  let y: Tensor;
  if (isFloat(weight.dtype)) {
    y = matmul(x, transpose(weight, 0, 1)); // [..., N]
  } else {
    const q8 = activations === 'q8_0';
    const kernel = fusedKernel('linear');
    const fused = kernel && x.dtype === 'float32' && !x.requiresGrad && weight.isContiguous
      ? kernel.forward(x.contiguous().view('linear'), weight.view('linear'), weight.storage.quant, { activations, finiteWeights: halfFinite(weight) })
      : null;
    y = fused ? fromBuffer(fused, 'float32', [...x.shape.slice(0, -1), n])
      : matmul(q8 ? quantizeActivationsQ8(x) : x, transpose(weight.to('float32'), 0, 1));
  }
  return bias ? add(y, bias) : y;
}

/** float16 weights: whether they hold no Inf/NaN (cached per storage version); else undefined. */
function halfFinite(weight: Tensor): boolean | undefined {
  return weight.dtype === 'float16' ? weight.storage.halfFinite() : undefined;
}

/** Validates linear's operands; returns the activation mode. */
function checkLinear(x: Tensor, weight: Tensor, opts: LinearKernelOptions): 'float32' | 'q8_0' {
  if (weight.ndim !== 2) fail('linear', `weight must be [out, in], got ${formatShape(weight.shape)}`);
  const k = weight.shape[1]!;
  if (x.shape[x.ndim - 1] !== k) fail('linear', `input ${formatShape(x.shape)} does not end in the weight's input size ${k} (weight ${formatShape(weight.shape)})`);
  const activations = opts.activations ?? 'float32';
  if (activations !== 'float32' && activations !== 'q8_0') fail('linear', `activations must be 'float32' or 'q8_0', got '${String(activations)}'`);
  if (activations === 'q8_0' && !isFloat(weight.dtype)) {
    const block = weight.storage.quant?.blockSize ?? 0;
    if (k % 32 !== 0 || block % 32 !== 0) fail('linear', `q8_0 activations need an input size and weight block size that are multiples of 32 (input ${k}, block ${block})`);
    if (x.requiresGrad) fail('linear', 'q8_0 activations are for inference: the input requires a gradient (run under noGrad)');
    if (weight.dtype === 'int4' && block !== 32) fail('linear', `q8_0 activations need int4 weights in blocks of 32 (Q4_0), got blocks of ${block}`);
  }
  return activations;
}

/**
 * linear(x, W_i, b_i) for several weights of one input (a layer's q/k/v projections, SwiGLU's
 * gate and up): the same values as calling linear for each, but for decode-sized inputs the
 * backend's kernel runs all their rows as one threaded pass (one dispatch, x quantised or
 * rearranged once). Used without gradients only; otherwise, and for prefill, it is the loop.
 */
export function linearMany(x: Tensor, weights: readonly Tensor[], biases: readonly (Tensor | null | undefined)[] = [], opts: LinearKernelOptions = {}): Tensor[] {
  if (weights.length === 0) fail('linearMany', 'needs at least one weight');
  const activations = weights.map((w) => checkLinear(x, w, opts))[0]!;
  const first = weights[0]!;
  const kernel = fusedKernel('linear');
  const sameFormat = weights.every((w) => w.dtype === first.dtype && w.isContiguous && (w.storage.quant?.blockSize ?? 0) === (first.storage.quant?.blockSize ?? 0));
  // float weights are parameters: only without autograd may the kernel stand in for matmul
  const noGradient = !x.requiresGrad && (!isFloat(first.dtype) || !isGradEnabled());
  if (kernel?.forwardMany && weights.length > 1 && x.dtype === 'float32' && sameFormat && noGradient && first.dtype !== 'float64') {
    const outs = kernel.forwardMany(x.contiguous().view('linear'), weights.map((w) => ({ w: w.view('linear'), scales: w.storage.quant, finite: halfFinite(w) })), { activations });
    if (outs) {
      return outs.map((buf, i) => {
        const y = fromBuffer(buf, 'float32', [...x.shape.slice(0, -1), weights[i]!.shape[0]!]);
        const b = biases[i];
        return b ? add(y, b) : y;
      });
    }
  }
  return weights.map((w, i) => linear(x, w, biases[i], opts));
}
