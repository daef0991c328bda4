/**
 * Batched generation: several prompts of different lengths decoded together, one forward pass
 * per step for the whole batch (a BatchSession: left padding and an attention mask). Each row has
 * its own sampler (its own seeded Generator), stop ids and strings, detokenizer and maxTokens, and
 * ends by the rules of `generate`; a row that ends leaves the batch while the others continue.
 * With the same options a row's output equals `generate` on its prompt alone: greedy tokens are
 * the same and the logits agree within float rounding (the tests check 1e-4), and a seeded
 * sampler draws the same numbers, since each row's sampler sees only its own logits.
 *
 * `generateBatchStream` is an async generator of per-row events (`row` is the prompt's index);
 * `generateBatch` runs it to the end. Timings per row are from the batch's start: TTFT includes
 * the prefill of the whole batch, as a request in a batch experiences it, and a row's
 * prefillTokensPerS is its prompt tokens over the batch's prefill time.
 */
import { fail } from '../tensor/index.js';
import type { EncodeOptions, Tokenizer } from '../tokenizers/index.js';
import type { GenerativeModel } from './generative-model.js';
import { BatchSession, type BatchCache } from './batch-session.js';
import { promptIds } from './generate.js';
import { RequestState, type GeneratedToken, type GenerationResult, type RequestOptions } from './request-state.js';

export interface GenerateBatchOptions extends RequestOptions {
  /** dense or sliding-window (default: the model's), or 'none' to recompute every step. */
  cache?: BatchCache;
  prefillChunk?: number;
  /** The id in padded columns (never attended to; default 0). */
  padTokenId?: number;
  /** How text prompts are encoded (special tokens). */
  encode?: EncodeOptions;
  /**
   * Per-prompt overrides (index = prompt): sampling, seed, maxTokens, stop, stopIds. A row
   * without a seed uses `seed` (so it equals the same prompt generated alone with that seed); with
   * no seed at all, row i draws from the clock's seed + i.
   */
  rows?: readonly RequestOptions[];
}

export interface BatchGeneratedToken extends GeneratedToken {
  /** The prompt this token continues (its index in `prompts`). */
  row: number;
}

export interface BatchGenerationStats {
  /** Prompts in the batch. */
  batchSize: number;
  /** Real prompt tokens over all rows (padding excluded). */
  promptTokens: number;
  /** Tokens sampled over all rows. */
  generatedTokens: number;
  /** Forward passes after the prefill (the longest row's steps). */
  decodeSteps: number;
  prefillMs: number;
  /** Real prompt tokens per second of the batch's prefill. */
  prefillTokensPerS: number;
  /** Tokens sampled over all rows per second of the whole batch. */
  tokensPerS: number;
  totalMs: number;
}

export interface BatchGenerationResult {
  /** One per prompt, in prompt order. */
  results: GenerationResult[];
  stats: BatchGenerationStats;
}

export async function* generateBatchStream(
  model: GenerativeModel, tokenizer: Tokenizer | null, prompts: readonly (string | readonly number[])[], opts: GenerateBatchOptions = {},
): AsyncGenerator<BatchGeneratedToken, BatchGenerationResult, undefined> {
  const start = performance.now();
  if (!Array.isArray(prompts) || prompts.length === 0) fail('generateBatch', 'no prompts (give at least one)');
  if (opts.rows && opts.rows.length !== prompts.length) fail('generateBatch', `rows has ${opts.rows.length} entries for ${prompts.length} prompts`);
  const ids = prompts.map((p) => promptIds(p, tokenizer, opts.encode));
  ids.forEach((p, i) => p.length === 0 && fail('generateBatch', `prompt ${i} is empty`));
  const { rows: _rows, cache, prefillChunk, padTokenId, encode: _encode, ...shared } = opts;
  const clockSeed = Date.now();
  const requests = ids.map((p, i) => {
    const own = { ...shared, ...opts.rows?.[i] };
    const seed = own.seed ?? (shared.seed === undefined ? clockSeed + i : shared.seed);
    return new RequestState(tokenizer, { ...own, seed }, model.eosTokenIds, p.length, start);
  });
  const session = new BatchSession(model, {
    ...(cache ? { cache } : {}), ...(prefillChunk ? { prefillChunk } : {}), ...(padTokenId !== undefined ? { padTokenId } : {}),
  });
  let prefillMs = 0;
  let decodeSteps = 0;
  try {
    let logits = session.prefill(ids); // [V] per row, batch order
    prefillMs = performance.now() - start;
    for (;;) {
      const next: number[] = [];
      const keep: number[] = [];
      for (let b = 0; b < session.batch; b++) {
        const row = session.rows[b]!;
        const request = requests[row]!;
        const event = request.next(logits[b]!, session.tokens[row]!, session.remainingPositions(row));
        yield { ...event, row };
        if (!request.done) {
          keep.push(row);
          next.push(event.tokenId);
        }
      }
      if (keep.length === 0) break;
      session.keepRows(keep); // finished rows leave the batch
      logits = session.step(next);
      decodeSteps++;
    }
  } finally {
    session.dispose();
  }
  const results = requests.map((r) => r.result(prefillMs));
  const totalMs = performance.now() - start;
  const promptTokens = ids.reduce((s, p) => s + p.length, 0);
  const generatedTokens = results.reduce((s, r) => s + r.stats.generatedTokens, 0);
  return {
    results,
    stats: {
      batchSize: ids.length, promptTokens, generatedTokens, decodeSteps, prefillMs,
      prefillTokensPerS: prefillMs > 0 ? (promptTokens * 1000) / prefillMs : 0,
      tokensPerS: totalMs > 0 ? (generatedTokens * 1000) / totalMs : 0,
      totalMs,
    },
  };
}

/** Runs generateBatchStream to the end: per-prompt results (each with its events) and the batch's stats. */
export async function generateBatch(
  model: GenerativeModel, tokenizer: Tokenizer | null, prompts: readonly (string | readonly number[])[], opts: GenerateBatchOptions = {},
): Promise<BatchGenerationResult & { results: (GenerationResult & { events: GeneratedToken[] })[] }> {
  const events: GeneratedToken[][] = prompts.map(() => []);
  const it = generateBatchStream(model, tokenizer, prompts, opts);
  for (;;) {
    const r = await it.next();
    if (r.done) return { ...r.value, results: r.value.results.map((res, i) => ({ ...res, events: events[i]! })) };
    const { row, ...event } = r.value;
    events[row]!.push(event);
  }
}
