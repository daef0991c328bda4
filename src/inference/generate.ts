/**
 * Text generation as an async generator (mlx-lm's generate_step / stream_generate): prefill runs
 * the prompt (in chunks) and yields nothing; decode then samples a token, yields it with the text
 * it adds and its log-probability, and runs it through the model for the next step. Per request
 * it records TTFT (request start to the first token), TPOT (mean time per later token) and
 * throughput. Works with decoder-only models (the prompt continues the decoder) and
 * encoder-decoders (the prompt is the encoder input; the decoder starts at its start token).
 *
 * Ending: a stop id (end of sequence) ends with that token's event, whose text is whatever was
 * still held back and whose id is not part of the output; a stop string ends the text just before
 * it; maxTokens (or the model's last position) ends with finishReason 'length'. Text held back for
 * an unfinished UTF-8 character or a possible stop string is released with later events, and the
 * last event carries whatever remains.
 */
import { fail } from '../tensor/index.js';
import type { EncodeOptions, Tokenizer } from '../tokenizers/index.js';
import { makeSampler, StopStringMatcher, type SamplingOptions, type TokenLogprob } from './sampling/index.js';
import { StreamingDetokenizer } from './detokenizer.js';
import { InferenceSession, type SessionCache } from './session.js';
import type { GenerativeModel } from './generative-model.js';

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate at most (default 256). */
  maxTokens?: number;
  /** Strings that end the output (not included in it), matched across token boundaries. */
  stop?: readonly string[];
  /** Token ids that end generation; default: the model's eos ids. */
  stopIds?: readonly number[];
  /** The cache policy of a new session ('none' recomputes every step). */
  cache?: SessionCache;
  prefillChunk?: number;
  /** Continue this session (a chat) instead of starting one: the prompt is appended to its tokens. */
  session?: InferenceSession;
  /** How a text prompt is encoded (special tokens). */
  encode?: EncodeOptions;
}

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

/** Prompt text or ids -> ids. */
function promptIds(prompt: string | readonly number[], tokenizer: Tokenizer | null, encode: EncodeOptions | undefined): number[] {
  if (typeof prompt !== 'string') return [...prompt];
  if (!tokenizer) fail('generate', 'a text prompt needs a tokenizer (or pass token ids)');
  return tokenizer.encode(prompt, encode);
}

export async function* generate(
  model: GenerativeModel, tokenizer: Tokenizer | null, prompt: string | readonly number[], opts: GenerateOptions = {},
): AsyncGenerator<GeneratedToken, GenerationResult, undefined> {
  const start = performance.now();
  const maxTokens = opts.maxTokens ?? 256;
  if (!(Number.isInteger(maxTokens) && maxTokens >= 1)) fail('generate', `maxTokens must be a positive integer, got ${maxTokens}`);
  const ids = promptIds(prompt, tokenizer, opts.encode);
  const sampler = makeSampler(opts);
  const stopIds = new Set(opts.stopIds ?? model.eosTokenIds);
  const stops = new StopStringMatcher(opts.stop ?? []);
  const detok = tokenizer ? new StreamingDetokenizer(tokenizer) : null;

  // the session and the decoder's first input
  let session = opts.session;
  let decoderPrompt: number[];
  const owned = !session;
  if (!session) {
    if (model.kind === 'encoder-decoder') {
      if (ids.length === 0) fail('generate', 'the prompt (the encoder input) is empty');
      if (model.decoderStartTokenId === null) fail('generate', `${model.modelType}: no decoder start token (config.json has no decoder_start_token_id or bos_token_id)`);
      session = new InferenceSession(model, { encoderIds: ids, ...(opts.cache ? { cache: opts.cache } : {}), ...(opts.prefillChunk ? { prefillChunk: opts.prefillChunk } : {}) });
      decoderPrompt = [model.decoderStartTokenId];
    } else {
      if (ids.length === 0) fail('generate', 'the prompt is empty');
      session = new InferenceSession(model, { ...(opts.cache ? { cache: opts.cache } : {}), ...(opts.prefillChunk ? { prefillChunk: opts.prefillChunk } : {}) });
      decoderPrompt = ids;
    }
  } else {
    decoderPrompt = ids;
  }
  const promptTokens = decoderPrompt.length;

  const generated: number[] = [];
  let text = '';
  let firstAt = 0;
  let lastAt = 0;
  let prefillMs = 0;
  let finishReason: FinishReason = 'length';
  let stoppedBy: GenerationResult['stoppedBy'] = null;
  try {
    let logits = session.feed(decoderPrompt); // prefill
    prefillMs = performance.now() - start;
    for (let n = 1; ; n++) {
      const s = sampler.sample(logits, session.tokens);
      const now = performance.now();
      if (n === 1) firstAt = now;
      lastAt = now;
      const base = { tokenId: s.tokenId, logprob: s.logprob, ...(s.topLogprobs ? { topLogprobs: s.topLogprobs } : {}) };
      if (stopIds.has(s.tokenId)) {
        const rest = stops.push(detok?.flush() ?? '').text + stops.flush();
        text += rest;
        finishReason = 'stop';
        stoppedBy = { tokenId: s.tokenId };
        session.defer([s.tokenId]);
        yield { ...base, text: rest, finishReason };
        break;
      }
      generated.push(s.tokenId);
      let piece = stops.push(detok?.push(s.tokenId) ?? '');
      const last = n === maxTokens || session.remainingPositions <= 0;
      if (last && !piece.stopped) {
        // release what was held for an unfinished character or a possible stop string
        const tail = stops.push(detok?.flush() ?? '');
        piece = { ...tail, text: piece.text + tail.text + (tail.stopped ? '' : stops.flush()) };
      }
      text += piece.text;
      if (piece.stopped) {
        finishReason = 'stop';
        stoppedBy = { string: piece.stop! };
      }
      if (piece.stopped || last) {
        session.defer([s.tokenId]);
        yield { ...base, text: piece.text, finishReason };
        break;
      }
      yield { ...base, text: piece.text };
      logits = session.feed([s.tokenId]); // decode step
    }
  } finally {
    if (owned) session.dispose();
  }
  const total = lastAt - start;
  const n = generated.length + (stoppedBy && 'tokenId' in stoppedBy ? 1 : 0); // tokens sampled
  const decodeMs = lastAt - firstAt;
  return {
    text, ids: generated, finishReason, stoppedBy,
    stats: {
      promptTokens, generatedTokens: n,
      ttftMs: firstAt - start,
      tpotMs: n > 1 ? decodeMs / (n - 1) : 0,
      prefillTokensPerS: prefillMs > 0 ? (promptTokens * 1000) / prefillMs : 0,
      decodeTokensPerS: decodeMs > 0 ? ((n - 1) * 1000) / decodeMs : 0,
      tokensPerS: total > 0 ? (n * 1000) / total : 0,
      totalMs: total,
    },
  };
}

/** Runs generate to the end: the result plus every event. */
export async function generateAll(
  model: GenerativeModel, tokenizer: Tokenizer | null, prompt: string | readonly number[], opts: GenerateOptions = {},
): Promise<GenerationResult & { events: GeneratedToken[] }> {
  const events: GeneratedToken[] = [];
  const it = generate(model, tokenizer, prompt, opts);
  for (;;) {
    const r = await it.next();
    if (r.done) return { ...r.value, events };
    events.push(r.value);
  }
}
