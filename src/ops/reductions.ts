/** Reductions composed from primitives: mean, variance, max/min values, logsumexp. */
import {
  add, argmax, argmin, computeDType, div, exp, fail, gather, log, mul, noGrad, normalizeAxes, normalizeAxis,
  reshape, squeeze, sub, sum, where, compare, isFloat, type Tensor,
} from '../tensor/index.js';

export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const d = computeDType('mean', x);
  if (!isFloat(d)) fail('mean', `needs a float tensor, got ${d}`);
  const ax = normalizeAxes('mean', axes, x.ndim);
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  return div(sum(x, ax, keepdim), count);
}

export interface VarianceOptions {
  /** Subtracted from the count in the denominator: 1 is the unbiased estimate (PyTorch's default). */
  correction?: number;
  keepdim?: boolean;
}

export function variance(x: Tensor, axes?: number | readonly number[], opts: VarianceOptions = {}): Tensor {
  const ax = normalizeAxes('variance', axes, x.ndim);
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  const correction = opts.correction ?? 1;
  const centered = sub(x, mean(x, ax, true));
  return div(sum(mul(centered, centered), ax, opts.keepdim ?? false), Math.max(0, count - correction));
}

/**
 * Largest value along `dim` (all elements when dim is omitted). The gradient flows to the
 * first maximal element, like the values of torch.max(x, dim).
 */
export function max(x: Tensor, dim?: number, keepdim = false): Tensor {
  return extreme('max', x, dim, keepdim);
}

export function min(x: Tensor, dim?: number, keepdim = false): Tensor {
  return extreme('min', x, dim, keepdim);
}

function extreme(op: 'max' | 'min', x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  if (dim === undefined) return extreme(op, reshape(x, [-1]), 0, false);
  const d = normalizeAxis(op, dim, x.ndim);
  const idx = (op === 'max' ? argmax : argmin)(x, d, true);
  const values = gather(x, d, idx);
  return keepdim ? values : squeeze(values, d);
}

/** log(sum(exp(x))) along dim, stable; rows of -inf give -inf (as torch.logsumexp). */
export function logsumexp(x: Tensor, dim: number, keepdim = false): Tensor {
  const d = normalizeAxis('logsumexp', dim, x.ndim);
  const m = noGrad(() => {
    const mx = max(x, d, true);
    return where(compare('eq', mx.abs(), Infinity), 0, mx);
  });
  const out = add(log(sum(exp(sub(x, m)), d, true)), m);
  return keepdim ? out : squeeze(out, d);
}
