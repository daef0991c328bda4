/**
 * Scaled dot-product attention (Vaswani et al. 2017, eq. 1), composed from primitives:
 * softmax(q k^T * scale + mask) v. This composed form is the oracle for the tiled kernels.
 */
import { add, arange, compare, fail, formatShape, matmul, mul, transpose, where, type Tensor } from '../tensor/index.js';
import { softmax } from './softmax.js';

export interface AttentionOptions {
  /** Bool mask (true = attend) or additive float bias, broadcastable to [..., Tq, Tk]. */
  mask?: Tensor;
  /** Causal masking aligned to the end (query i attends to keys <= i + Tk - Tq). */
  causal?: boolean;
  /** Defaults to 1 / sqrt(head dim). */
  scale?: number;
}

/** q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv] -> [..., Tq, Dv]. */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const d = q.shape[q.ndim - 1]!;
  if (k.shape[k.ndim - 1] !== d) fail('attention', `query ${formatShape(q.shape)} and key ${formatShape(k.shape)} head dims differ`);
  if (k.shape[k.ndim - 2] !== v.shape[v.ndim - 2]) fail('attention', `key ${formatShape(k.shape)} and value ${formatShape(v.shape)} lengths differ`);
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  let scores = mul(matmul(q, transpose(k, -2, -1)), scale); // [..., Tq, Tk]
  const tq = q.shape[q.ndim - 2]!;
  const tk = k.shape[k.ndim - 2]!;
  if (opts.causal) {
    const allowed = causalMask(tq, tk);
    scores = where(allowed, scores, -Infinity);
  }
  if (opts.mask) {
    scores = opts.mask.dtype === 'bool' ? where(opts.mask, scores, -Infinity) : add(scores, opts.mask);
  }
  return matmul(softmax(scores, -1), v); // [..., Tq, Dv]
}

/** Bool [Tq, Tk]: query i may attend key j when j <= i + (Tk - Tq). */
export function causalMask(tq: number, tk: number): Tensor {
  const rows = arange(tq).reshape(tq, 1);
  const cols = arange(tk).reshape(1, tk);
  return compare('le', cols, add(rows, tk - tq));
}
