/** Cross-entropy over the last axis of logits, with ignore_index and label smoothing. */
import {
  cast, compare, contiguous, div, fail, formatShape, fromBuffer, gather, isFloat, mul, neg, recordOp, reshape,
  sameShape, sum, unsqueeze, where, add, squeeze, type Tensor,
} from '../tensor/index.js';
import { fusedKernel } from './fused.js';
import { logSoftmax } from './softmax.js';
import { mean } from './reductions.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** Targets equal to this contribute no loss and no gradient (default -100, as PyTorch). */
  ignoreIndex?: number;
  /** Mixes the one-hot target with the uniform distribution (Szegedy et al. 2016). */
  labelSmoothing?: number;
  reduction?: Reduction;
}

/**
 * logits [..., C] (classes on the last axis) and int32 targets [...]. 'mean' divides by the
 * number of non-ignored targets; if every target is ignored the mean is NaN, as in PyTorch.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const labelSmoothing = opts.labelSmoothing ?? 0;
  const reduction = opts.reduction ?? 'mean';
  if (!isFloat(logits.dtype)) fail('crossEntropy', `logits must be float, got ${logits.dtype}`);
  if (targets.dtype !== 'int32') fail('crossEntropy', `targets must be int32 class ids, got ${targets.dtype}`);
  if (logits.ndim < 1 || !sameShape(logits.shape.slice(0, -1), targets.shape)) {
    fail('crossEntropy', `logits ${formatShape(logits.shape)} and targets ${formatShape(targets.shape)} do not match: expected targets of shape ${formatShape(logits.shape.slice(0, -1))}`);
  }
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) fail('crossEntropy', `labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  if (!['mean', 'sum', 'none'].includes(reduction)) fail('crossEntropy', `unknown reduction '${reduction}'`);
  const c = logits.shape[logits.ndim - 1]!;
  const x = reshape(logits, [-1, c]);
  const t = reshape(targets, [-1]);
  for (const v of t.toTypedArray()) {
    if (v !== ignoreIndex && (v < 0 || v >= c)) fail('crossEntropy', `target ${v} is out of range for ${c} classes`);
  }
  const valid = compare('ne', t, ignoreIndex);
  const ceOpts = { ignoreIndex, labelSmoothing };

  let perRow: Tensor;
  const k = fusedKernel('crossEntropy');
  if (k) {
    const xc = contiguous(x);
    const tc = contiguous(t);
    const r = k.forward(xc.view('crossEntropy'), tc.view('crossEntropy'), ceOpts);
    const lse = fromBuffer(r.lse, x.dtype, [x.shape[0]!]); // a tensor, so that tidy/dispose pool its buffer
    perRow = recordOp(fromBuffer(r.loss, x.dtype, [x.shape[0]!]), 'crossEntropy', [xc], (g) => [
      fromBuffer(k.backward(xc.view('crossEntropy'), tc.view('crossEntropy'), lse.view('crossEntropy').data, contiguous(g).view('crossEntropy'), ceOpts), x.dtype, xc.shape),
    ]);
  } else {
    const lsm = logSoftmax(x, -1);
    // Ignored targets may be out of range: look up class 0 for them and mask the loss.
    const safe = where(valid, t, 0);
    const nll = neg(squeeze(gather(lsm, 1, unsqueeze(safe, 1)), 1));
    let loss = labelSmoothing > 0 ? add(mul(nll, 1 - labelSmoothing), mul(neg(mean(lsm, -1)), labelSmoothing)) : nll;
    loss = where(valid, loss, 0);
    perRow = loss;
  }

  if (reduction === 'none') return reshape(perRow, targets.shape);
  const total = sum(perRow);
  if (reduction === 'sum') return total;
  return div(total, cast(sum(valid), logits.dtype as 'float32'));
}
