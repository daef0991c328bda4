/**
 * The plain cache: every position kept, in order, in buffers preallocated `step` slots at a time
 * (mlx-lm's KVCache). Attention reads a view of the first `offset` slots, so the kernel's
 * end-aligned causal mask applies unchanged. With dtype 'int8' the same policy stores int8 rows
 * with one scale per token and head (mlx-lm's QuantizedKVCache) and reads them back dequantised.
 */
import type { Tensor } from '../../tensor/index.js';
import type { KVFetch } from '../../nn/index.js';
import { BaseKVCache, type KVCacheOptions, type KVCacheState } from './cache.js';

export class DenseKVCache extends BaseKVCache {
  readonly kind = 'dense';

  constructor(opts: KVCacheOptions = {}) {
    super(opts);
  }

  get length(): number {
    return this.offset;
  }

  updateAndFetch(k: Tensor, v: Tensor): KVFetch {
    const { t, ks, vs } = this.begin(k, v);
    const start = this.offset;
    this.keys.reserve(start + t);
    this.values.reserve(start + t);
    this.keys.write(ks, t, 0, t, (i) => start + i);
    this.values.write(vs, t, 0, t, (i) => start + i);
    this.offset += t;
    return { keys: this.keys.prefix(this.offset), values: this.values.prefix(this.offset), positions: null }; // [B, Hkv, offset, D]
  }

  keptPositions(): number[] {
    return Array.from({ length: this.offset }, (_, i) => i);
  }

  override isTrimmable(): boolean {
    return true;
  }

  override trim(n: number): number {
    const m = Math.max(0, Math.min(n, this.offset));
    this.offset -= m;
    return m;
  }

  state(): KVCacheState {
    return this.baseState(this.offset);
  }

  setState(s: KVCacheState): void {
    this.restoreBase(s, s.offset);
  }
}
