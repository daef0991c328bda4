/**
 * Logits processors: pure functions from the next-token logits [V] (and the tokens so far) to new
 * logits, composed into a chain as llama.cpp's sampler chain and mlx-lm's make_logits_processors /
 * make_sampler do. Removed tokens get -Infinity; nothing is modified in place. Probabilities are
 * computed in float64, so the tests can state exact expected sets.
 *
 * Tie rule, everywhere: between equal values the smaller token id ranks first (a stable order,
 * so truncation keeps exactly k tokens and greedy decoding is deterministic).
 */
import { fail } from '../../tensor/index.js';

/** logits [V], context = prompt + generated ids -> new logits [V]. */
export type LogitsProcessor = (logits: Float32Array, context: readonly number[]) => Float32Array;

/** Applies processors left to right. */
export function chain(...processors: LogitsProcessor[]): LogitsProcessor {
  return (logits, context) => processors.reduce((l, p) => p(l, context), logits);
}

/** softmax in float64 (-Infinity entries get probability 0). */
export function softmax64(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const p = new Float64Array(logits.length);
  if (max === -Infinity) fail('sampling', 'every token has been removed (all logits are -Infinity)');
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < p.length; i++) p[i]! /= sum;
  return p;
}

/** log_softmax in float64. */
export function logSoftmax64(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! - lse;
  return out;
}

/** Token ids sorted by value descending, ties by id ascending. */
export function rankDescending(values: ArrayLike<number>): Int32Array {
  const ids = Int32Array.from({ length: values.length }, (_, i) => i);
  return ids.sort((a, b) => (values[b]! - values[a]!) || a - b);
}

/** A copy of logits with only `keep`'s tokens left. */
function keepOnly(logits: Float32Array, keep: ArrayLike<number>, count: number): Float32Array {
  const out = new Float32Array(logits.length).fill(-Infinity);
  for (let i = 0; i < count; i++) out[keep[i]!] = logits[keep[i]!]!;
  return out;
}

function checkProbability(what: string, p: number): void {
  if (!(p > 0 && p <= 1)) fail(what, `must be in (0, 1], got ${p}`);
}

function checkMinKeep(what: string, minKeep: number): void {
  if (!(Number.isInteger(minKeep) && minKeep >= 1)) fail(what, `minKeep must be a positive integer, got ${minKeep}`);
}

/** logits / t (t > 0); t -> 0 approaches greedy, which samplers handle as its own case. */
export function temperature(t: number): LogitsProcessor {
  if (!(t > 0 && Number.isFinite(t))) fail('temperature', `must be a positive number, got ${t} (use greedy for 0)`);
  return (logits) => logits.map((x) => x / t);
}

/** Keeps the k largest logits (Fan et al. 2018). k <= 0 or k >= V keeps everything. */
export function topK(k: number): LogitsProcessor {
  if (!Number.isInteger(k)) fail('topK', `k must be an integer, got ${k}`);
  return (logits) => {
    if (k <= 0 || k >= logits.length) return logits.slice();
    return keepOnly(logits, rankDescending(logits), k);
  };
}

/**
 * Nucleus sampling (Holtzman et al. 2020): keeps the smallest set of most probable tokens whose
 * probabilities sum to at least p (and at least minKeep tokens).
 */
export function topP(p: number, minKeep = 1): LogitsProcessor {
  checkProbability('topP', p);
  checkMinKeep('topP', minKeep);
  return (logits) => {
    if (p >= 1) return logits.slice();
    const probs = softmax64(logits);
    const order = rankDescending(probs);
    let cum = 0;
    let n = 0;
    while (n < order.length && (cum < p || n < minKeep)) cum += probs[order[n++]!]!;
    return keepOnly(logits, order, n);
  };
}

/** min-p (Nguyen et al. 2024): keeps tokens with probability >= p * (the largest probability). */
export function minP(p: number, minKeep = 1): LogitsProcessor {
  checkProbability('minP', p);
  checkMinKeep('minP', minKeep);
  return (logits) => {
    const probs = softmax64(logits);
    const order = rankDescending(probs);
    const threshold = p * probs[order[0]!]!;
    let n = 0;
    while (n < order.length && (probs[order[n]!]! >= threshold || n < minKeep)) n++;
    return keepOnly(logits, order, n);
  };
}

/**
 * Locally typical sampling (Meister et al. 2023, arXiv:2202.00666; HF TypicalLogitsWarper): ranks
 * tokens by |(-log p) - H|, the distance of their information content from the entropy H, and
 * keeps the smallest such prefix whose probabilities sum to at least p.
 */
export function typicalP(p: number, minKeep = 1): LogitsProcessor {
  checkProbability('typicalP', p);
  checkMinKeep('typicalP', minKeep);
  return (logits) => {
    if (p >= 1) return logits.slice();
    const logp = logSoftmax64(logits);
    let entropy = 0;
    for (const l of logp) if (l > -Infinity) entropy -= Math.exp(l) * l;
    const distance = logp.map((l) => (l > -Infinity ? Math.abs(-l - entropy) : Infinity));
    const order = Int32Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => (distance[a]! - distance[b]!) || a - b);
    let cum = 0;
    let n = 0;
    while (n < order.length && (cum < p || n < minKeep)) cum += Math.exp(logp[order[n++]!]!);
    return keepOnly(logits, order, n);
  };
}

/** How often each token occurs in the last `lastN` context ids (all when lastN is 0 or absent). */
export function tokenCounts(context: readonly number[], lastN = 0): Map<number, number> {
  const from = lastN > 0 ? Math.max(0, context.length - lastN) : 0;
  const counts = new Map<number, number>();
  for (let i = from; i < context.length; i++) counts.set(context[i]!, (counts.get(context[i]!) ?? 0) + 1);
  return counts;
}

/**
 * CTRL's repetition penalty (Keskar et al. 2019; HF RepetitionPenaltyLogitsProcessor): each token
 * present in the context has its logit divided by `penalty` when positive, multiplied when negative.
 */
export function repetitionPenalty(penalty: number, lastN = 0): LogitsProcessor {
  if (!(penalty > 0)) fail('repetitionPenalty', `must be positive, got ${penalty}`);
  return (logits, context) => {
    const out = logits.slice();
    for (const id of tokenCounts(context, lastN).keys()) {
      if (id >= 0 && id < out.length) out[id] = out[id]! > 0 ? out[id]! / penalty : out[id]! * penalty;
    }
    return out;
  };
}

/**
 * OpenAI's presence and frequency penalties: logit -= frequency * count + presence * [count > 0]
 * for the tokens of the context.
 */
export function presenceFrequencyPenalty(presence: number, frequency: number, lastN = 0): LogitsProcessor {
  if (!Number.isFinite(presence) || !Number.isFinite(frequency)) fail('presenceFrequencyPenalty', `penalties must be finite, got ${presence}, ${frequency}`);
  return (logits, context) => {
    const out = logits.slice();
    for (const [id, count] of tokenCounts(context, lastN)) {
      if (id >= 0 && id < out.length) out[id] = out[id]! - frequency * count - presence;
    }
    return out;
  };
}

/** Adds a fixed bias to chosen tokens (OpenAI's logit_bias; -Infinity bans a token). */
export function logitBias(bias: ReadonlyMap<number, number> | Readonly<Record<number, number>>): LogitsProcessor {
  const entries: [number, number][] = bias instanceof Map ? [...bias] : Object.entries(bias).map(([k, v]) => [Number(k), v]);
  for (const [id, b] of entries) {
    if (!Number.isInteger(id) || id < 0) fail('logitBias', `token id ${id} is not a non-negative integer`);
    if (Number.isNaN(b)) fail('logitBias', `bias for token ${id} is NaN`);
  }
  return (logits) => {
    const out = logits.slice();
    for (const [id, b] of entries) {
      if (id >= out.length) fail('logitBias', `token id ${id} is outside the vocabulary (size ${out.length})`);
      out[id] = out[id]! + b;
    }
    return out;
  };
}
