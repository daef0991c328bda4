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
import { InferenceSession, type SessionCache } from './session.js';
import type { GenerativeModel } from './generative-model.js';
import { RequestState, type GeneratedToken, type GenerationResult, type RequestOptions } from './request-state.js';

export type { FinishReason, GeneratedToken, GenerationResult, GenerationStats, RequestOptions } from './request-state.js';

export interface GenerateOptions extends RequestOptions {
  /** The cache policy of a new session ('none' recomputes every step). */
  cache?: SessionCache;
  prefillChunk?: number;
  /** Continue this session (a chat) instead of starting one: the prompt is appended to its tokens. */
  session?: InferenceSession;
  /** How a text prompt is encoded (special tokens). */
  encode?: EncodeOptions;
}

/** Prompt text or ids -> ids. */
export function promptIds(prompt: string | readonly number[], tokenizer: Tokenizer | null, encode: EncodeOptions | undefined): number[] {
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
  const request = new RequestState(tokenizer, opts, model.eosTokenIds, decoderPrompt.length, start);
  let prefillMs = 0;
  try {
    let logits = session.feed(decoderPrompt); // prefill
    prefillMs = performance.now() - start;
    for (;;) {
      const event = request.next(logits, session.tokens, session.remainingPositions);
      if (request.done) {
        session.defer([event.tokenId]); // sampled, not run: a continuing chat runs it first
        yield event;
        break;
      }
      yield event;
      logits = session.feed([event.tokenId]); // decode step
    }
  } finally {
    if (owned) session.dispose();
  }
  return request.result(prefillMs);
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
