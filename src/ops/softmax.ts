/** softmax and log_softmax: fused kernel when the backend has one, composed otherwise. */
import {
  contiguous, div, exp, fail, fromBuffer, isFloat, noGrad, normalizeAxis, recordOp, sub, sum, transpose,
  type FusedSoftmax, type Tensor,
} from '../tensor/index.js';
import { fusedKernel } from './fused.js';
import { logsumexp, max } from './reductions.js';

function onLastAxis(op: string, x: Tensor, dim: number, f: (x: Tensor) => Tensor): Tensor {
  if (!isFloat(x.dtype)) fail(op, `needs a float tensor, got ${x.dtype}`);
  if (x.ndim === 0) return f(x.reshape(1)).reshape([]);
  const d = normalizeAxis(op, dim, x.ndim);
  if (d === x.ndim - 1) return f(x);
  return transpose(f(transpose(x, d, -1)), d, -1);
}

function runFused(op: string, kernel: FusedSoftmax, x: Tensor): Tensor {
  const xc = contiguous(x);
  const y = fromBuffer(kernel.forward(xc.view(op)), x.dtype, x.shape);
  return recordOp(y, op, [xc], (g) => [fromBuffer(kernel.backward(y.view(op), contiguous(g).view(op)), x.dtype, x.shape)]);
}

/** exp(x) / sum(exp(x)) along `dim`. A row of all -inf gives NaN, as in PyTorch. */
export function softmax(x: Tensor, dim = -1): Tensor {
  return onLastAxis('softmax', x, dim, (v) => {
    const k = fusedKernel('softmax');
    if (k) return runFused('softmax', k, v);
    const m = noGrad(() => max(v, -1, true));
    const e = exp(sub(v, m));
    return div(e, sum(e, -1, true));
  });
}

/** x - logsumexp(x) along `dim`, computed stably. */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return onLastAxis('logSoftmax', x, dim, (v) => {
    const k = fusedKernel('logSoftmax');
    if (k) return runFused('logSoftmax', k, v);
    return sub(v, logsumexp(v, -1, true));
  });
}
