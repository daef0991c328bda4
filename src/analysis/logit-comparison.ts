/**
 * How far a model's outputs moved: logits of a changed model (quantized weights, another file
 * format) against the reference's, per position. The distances llama.cpp's `perplexity --kl-divergence`
 * reports: mean and maximum KL(P_ref || P), top-1 agreement, and each model's perplexity on
 * the next tokens. All sums in float64.
 */
import { fail, formatShape, type Tensor } from '../tensor/index.js';

export interface LogitComparison {
  /** Positions compared (all leading dimensions flattened). */
  positions: number;
  /** Mean and largest KL(P_reference || P_candidate) over positions, in nats. */
  klMean: number;
  klMax: number;
  /** Fraction of positions whose argmax agrees. */
  top1Agreement: number;
  maxAbsDiff: number;
}

/** log-softmax of one row in float64. */
function logProbs(row: ArrayLike<number>, start: number, v: number, out: Float64Array): void {
  let max = -Infinity;
  for (let j = 0; j < v; j++) max = Math.max(max, row[start + j]!);
  let s = 0;
  for (let j = 0; j < v; j++) s += Math.exp(row[start + j]! - max);
  const lse = max + Math.log(s);
  for (let j = 0; j < v; j++) out[j] = row[start + j]! - lse;
}

function argmax(row: ArrayLike<number>, start: number, v: number): number {
  let best = 0;
  for (let j = 1; j < v; j++) if (row[start + j]! > row[start + best]!) best = j;
  return best;
}

/** Compares candidate logits [..., V] with reference logits of the same shape. */
export function compareLogits(reference: Tensor, candidate: Tensor): LogitComparison {
  if (reference.shape.join() !== candidate.shape.join()) fail('compareLogits', `shapes differ: ${formatShape(reference.shape)} vs ${formatShape(candidate.shape)}`);
  const v = reference.shape[reference.ndim - 1]!;
  const a = reference.toTypedArray();
  const b = candidate.toTypedArray();
  const positions = a.length / v;
  const lp = new Float64Array(v);
  const lq = new Float64Array(v);
  let klSum = 0;
  let klMax = 0;
  let agree = 0;
  let maxAbs = 0;
  for (let p = 0; p < positions; p++) {
    const o = p * v;
    logProbs(a, o, v, lp);
    logProbs(b, o, v, lq);
    let kl = 0;
    for (let j = 0; j < v; j++) kl += Math.exp(lp[j]!) * (lp[j]! - lq[j]!);
    kl = Math.max(kl, 0); // float64 rounding can leave -1e-17 for identical rows
    klSum += kl;
    klMax = Math.max(klMax, kl);
    if (argmax(a, o, v) === argmax(b, o, v)) agree++;
    for (let j = 0; j < v; j++) maxAbs = Math.max(maxAbs, Math.abs(a[o + j]! - b[o + j]!));
  }
  return { positions, klMean: klSum / positions, klMax, top1Agreement: agree / positions, maxAbsDiff: maxAbs };
}

/**
 * exp(mean negative log-likelihood) of `targets` [...] under `logits` [..., V] (targets are the
 * next tokens already: position i predicts targets[i]).
 */
export function perplexityOfLogits(logits: Tensor, targets: ArrayLike<number>): number {
  const v = logits.shape[logits.ndim - 1]!;
  const a = logits.toTypedArray();
  const positions = a.length / v;
  if (targets.length !== positions) fail('perplexityOfLogits', `${targets.length} targets for ${positions} positions`);
  const lp = new Float64Array(v);
  let nll = 0;
  for (let p = 0; p < positions; p++) {
    const t = targets[p]!;
    if (!(Number.isInteger(t) && t >= 0 && t < v)) fail('perplexityOfLogits', `target ${t} at position ${p} is outside the vocabulary of ${v}`);
    logProbs(a, p * v, v, lp);
    nll -= lp[t]!;
  }
  return Math.exp(nll / positions);
}
