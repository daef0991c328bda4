/**
 * The KV-cache interface (mlx-lm's `_BaseCache`: update_and_fetch, offset, trim, nbytes, state)
 * and the base class the in-memory policies share. One cache object per layer; it learns its
 * geometry [B, Hkv, *, D] from the first update, so it is allocated for the key/value heads only
 * (a GQA/MQA model stores Hkv, not Hq, heads). The batch dimension B is carried throughout:
 * every row of a batch advances together (the paged cache of paged.ts is the per-sequence design a
 * serving layer batches over).
 */
import { fail, formatShape, type Tensor } from '../../tensor/index.js';
import type { KVFetch, LayerKVCache } from '../../nn/index.js';
import { RowStore, rowMajor, type KVDType, type RowStoreState } from './rows.js';

export type { KVDType, RowStoreState } from './rows.js';

export interface KVCache extends LayerKVCache {
  /** The policy: 'dense', 'sliding-window', 'sinks', 'heavy-hitter', 'paged'. */
  readonly kind: string;
  /** Positions held now (offset for caches that never evict). */
  readonly length: number;
  /** Bytes allocated for keys and values (preallocated capacity and int8 scales included). */
  readonly nbytes: number;
  /** Whether trim can drop the newest positions (false once a cache has overwritten or evicted any). */
  isTrimmable(): boolean;
  /** Drops the newest n positions (speculative decoding, prompt-cache reuse); returns how many it dropped (0 if not trimmable). */
  trim(n: number): number;
  /** The positions held for sequence/head row r (r = b * Hkv + h), ascending. */
  keptPositions(row?: number): number[];
  /** A copy of everything the cache holds, as plain arrays. */
  state(): KVCacheState;
  /** Replaces the contents with a saved state of the same kind. */
  setState(state: KVCacheState): void;
  /** Releases the storage; the cache is empty afterwards. */
  dispose(): void;
}

export interface KVCacheState {
  kind: string;
  offset: number;
  /** Slot contents ([B, Hkv, slots, D]); null before the first update. */
  keys: RowStoreState | null;
  values: RowStoreState | null;
  /** Policy data (slot positions, accumulated attention). */
  arrays: Record<string, Int32Array | Float64Array>;
}

export interface KVCacheOptions {
  /** Storage precision of keys and values: float32 (exact) or int8 with per-token, per-head scales. */
  dtype?: KVDType;
  /** Slots allocated at a time (mlx-lm's step): the cache grows in chunks rather than per token. */
  step?: number;
}

/** Geometry checks, the two row stores and the plumbing every in-memory policy shares. */
export abstract class BaseKVCache implements KVCache {
  abstract readonly kind: string;
  offset = 0;
  protected readonly keys: RowStore;
  protected readonly values: RowStore;

  constructor(opts: KVCacheOptions = {}) {
    this.keys = new RowStore(opts.dtype ?? 'float32', opts.step ?? 256);
    this.values = new RowStore(opts.dtype ?? 'float32', opts.step ?? 256);
  }

  get dtype(): KVDType {
    return this.keys.dtype;
  }

  abstract readonly length: number;
  abstract updateAndFetch(keys: Tensor, values: Tensor): KVFetch;
  abstract keptPositions(row?: number): number[];

  get nbytes(): number {
    return this.keys.nbytes + this.values.nbytes;
  }

  isTrimmable(): boolean {
    return false;
  }

  trim(_n: number): number {
    return 0;
  }

  /** Validates k [B, H, T, D] and v [B, H, T, Dv], fixes the geometry, returns T and their row-major values. */
  protected begin(k: Tensor, v: Tensor): { t: number; ks: Float32Array; vs: Float32Array } {
    const what = `${this.constructor.name}.updateAndFetch`;
    if (k.ndim !== 4 || v.ndim !== 4 || k.shape[0] !== v.shape[0] || k.shape[1] !== v.shape[1] || k.shape[2] !== v.shape[2]) {
      fail(what, `keys ${formatShape(k.shape)} and values ${formatShape(v.shape)} must be [B, Hkv, T, D] and [B, Hkv, T, Dv]`);
    }
    const [b, h, t, d] = k.shape as [number, number, number, number];
    if (t < 1) fail(what, 'no new tokens');
    this.keys.init(b, h, d, what);
    this.values.init(b, h, v.shape[3]!, what);
    return { t, ks: rowMajor(k, what), vs: rowMajor(v, what) };
  }

  protected baseState(slots: number, arrays: Record<string, Int32Array | Float64Array> = {}): KVCacheState {
    const init = this.keys.initialized;
    return {
      kind: this.kind, offset: this.offset,
      keys: init ? this.keys.state(slots) : null, values: init ? this.values.state(slots) : null, arrays,
    };
  }

  /** Restores rows and offset; returns the number of slots restored. */
  protected restoreBase(s: KVCacheState, capacity: number): number {
    const what = `${this.constructor.name}.setState`;
    if (s.kind !== this.kind) fail(what, `state of a '${s.kind}' cache cannot restore a '${this.kind}' cache`);
    this.dispose();
    this.offset = s.offset;
    if (!s.keys || !s.values) return 0;
    this.keys.setState(s.keys, capacity, what);
    this.values.setState(s.values, capacity, what);
    return s.keys.shape[2];
  }

  abstract state(): KVCacheState;
  abstract setState(state: KVCacheState): void;

  dispose(): void {
    this.keys.dispose();
    this.values.dispose();
    this.offset = 0;
  }
}

