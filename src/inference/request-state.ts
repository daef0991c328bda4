/**
 * One request's decoding state, shared by `generate` (one sequence) and `generateBatch` (one per
 * row): its sampler, stop ids and strings, streaming detokenizer, the output so far, and its
 * timings. `next(logits, ...)` samples one token and applies the ending rules (see generate.ts):
 * a stop id ends with its own event (id not output), a stop string ends the text before it,
 * maxTokens or the last position end with 'length', and the last event carries any held-back text.
 */
import { fail } from '../tensor/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { makeSampler, StopStringMatcher, type Sampler, type SamplingOptions, type TokenLogprob } from './sampling/index.js';
import { StreamingDetokenizer } from './detokenizer.js';

export type FinishReason = 'stop' | 'length';

export interface GeneratedToken {
  tokenId: number;
  /** Text this token adds (may be '' while held back; see the file comment). */
  text: string;
  /** log p(token) under the model's distribution. */
  logprob: number;
  topLogprobs?: TokenLogprob[];
  /** Set on the last event. */
  finishReason?: FinishReason;
}

export interface GenerationStats {
  promptTokens: number;
  generatedTokens: number;
  /** Request start to the first token (prefill + first sample). */
  ttftMs: number;
  /** Mean time per token after the first (0 with one token). */
  tpotMs: number;
  /** Prompt tokens per second of prefill. */
  prefillTokensPerS: number;
  /** Tokens per second after the first (1000 / TPOT). */
  decodeTokensPerS: number;
  /** Generated tokens per second of the whole request, TTFT included. */
  tokensPerS: number;
  totalMs: number;
}

export interface GenerationResult {
  text: string;
  /** Generated ids (a final stop id excluded). */
  ids: number[];
  finishReason: FinishReason;
  /** What stopped it: a stop id or string, if one did. */
  stoppedBy: { tokenId: number } | { string: string } | null;
  stats: GenerationStats;
}

/** What ends one request and how it samples. */
export interface RequestOptions extends SamplingOptions {
  /** Tokens to generate at most (default 256). */
  maxTokens?: number;
  /** Strings that end the output (not included in it), matched across token boundaries. */
  stop?: readonly string[];
  /** Token ids that end generation; default: the model's eos ids. */
  stopIds?: readonly number[];
}

export class RequestState {
  readonly maxTokens: number;
  readonly sampler: Sampler;
  private readonly stopIds: Set<number>;
  private readonly stops: StopStringMatcher;
  private readonly detok: StreamingDetokenizer | null;
  readonly generated: number[] = [];
  text = '';
  finishReason: FinishReason = 'length';
  stoppedBy: GenerationResult['stoppedBy'] = null;
  done = false;
  private sampled = 0;
  private firstAt = 0;
  private lastAt = 0;

  /** `start` is the request's start time (performance.now()), the origin of TTFT. */
  constructor(tokenizer: Tokenizer | null, opts: RequestOptions, defaultStopIds: readonly number[], readonly promptTokens: number, readonly start: number) {
    this.maxTokens = opts.maxTokens ?? 256;
    if (!(Number.isInteger(this.maxTokens) && this.maxTokens >= 1)) fail('generate', `maxTokens must be a positive integer, got ${this.maxTokens}`);
    this.sampler = makeSampler(opts);
    this.stopIds = new Set(opts.stopIds ?? defaultStopIds);
    this.stops = new StopStringMatcher(opts.stop ?? []);
    this.detok = tokenizer ? new StreamingDetokenizer(tokenizer) : null;
  }

  /**
   * Samples the next token from `logits` (`context`: the tokens run so far, for the penalties) and
   * returns its event; `remainingPositions` is how many more tokens the model could still run.
   * After the event that sets finishReason, `done` is true and the token must not be run.
   */
  next(logits: Float32Array, context: readonly number[], remainingPositions: number): GeneratedToken {
    if (this.done) fail('generate', 'the request has finished');
    const s = this.sampler.sample(logits, context);
    const now = performance.now();
    if (++this.sampled === 1) this.firstAt = now;
    this.lastAt = now;
    const base = { tokenId: s.tokenId, logprob: s.logprob, ...(s.topLogprobs ? { topLogprobs: s.topLogprobs } : {}) };
    const stops = this.stops;
    if (this.stopIds.has(s.tokenId)) {
      const rest = stops.push(this.detok?.flush() ?? '').text + stops.flush();
      this.text += rest;
      this.finish('stop', { tokenId: s.tokenId });
      return { ...base, text: rest, finishReason: 'stop' };
    }
    this.generated.push(s.tokenId);
    let piece = stops.push(this.detok?.push(s.tokenId) ?? '');
    const last = this.generated.length === this.maxTokens || remainingPositions <= 0;
    if (last && !piece.stopped) {
      // release what was held for an unfinished character or a possible stop string
      const tail = stops.push(this.detok?.flush() ?? '');
      piece = { ...tail, text: piece.text + tail.text + (tail.stopped ? '' : stops.flush()) };
    }
    this.text += piece.text;
    if (piece.stopped) this.finish('stop', { string: piece.stop! });
    else if (last) this.finish('length', null);
    return { ...base, text: piece.text, ...(this.done ? { finishReason: this.finishReason } : {}) };
  }

  private finish(reason: FinishReason, by: GenerationResult['stoppedBy']): void {
    this.done = true;
    this.finishReason = reason;
    this.stoppedBy = by;
  }

  /** The result, with timings; `prefillMs` is the time the prompt took to run. */
  result(prefillMs: number): GenerationResult {
    const total = this.lastAt - this.start;
    const n = this.sampled; // tokens sampled (a final stop id included)
    const decodeMs = this.lastAt - this.firstAt;
    return {
      text: this.text, ids: [...this.generated], finishReason: this.finishReason, stoppedBy: this.stoppedBy,
      stats: {
        promptTokens: this.promptTokens, generatedTokens: n,
        ttftMs: this.firstAt - this.start,
        tpotMs: n > 1 ? decodeMs / (n - 1) : 0,
        prefillTokensPerS: prefillMs > 0 ? (this.promptTokens * 1000) / prefillMs : 0,
        decodeTokensPerS: decodeMs > 0 ? ((n - 1) * 1000) / decodeMs : 0,
        tokensPerS: total > 0 ? (n * 1000) / total : 0,
        totalMs: total,
      },
    };
  }
}
