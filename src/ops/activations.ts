/** Activation functions composed from primitives. */
import {
  add, compare, contiguous, erf, fail, formatShape, fromBuffer, mul, pow, recordOp, sameShape, sigmoid, tanh, where, type Tensor, cast,
  type ComputeDType, computeDType,
} from '../tensor/index.js';
import { fusedKernel } from './fused.js';

/** max(x, 0); the gradient at 0 is 0 (as PyTorch). */
export function relu(x: Tensor): Tensor {
  return mul(x, cast(compare('gt', x, 0), computeDType('relu', x) as ComputeDType));
}

export type GeluApproximation = 'none' | 'tanh';

/**
 * Gaussian error linear unit. 'none' is the exact x * Phi(x) (BERT); 'tanh' is the
 * approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) used by GPT-2.
 */
export function gelu(x: Tensor, approximate: GeluApproximation = 'none'): Tensor {
  const kernel = fusedKernel('gelu');
  if (kernel && x.dtype === 'float32') {
    const xc = contiguous(x);
    const y = fromBuffer(kernel.forward(xc.view('gelu'), approximate), 'float32', x.shape);
    return recordOp(y, 'gelu', [xc], (g) => [fromBuffer(kernel.backward(xc.view('gelu'), contiguous(g).view('gelu'), approximate), 'float32', x.shape)]);
  }
  if (approximate === 'tanh') {
    const cube = mul(mul(x, x), x); // (cheaper than pow, and its gradient needs no log)
    const inner = mul(add(x, mul(cube, 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  }
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

/** x * sigmoid(x), a.k.a. swish (LLaMA's SwiGLU gate). */
export function silu(x: Tensor): Tensor {
  return mul(x, sigmoid(x));
}

/**
 * silu(gate) * up for two tensors of one shape: the gated unit of SwiGLU feed-forwards (Shazeer
 * 2020, "GLU Variants Improve Transformer"; LLaMA, Mistral, Qwen2). A fused kernel when the
 * backend has one (float32), else the composition.
 */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  if (!sameShape(gate.shape, up.shape)) fail('swiglu', `gate ${formatShape(gate.shape)} and up ${formatShape(up.shape)} must have the same shape`);
  const kernel = fusedKernel('swiglu');
  if (kernel && gate.dtype === 'float32' && up.dtype === 'float32') {
    const g = contiguous(gate);
    const u = contiguous(up);
    const y = fromBuffer(kernel.forward(g.view('swiglu'), u.view('swiglu')), 'float32', gate.shape);
    return recordOp(y, 'swiglu', [g, u], (gy) => {
      const [gg, gu] = kernel.backward(g.view('swiglu'), u.view('swiglu'), contiguous(gy).view('swiglu'));
      return [fromBuffer(gg, 'float32', gate.shape), fromBuffer(gu, 'float32', gate.shape)];
    });
  }
  return mul(silu(gate), up);
}

/** Limits values to [min, max]; the gradient is 1 inside the closed interval, 0 outside (as PyTorch). */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  let out = x;
  if (min !== undefined) out = where(compare('lt', out, min), min, out);
  if (max !== undefined) out = where(compare('gt', out, max), max, out);
  return out;
}

export function rsqrt(x: Tensor): Tensor {
  return pow(x, -0.5);
}

export function square(x: Tensor): Tensor {
  return mul(x, x);
}
