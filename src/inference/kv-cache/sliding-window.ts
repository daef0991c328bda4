/**
 * Sliding-window ring buffer (Mistral 7B, Jiang et al. 2023, sec. 2 "Rolling Buffer Cache";
 * mlx-lm's RotatingKVCache): position p lives in slot p mod W, so memory stays at W positions
 * however long the stream. Query p sees keys p-W+1..p.
 *
 * A single new token overwrites the oldest slot and attends to the whole buffer (slot order is
 * not position order after the first wrap, so the cache reports each slot's position). A chunk of
 * T > 1 tokens (prefill) that wraps attends to the last W-1 stored positions followed by itself,
 * in order, under a window-W mask, and only then is written into the ring, so a chunk longer than
 * W still sees the positions it needs.
 */
import { concat, type Tensor } from '../../tensor/index.js';
import type { KVFetch } from '../../nn/index.js';
import { BaseKVCache, type KVCacheOptions, type KVCacheState } from './cache.js';
import { checkPositiveInt, range } from './rows.js';

export class SlidingWindowKVCache extends BaseKVCache {
  readonly kind = 'sliding-window';
  readonly window: number;

  constructor(opts: KVCacheOptions & { window: number }) {
    super(opts);
    checkPositiveInt('SlidingWindowKVCache', 'window', opts.window);
    this.window = opts.window;
  }

  get length(): number {
    return Math.min(this.offset, this.window);
  }

  /** The position held by each of the `length` slots. */
  private slotPositions(): Int32Array {
    const { offset, window: w } = this;
    if (offset <= w) return range(0, offset);
    return Int32Array.from({ length: w }, (_, s) => offset - 1 - ((offset - 1 - s) % w));
  }

  updateAndFetch(k: Tensor, v: Tensor): KVFetch {
    const { t, ks, vs } = this.begin(k, v);
    const w = this.window;
    const start = this.offset;
    this.keys.reserve(Math.min(w, start + t), w);
    this.values.reserve(Math.min(w, start + t), w);
    if (start + t <= w) {
      // not full yet: slot = position, keys in order
      this.keys.write(ks, t, 0, t, (i) => start + i);
      this.values.write(vs, t, 0, t, (i) => start + i);
      this.offset += t;
      return { keys: this.keys.prefix(this.offset), values: this.values.prefix(this.offset), positions: null, window: w };
    }
    if (t === 1) {
      this.keys.write(ks, 1, 0, 1, () => start % w);
      this.values.write(vs, 1, 0, 1, () => start % w);
      this.offset += 1;
      return { keys: this.keys.prefix(w), values: this.values.prefix(w), positions: this.slotPositions(), window: w };
    }
    // a chunk that wraps: the last W-1 stored positions in order, then the chunk itself
    const old = Math.min(start, w - 1);
    const oldSlots = Int32Array.from({ length: old }, (_, i) => (start - old + i) % w);
    const keys = concat([this.keys.gather(oldSlots), this.keys.roundTrip(k, this.kind)], 2); // [B, Hkv, old + T, D]
    const values = concat([this.values.gather(oldSlots), this.values.roundTrip(v, this.kind)], 2); // [B, Hkv, old + T, Dv]
    const n = Math.min(t, w); // only the chunk's last W positions survive
    this.keys.write(ks, t, t - n, n, (i) => (start + t - n + i) % w);
    this.values.write(vs, t, t - n, n, (i) => (start + t - n + i) % w);
    this.offset += t;
    return { keys, values, positions: null, window: w };
  }

  keptPositions(): number[] {
    return [...this.slotPositions()].sort((a, b) => a - b);
  }

  /** Trimming needs the overwritten positions back, so it works only before the first wrap. */
  override isTrimmable(): boolean {
    return this.offset <= this.window;
  }

  override trim(n: number): number {
    if (!this.isTrimmable()) return 0;
    const m = Math.max(0, Math.min(n, this.offset));
    this.offset -= m;
    return m;
  }

  state(): KVCacheState {
    return this.baseState(this.length);
  }

  setState(s: KVCacheState): void {
    this.restoreBase(s, Math.min(s.offset, this.window));
  }
}
