/**
 * An inference session: one sequence being decoded, with its caches. `feed(ids)` runs new decoder
 * tokens and returns the next-token logits; with a cache only the new tokens go through the model
 * (prefill in chunks of `prefillChunk`, then one token per decode step), without one the whole
 * sequence is recomputed every time (the O(N^2) baseline the cache is measured against, and the
 * oracle the cached path is tested against). Encoder-decoders run their encoder once, when the
 * session starts, and cache the cross-attention keys/values at the first decoder step.
 */
import { fail, fromTypedArray, keep, noGrad, tidy, type Tensor } from '../tensor/index.js';
import {
  CrossAttentionCache, PagedKVPool, createKVCache, type KVCache, type KVCacheSpec, type PagedSequence,
} from './kv-cache/index.js';
import type { GenerativeModel } from './generative-model.js';

/** Where a session keeps its keys and values. */
export type SessionCache =
  | 'none'
  | KVCacheSpec
  /** One sequence of a paged pool (a new one unless given). */
  | { kind: 'paged'; pool: PagedKVPool; sequence?: PagedSequence };

export interface SessionOptions {
  /** Default: dense float32, or a sliding-window ring buffer for a model with a window (Mistral). */
  cache?: SessionCache;
  /** Encoder input (encoder-decoders; required for them, refused for decoder-only models). */
  encoderIds?: readonly number[];
  /** Tokens per forward pass while prefilling (mlx-lm's prefill_step_size). */
  prefillChunk?: number;
}

/** The cache a model uses unless told otherwise. */
export function defaultCacheSpec(model: GenerativeModel): KVCacheSpec {
  const w = model.geometry.slidingWindow;
  return w ? { kind: 'sliding-window', window: w } : { kind: 'dense' };
}

/** The encoder's output and the cross-attention caches, shared by forks of a session. */
class EncoderState {
  refs = 1;
  constructor(readonly memory: Tensor, readonly cross: CrossAttentionCache[] | null) {}

  release(): void {
    if (--this.refs > 0) return;
    this.memory.dispose();
    for (const c of this.cross ?? []) c.dispose();
  }
}

function row(ids: readonly number[]): Tensor {
  return fromTypedArray(Int32Array.from(ids), [1, ids.length]); // [1, T]
}

export class InferenceSession {
  /** Decoder tokens fed so far. */
  readonly tokens: number[] = [];
  /** Tokens appended at the start of the next feed (a generation's last token, not yet run). */
  private deferred: number[] = [];
  private readonly caches: KVCache[] | null;
  private readonly paged: PagedSequence | null;
  private readonly encoder: EncoderState | null;
  readonly cacheSpec: SessionCache;
  readonly prefillChunk: number;
  private disposed = false;

  constructor(readonly model: GenerativeModel, opts: SessionOptions = {}, from?: { caches: KVCache[] | null; paged: PagedSequence | null; encoder: EncoderState | null }) {
    this.cacheSpec = opts.cache ?? defaultCacheSpec(model);
    this.prefillChunk = opts.prefillChunk ?? 512;
    if (!(Number.isInteger(this.prefillChunk) && this.prefillChunk > 0)) fail('InferenceSession', `prefillChunk must be a positive integer, got ${opts.prefillChunk}`);
    if (from) {
      this.caches = from.caches;
      this.paged = from.paged;
      this.encoder = from.encoder;
      return;
    }
    const spec = this.cacheSpec;
    const layers = model.geometry.layers;
    if (spec === 'none') {
      this.caches = null;
      this.paged = null;
    } else if (spec.kind === 'paged') {
      const pool = spec.pool;
      if (pool.layers !== layers || pool.kvHeads !== model.geometry.kvHeads || pool.headDim !== model.geometry.headDim || pool.valueDim !== model.geometry.valueDim) {
        fail('InferenceSession', `paged pool [${pool.layers} layers, ${pool.kvHeads} heads, ${pool.headDim}] does not fit the model [${layers}, ${model.geometry.kvHeads}, ${model.geometry.headDim}]`);
      }
      this.paged = spec.sequence ?? pool.sequence();
      if (this.paged.length !== 0) fail('InferenceSession', 'a paged sequence given to a new session must be empty (fork sessions to share a prefix)');
      this.caches = this.paged.layers;
    } else {
      this.paged = null;
      this.caches = Array.from({ length: layers }, () => createKVCache(spec));
    }
    if (model.kind === 'encoder-decoder') {
      if (!opts.encoderIds || opts.encoderIds.length === 0) fail('InferenceSession', `${model.modelType} is an encoder-decoder: give the encoder input ids`);
      const memory = noGrad(() => tidy(() => keep(model.encode(row(opts.encoderIds!))))); // [1, S, d]
      this.encoder = new EncoderState(memory, this.caches ? Array.from({ length: layers }, () => new CrossAttentionCache()) : null);
    } else {
      if (opts.encoderIds) fail('InferenceSession', `${model.modelType} is decoder-only: it takes no encoder input`);
      this.encoder = null;
    }
  }

  /** The per-layer caches (null without a cache). */
  get layerCaches(): readonly KVCache[] | null {
    return this.caches;
  }

  /** Bytes held by the self-attention caches (and the cross-attention caches). */
  get cacheBytes(): number {
    const self = this.caches?.reduce((s, c) => s + c.nbytes, 0) ?? 0;
    return self + (this.encoder?.cross?.reduce((s, c) => s + c.nbytes, 0) ?? 0);
  }

  /** Positions the next feed may still use (Infinity when unbounded). */
  get remainingPositions(): number {
    const max = this.model.maxPositions;
    return max === null ? Infinity : max - this.tokens.length - this.deferred.length;
  }

  /** Queues tokens to be run at the start of the next feed. */
  defer(ids: readonly number[]): void {
    this.deferred.push(...ids);
  }

  /** Forgets the queued tokens (a caller that re-tokenizes the conversation feeds its own). */
  discardDeferred(): void {
    this.deferred = [];
  }

  /** Runs ids (with any deferred ones first) and returns the next-token logits [V]. */
  feed(ids: readonly number[]): Float32Array {
    if (this.disposed) fail('InferenceSession', 'the session was disposed');
    const all = [...this.deferred, ...ids];
    if (all.length === 0) fail('InferenceSession.feed', 'no tokens to run');
    for (const id of all) {
      if (!(Number.isInteger(id) && id >= 0 && id < this.model.vocabSize)) fail('InferenceSession.feed', `token id ${id} is outside the vocabulary [0, ${this.model.vocabSize})`);
    }
    const max = this.model.maxPositions;
    if (max !== null && this.tokens.length + all.length > max) {
      fail('InferenceSession.feed', `${this.tokens.length + all.length} positions exceed the model's ${max}`);
    }
    this.deferred = [];
    const memory = this.encoder?.memory ?? null;
    const cross = this.encoder?.cross ?? undefined;
    let logits: Float32Array | null = null;
    if (!this.caches) {
      this.tokens.push(...all);
      logits = this.run(this.tokens, null, memory);
    } else {
      for (let i = 0; i < all.length; i += this.prefillChunk) {
        const chunk = all.slice(i, i + this.prefillChunk);
        logits = this.run(chunk, { self: this.caches, ...(cross ? { cross } : {}) }, memory);
        this.tokens.push(...chunk);
      }
    }
    return logits!;
  }

  private run(ids: readonly number[], cache: Parameters<GenerativeModel['logits']>[1]['cache'], memory: Tensor | null): Float32Array {
    return noGrad(() => tidy(() => {
      const out = this.model.logits(row(ids), { cache, memory, logitsToKeep: 1 }); // [1, 1, V]
      return out.toTypedArray() as Float32Array;
    }));
  }

  /**
   * Drops the newest n fed tokens (speculative decoding, editing a chat): from the caches when they
   * can all trim, else an error. Returns the tokens left.
   */
  trim(n: number): number {
    if (!(Number.isInteger(n) && n >= 0 && n <= this.tokens.length)) fail('InferenceSession.trim', `can drop 0..${this.tokens.length} tokens, not ${n}`);
    if (this.deferred.length > 0) fail('InferenceSession.trim', 'tokens are waiting to be fed; feed them first');
    if (this.caches) {
      const stuck = this.caches.find((c) => !c.isTrimmable());
      if (stuck) fail('InferenceSession.trim', `a '${stuck.kind}' cache that has evicted or overwritten positions cannot trim`);
      for (const c of this.caches) c.trim(n);
    }
    this.tokens.length -= n;
    return this.tokens.length;
  }

  /**
   * An independent copy of this session (beam search, parallel samples): the caches are copied,
   * or for a paged cache forked (blocks shared until written); the encoder output is shared.
   */
  fork(): InferenceSession {
    if (this.disposed) fail('InferenceSession', 'the session was disposed');
    let caches: KVCache[] | null = null;
    let paged: PagedSequence | null = null;
    if (this.paged) {
      paged = this.paged.pool.fork(this.paged);
      caches = paged.layers;
    } else if (this.caches) {
      const spec = this.cacheSpec as KVCacheSpec;
      caches = this.caches.map((c) => {
        const copy = createKVCache(spec);
        copy.setState(c.state());
        return copy;
      });
    }
    if (this.encoder) this.encoder.refs++;
    const s = new InferenceSession(this.model, { cache: this.cacheSpec, prefillChunk: this.prefillChunk }, { caches, paged, encoder: this.encoder });
    s.tokens.push(...this.tokens);
    s.deferred.push(...this.deferred);
    return s;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.paged) this.paged.free();
    else for (const c of this.caches ?? []) c.dispose();
    this.encoder?.release();
  }
}
