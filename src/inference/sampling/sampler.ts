/**
 * Choosing the next token: greedy or categorical (from a seeded Generator, so the same seed gives
 * the same tokens), logprobs and top-logprobs, and `makeSampler`, which composes the processors
 * of processors.ts in a fixed order (mlx-lm's make_sampler; the order of HF's logits processors
 * and warpers):
 *   logit bias -> repetition penalty -> presence/frequency penalty
 *   -> temperature -> top-k -> top-p -> min-p -> typical-p -> categorical draw
 * Temperature 0 means greedy: the penalties and bias still apply, the truncations cannot change
 * the argmax and are skipped.
 */
import { fail, Generator } from '../../tensor/index.js';
import {
  chain, logitBias, logSoftmax64, minP, presenceFrequencyPenalty, rankDescending, repetitionPenalty, softmax64, temperature,
  topK, topP, typicalP, type LogitsProcessor,
} from './processors.js';

/** The largest logit's id (the smallest id among equals). */
export function greedy(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  if (!(logits[best]! > -Infinity)) fail('greedy', 'every token has been removed (all logits are -Infinity)');
  return best;
}

/** Inverse-CDF draw from softmax(logits) with u = random() in [0, 1). */
export function categorical(logits: ArrayLike<number>, random: () => number): number {
  const p = softmax64(logits);
  const u = random();
  let cum = 0;
  let last = -1;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    cum += p[i]!;
    last = i;
    if (u < cum) return i;
  }
  return last; // u within rounding of 1
}

export interface TokenLogprob {
  tokenId: number;
  logprob: number;
}

/** The n most probable tokens of a log-distribution. */
export function topLogprobs(logprobs: ArrayLike<number>, n: number): TokenLogprob[] {
  if (!(Number.isInteger(n) && n >= 0)) fail('topLogprobs', `n must be a non-negative integer, got ${n}`);
  const order = rankDescending(logprobs);
  return Array.from(order.subarray(0, Math.min(n, order.length)), (tokenId) => ({ tokenId, logprob: logprobs[tokenId]! }));
}

export interface SamplingOptions {
  /** 0 (the default) is greedy decoding. */
  temperature?: number;
  /** 0 disables. */
  topK?: number;
  /** 1 disables. */
  topP?: number;
  /** 0 disables. */
  minP?: number;
  /** 1 disables. */
  typicalP?: number;
  /** 1 disables (CTRL: > 1 discourages repeats). */
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** How many recent context tokens the penalties look at; 0 = all (llama.cpp's penalty_last_n). */
  penaltyLastN?: number;
  logitBias?: ReadonlyMap<number, number> | Readonly<Record<number, number>>;
  /** Seed of the sampler's own Generator; without one, a seed is taken from the clock. */
  seed?: number;
  /** Also report the n most probable tokens at each step (0 = none). */
  topLogprobs?: number;
}

export interface SampledToken {
  tokenId: number;
  /** log p(token) under the model's own distribution (log_softmax of the raw logits, before any processor). */
  logprob: number;
  topLogprobs?: TokenLogprob[];
}

export interface Sampler {
  readonly options: Readonly<SamplingOptions>;
  /** The processors before the draw, as one function (for inspection and tests). */
  readonly process: LogitsProcessor;
  sample(logits: Float32Array, context: readonly number[]): SampledToken;
}

export function makeSampler(opts: SamplingOptions = {}): Sampler {
  const t = opts.temperature ?? 0;
  if (!(t >= 0 && Number.isFinite(t))) fail('makeSampler', `temperature must be >= 0, got ${t}`);
  const shaping: LogitsProcessor[] = [];
  if (opts.logitBias) shaping.push(logitBias(opts.logitBias));
  const lastN = opts.penaltyLastN ?? 0;
  if (!(Number.isInteger(lastN) && lastN >= 0)) fail('makeSampler', `penaltyLastN must be a non-negative integer, got ${lastN}`);
  if (opts.repetitionPenalty !== undefined && opts.repetitionPenalty !== 1) shaping.push(repetitionPenalty(opts.repetitionPenalty, lastN));
  if (opts.presencePenalty || opts.frequencyPenalty) shaping.push(presenceFrequencyPenalty(opts.presencePenalty ?? 0, opts.frequencyPenalty ?? 0, lastN));
  const truncation: LogitsProcessor[] = [];
  if (t > 0) {
    truncation.push(temperature(t));
    if (opts.topK) truncation.push(topK(opts.topK));
    if (opts.topP !== undefined && opts.topP < 1) truncation.push(topP(opts.topP));
    if (opts.minP) truncation.push(minP(opts.minP));
    if (opts.typicalP !== undefined && opts.typicalP < 1) truncation.push(typicalP(opts.typicalP));
  }
  const process = chain(...shaping, ...truncation);
  const nTop = opts.topLogprobs ?? 0;
  const generator = new Generator(opts.seed ?? Date.now());
  return {
    options: { ...opts },
    process,
    sample(logits, context) {
      const processed = process(logits, context);
      const tokenId = t === 0 ? greedy(processed) : categorical(processed, () => generator.random());
      const logp = logSoftmax64(logits);
      return { tokenId, logprob: logp[tokenId]!, ...(nTop > 0 ? { topLogprobs: topLogprobs(logp, nTop) } : {}) };
    },
  };
}
