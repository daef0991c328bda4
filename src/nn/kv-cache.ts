/**
 * The contract between attention layers and key/value caches (GUIDE practice 7; mlx-lm's
 * `_BaseCache.update_and_fetch` and `create_attention_mask`). A layer hands the cache the keys and
 * values of its new tokens and attends to whatever the cache gives back; it never sees the cache's
 * layout (chunks, ring buffers, evicted slots, int8 rows, blocks). The caches themselves live in
 * src/inference/kv-cache/; only this small interface sits in nn, because model code (which may
 * not import inference) must be able to name it.
 *
 * Positions. A cache knows the absolute position of every key it returns. When the keys are the L
 * most recent positions in order, the new tokens last (`positions: null`), the attention kernel's
 * end-aligned causal/window masks are exact and cost nothing. When they are not (a ring buffer
 * after it wrapped, attention sinks, heavy hitters), the cache reports each key's position and
 * the mask is built from them: query position p attends key position k when k <= p and (k is a
 * sink or p - k < window).
 */
import { add, fail, formatShape, fromTypedArray, logicalAnd, matmul, mul, transpose, where, type Tensor } from '../tensor/index.js';
import { attentionMask, repeatKv, scaledDotProductAttention, softmax, type AttentionOptions } from '../ops/index.js';
import { paddingMask, type BatchPadding } from './padding.js';

/** What attention reads after a cache stored the new tokens. */
export interface KVFetch {
  /** [B, Hkv, L, D] */
  keys: Tensor;
  /** [B, Hkv, L, Dv] */
  values: Tensor;
  /**
   * Absolute positions of the L keys. null: the L most recent positions in order, ending with the
   * newest token. Otherwise an Int32Array of L positions shared by every row and head, or of
   * B * Hkv * L positions ([B, Hkv, L] row-major) when each sequence and KV head keeps its own
   * (heavy-hitter eviction).
   */
  positions: Int32Array | null;
  /** The cache keeps only this many most recent positions: no query may reach further back. */
  window?: number;
  /** Positions below this are attention sinks: visible to every later query whatever the window. */
  sinks?: number;
}

/** One layer's cache as attention uses it; src/inference/kv-cache adds trim, nbytes and state. */
export interface LayerKVCache {
  /** Tokens stored so far: the absolute position of the next token (its RoPE angle, its learned position). */
  readonly offset: number;
  /** Stores keys/values [B, Hkv, T, D] of positions offset..offset+T-1 and returns what attention reads. */
  updateAndFetch(keys: Tensor, values: Tensor): KVFetch;
  /**
   * Caches that evict by attention mass (H2O) receive the step's attention probabilities over the
   * fetched keys, [B, Hq, Tq, L]; attention computes them only for caches that have this method.
   */
  observeAttention?(weights: Tensor): void;
}

/** One layer's caches for a model's forward pass (index = layer). */
export type ModelKVCache = readonly LayerKVCache[];

/**
 * Cross-attention keys/values of an encoder-decoder: a function of the encoder output alone, so
 * they are projected at the first decoder step and reused at every later one.
 */
export interface CrossKVCache {
  readonly keys: Tensor | null;
  readonly values: Tensor | null;
  store(keys: Tensor, values: Tensor): void;
}

/** A decoder's caches: self-attention per layer, and cross-attention per layer for encoder-decoders. */
export interface DecoderKVCache {
  self: ModelKVCache;
  cross?: readonly CrossKVCache[];
}

/** The options decoder forwards take for generation (HF's past_key_values, attention_mask and logits_to_keep). */
export interface CachedForwardOptions {
  /** One cache per layer; positions start at the cache's offset. */
  cache?: ModelKVCache | null;
  /**
   * [B, past + T]: 1 for a real token, 0 for padding, over the cached columns and the new ones
   * (it grows with the cache). Padded keys are never attended to and each row's positions count
   * its real tokens (cumsum - 1); see padding.ts. Absent or all ones: no padding.
   */
  attentionMask?: Tensor | null;
  /** Compute logits for only the last N positions (0 or absent: all), as HF's logits_to_keep. */
  logitsToKeep?: number;
}

/** The cache of layer `layer`, checking that there is one per layer. */
export function layerCache(cache: ModelKVCache | null | undefined, layer: number, layers: number, what: string): LayerKVCache | undefined {
  if (!cache) return undefined;
  if (cache.length !== layers) fail(what, `got ${cache.length} layer caches for ${layers} layers`);
  return cache[layer];
}

/** The first position of the tokens about to be run: the caches' common offset (0 without a cache). */
export function cacheOffset(cache: ModelKVCache | null | undefined, what: string): number {
  if (!cache || cache.length === 0) return 0;
  const offset = cache[0]!.offset;
  cache.forEach((c, i) => {
    if (c.offset !== offset) fail(what, `layer caches disagree on the offset (layer 0 at ${offset}, layer ${i} at ${c.offset})`);
  });
  return offset;
}

/** The last `keep` positions of [B, T, ...] (all when keep is 0 or absent). */
export function keepLast(x: Tensor, keep: number | undefined): Tensor {
  const t = x.shape[1]!;
  if (!keep || keep >= t) return x;
  if (!(Number.isInteger(keep) && keep > 0)) fail('logitsToKeep', `must be a positive integer, got ${keep}`);
  return x.narrow(1, t - keep, keep); // [B, keep, ...]
}

/**
 * The absolute positions of the fetched keys as one list shared by all heads ([L]); `queryStart`
 * and `tq` locate the new tokens when the cache reports keys in order (positions null).
 */
export function fetchedPositions(fetch: KVFetch, queryStart: number, tq: number, what: string): Int32Array {
  const l = fetch.keys.shape[2]!;
  if (fetch.positions === null) return Int32Array.from({ length: l }, (_, j) => queryStart + tq - l + j);
  if (fetch.positions.length !== l) fail(what, 'this model needs key positions shared by every head; the cache keeps different positions per head');
  return fetch.positions;
}

function effectiveWindow(model: number | undefined, cache: number | undefined): number {
  if (model && cache) return Math.min(model, cache);
  return model || cache || 0;
}

/**
 * Bool mask of which fetched keys each query may attend, broadcastable to [B, Hq, Tq, L], or null
 * when every key is visible to every query. `queryStart` is the position of the first query.
 */
export function fetchMask(
  fetch: KVFetch, queryStart: number, tq: number, headsQ: number, opts: { causal?: boolean; window?: number } = {},
): Tensor | null {
  const [b, hkv, l] = fetch.keys.shape as [number, number, number, number];
  const window = effectiveWindow(opts.window, fetch.window);
  const sinks = fetch.sinks ?? 0;
  const causal = opts.causal ?? false;
  const pos = fetch.positions;
  if (pos === null) {
    if (!causal && !window) return null;
    if (causal && tq === 1 && (!window || window >= l)) return null;
    return attentionMask(tq, l, { causal, window }); // [Tq, L], end-aligned
  }
  const perHead = pos.length === b * hkv * l;
  if (!perHead && pos.length !== l) fail('attention', `cache reported ${pos.length} key positions for keys ${formatShape(fetch.keys.shape)}`);
  const rows = perHead ? b * hkv : 1;
  const allowed = new Uint8Array(rows * tq * l);
  let all = true;
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < tq; i++) {
      const p = queryStart + i;
      for (let j = 0; j < l; j++) {
        const k = pos[r * l + j]!;
        const ok = (!causal || k <= p) && (!window || k < sinks || (p - k < window && k - p < window));
        allowed[(r * tq + i) * l + j] = ok ? 1 : 0;
        all &&= ok;
      }
    }
  }
  if (all) return null;
  if (!perHead) return fromTypedArray(allowed, [tq, l], { dtype: 'bool' }); // [Tq, L]
  const group = headsQ / hkv;
  const m = fromTypedArray(allowed, [b, hkv, 1, tq, l], { dtype: 'bool' }); // [B, Hkv, 1, Tq, L]
  return m.expand(b, hkv, group, tq, l).reshape(b, headsQ, tq, l); // [B, Hq, Tq, L]: query head h uses KV head h / group
}

/** Attention through a cache: the op's options plus the batch's padding (null or absent: none). */
export interface CacheAttentionOptions extends AttentionOptions {
  padding?: BatchPadding | null;
}

/** The padding mask [B, 1, Tq, L] for keys at columns `keys`, checking that it has the batch's rows. */
function paddedKeys(padding: BatchPadding, batch: number, keys: Int32Array, queryStart: number, tq: number): Tensor {
  if (padding.batch !== batch) fail('attention', `the attention mask has ${padding.batch} rows for a batch of ${batch}`);
  return paddingMask(padding, keys, queryStart, tq);
}

/** Both masks at once: bool AND bool, or a bool mask applied to an additive bias (-inf where false). */
export function combineMasks(a: Tensor | null, b: Tensor | undefined): Tensor | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.dtype === 'bool' ? logicalAnd(a, b) : where(a, b, -Infinity);
}

/**
 * The attention probabilities [B, Hq, Tq, L] of q over fetched keys, composed from primitives so
 * that the fused kernel's outputs stay exactly what they are (heavy-hitter caches need them).
 */
export function attentionWeights(q: Tensor, fetch: KVFetch, queryStart: number, opts: AttentionOptions = {}): Tensor {
  const [, hq, tq, d] = q.shape as [number, number, number, number];
  const group = hq / fetch.keys.shape[1]!;
  let scores = mul(matmul(q, transpose(repeatKv(fetch.keys, group), -2, -1)), opts.scale ?? 1 / Math.sqrt(d)); // [B, Hq, Tq, L]
  const visible = fetchMask(fetch, queryStart, tq, hq, opts);
  if (visible) scores = where(visible, scores, -Infinity);
  if (opts.mask) scores = opts.mask.dtype === 'bool' ? where(opts.mask, scores, -Infinity) : add(scores, opts.mask);
  return softmax(scores, -1); // [B, Hq, Tq, L]
}

/**
 * Attention of q [B, Hq, Tq, D] (positions queryStart..queryStart+Tq-1) over what a cache fetched.
 * Keys in order (positions null) use the kernel's own causal/window masks; otherwise the mask comes
 * from the reported positions. `opts.mask` (T5's bias, ALiBi's) must already be [.., Tq, L];
 * `opts.padding` (a padded batch) is turned into a mask over the fetched keys' columns here.
 */
export function attendFetched(q: Tensor, fetch: KVFetch, queryStart: number, cacheOpts: CacheAttentionOptions = {}, observer?: LayerKVCache): Tensor {
  const tq = q.shape[2]!;
  const { padding, ...opts } = cacheOpts;
  if (padding) {
    const [b, hkv, l] = fetch.keys.shape as [number, number, number];
    if (fetch.positions !== null && fetch.positions.length !== l) {
      fail('attention', `a padded batch needs key positions shared by every row; this cache keeps its own per row and head (${fetch.positions.length} for ${b} x ${hkv} x ${l} keys), as heavy-hitter eviction does`);
    }
    opts.mask = combineMasks(paddedKeys(padding, b, fetchedPositions(fetch, queryStart, tq, 'attention'), queryStart, tq), opts.mask)!; // [B, .., Tq, L]
  }
  let out: Tensor;
  if (fetch.positions === null) {
    const window = effectiveWindow(opts.window, fetch.window);
    out = scaledDotProductAttention(q, fetch.keys, fetch.values, { ...opts, window });
  } else {
    // the position mask replaces the kernel's causal/window flags (which assume keys in order)
    const { causal: _causal, window: _window, mask: _mask, ...rest } = opts;
    const mask = combineMasks(fetchMask(fetch, queryStart, tq, q.shape[1]!, opts), opts.mask);
    out = scaledDotProductAttention(q, fetch.keys, fetch.values, { ...rest, ...(mask ? { mask } : {}) });
  }
  observer?.observeAttention?.(attentionWeights(q, fetch, queryStart, opts));
  return out; // [B, Hq, Tq, Dv]
}

/**
 * scaledDotProductAttention through an optional cache: without one it is the plain op on k and v;
 * with one, k and v [B, Hkv, T, D] are stored first and attention reads everything the cache keeps.
 */
export function attentionWithCache(q: Tensor, k: Tensor, v: Tensor, cache: LayerKVCache | null | undefined, cacheOpts: CacheAttentionOptions = {}): Tensor {
  if (!cache) {
    const { padding, ...opts } = cacheOpts;
    if (!padding) return scaledDotProductAttention(q, k, v, opts);
    const [b, , t] = k.shape as [number, number, number];
    const tq = q.shape[2]!;
    const mask = combineMasks(paddedKeys(padding, b, Int32Array.from({ length: t }, (_, j) => j), t - tq, tq), opts.mask)!; // [B, .., Tq, T]
    return scaledDotProductAttention(q, k, v, { ...opts, mask });
  }
  const queryStart = cache.offset;
  const fetch = cache.updateAndFetch(k, v);
  return attendFetched(q, fetch, queryStart, cacheOpts, cache);
}
