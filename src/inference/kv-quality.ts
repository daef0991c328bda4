/**
 * How much a lossy cache (int8 K/V, or an evicting policy) changes the model's predictions: the
 * same token sequence is run teacher-forced through a reference session (dense float32 by
 * default) and a candidate session, one token at a time after a prefill, and at every position the
 * two next-token distributions are compared: KL(reference || candidate) in nats and whether their
 * most probable tokens agree (KIVI and KVQuant report perplexity; KL and top-1 agreement are what
 * llama.cpp's perplexity --kl-divergence prints).
 */
import { fail } from '../tensor/index.js';
import { greedy, logSoftmax64 } from './sampling/index.js';
import { InferenceSession, type SessionCache } from './session.js';
import type { GenerativeModel } from './generative-model.js';

export interface CacheComparison {
  /** Next-token distributions compared (positions prefill-1 .. n-1). */
  positions: number;
  meanKl: number;
  maxKl: number;
  /** Fraction of positions whose argmax tokens agree. */
  top1Agreement: number;
  /** Per position, in order. */
  kl: number[];
}

/** KL(p || q) in nats for log-distributions. */
export function klDivergence(logp: ArrayLike<number>, logq: ArrayLike<number>): number {
  let kl = 0;
  for (let i = 0; i < logp.length; i++) {
    const p = Math.exp(logp[i]!);
    if (p > 0) kl += p * (logp[i]! - logq[i]!);
  }
  return Math.max(kl, 0);
}

export function compareCaches(
  model: GenerativeModel, ids: readonly number[],
  opts: { candidate: SessionCache; reference?: SessionCache; prefill?: number; encoderIds?: readonly number[] },
): CacheComparison {
  const prefill = opts.prefill ?? 1;
  if (!(Number.isInteger(prefill) && prefill >= 1 && prefill <= ids.length)) fail('compareCaches', `prefill must be in 1..${ids.length}, got ${prefill}`);
  const enc = opts.encoderIds ? { encoderIds: opts.encoderIds } : {};
  const ref = new InferenceSession(model, { cache: opts.reference ?? { kind: 'dense' }, ...enc });
  const cand = new InferenceSession(model, { cache: opts.candidate, ...enc });
  const kl: number[] = [];
  let agree = 0;
  try {
    const compare = (a: Float32Array, b: Float32Array) => {
      kl.push(klDivergence(logSoftmax64(a), logSoftmax64(b)));
      if (greedy(a) === greedy(b)) agree++;
    };
    compare(ref.feed(ids.slice(0, prefill)), cand.feed(ids.slice(0, prefill)));
    for (let i = prefill; i < ids.length; i++) compare(ref.feed([ids[i]!]), cand.feed([ids[i]!]));
  } finally {
    ref.dispose();
    cand.dispose();
  }
  return {
    positions: kl.length,
    meanKl: kl.reduce((a, b) => a + b, 0) / kl.length,
    maxKl: Math.max(...kl),
    top1Agreement: agree / kl.length,
    kl,
  };
}
