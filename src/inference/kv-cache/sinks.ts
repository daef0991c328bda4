/**
 * Attention sinks + a recent window (StreamingLLM: Xiao et al. 2023, "Efficient Streaming
 * Language Models with Attention Sinks", arXiv:2309.17453): the first `sinks` positions, which
 * soak up attention mass whatever their content, stay forever; the rest is a ring buffer of the
 * `window` most recent positions. Query p sees keys 0..sinks-1 and p-window+1..p, so memory is
 * bounded for an unbounded stream.
 *
 * Keys are cached after RoPE at their original positions, as mlx-lm's RotatingKVCache(keep=...)
 * does; the paper instead re-indexes positions inside the cache (the newest token at position
 * sinks + window - 1), which needs un-rotated keys. Within the model's trained context the two
 * agree on which keys are seen; beyond it this cache feeds RoPE distances the model never saw.
 */
import { concat, type Tensor } from '../../tensor/index.js';
import type { KVFetch } from '../../nn/index.js';
import { BaseKVCache, type KVCacheOptions, type KVCacheState } from './cache.js';
import { checkPositiveInt, range } from './rows.js';

export class SinkKVCache extends BaseKVCache {
  readonly kind = 'sinks';
  readonly sinks: number;
  readonly window: number;

  constructor(opts: KVCacheOptions & { sinks: number; window: number }) {
    super(opts);
    checkPositiveInt('SinkKVCache', 'sinks', opts.sinks);
    checkPositiveInt('SinkKVCache', 'window', opts.window);
    this.sinks = opts.sinks;
    this.window = opts.window;
  }

  get capacity(): number {
    return this.sinks + this.window;
  }

  get length(): number {
    return Math.min(this.offset, this.capacity);
  }

  /** Slot of position p: its own index for a sink, the ring otherwise. */
  private slotOf(p: number): number {
    return p < this.sinks ? p : this.sinks + ((p - this.sinks) % this.window);
  }

  /** The position held by each of the `length` slots. */
  private slotPositions(): Int32Array {
    const { offset, sinks, window: r } = this;
    if (offset <= this.capacity) return range(0, offset);
    const pos = range(0, this.capacity);
    // ring slot s holds the newest p < offset with (p - sinks) mod window = s - sinks
    for (let s = sinks; s < sinks + r; s++) pos[s] = offset - 1 - ((offset - 1 - s) % r);
    return pos;
  }

  updateAndFetch(k: Tensor, v: Tensor): KVFetch {
    const { t, ks, vs } = this.begin(k, v);
    const { sinks, window: r, capacity: c } = this;
    const start = this.offset;
    this.keys.reserve(Math.min(c, start + t), c);
    this.values.reserve(Math.min(c, start + t), c);
    if (start + t <= c) {
      // nothing evicted yet: every query p < sinks + window sees all of 0..p anyway
      this.keys.write(ks, t, 0, t, (i) => start + i);
      this.values.write(vs, t, 0, t, (i) => start + i);
      this.offset += t;
      return { keys: this.keys.prefix(this.offset), values: this.values.prefix(this.offset), positions: null };
    }
    if (t === 1) {
      this.keys.write(ks, 1, 0, 1, () => this.slotOf(start));
      this.values.write(vs, 1, 0, 1, () => this.slotOf(start));
      this.offset += 1;
      return { keys: this.keys.prefix(c), values: this.values.prefix(c), positions: this.slotPositions(), window: r, sinks };
    }
    // a chunk past the capacity: the sinks and the last window-1 positions, then the chunk, masked by position
    const oldPositions = [...this.slotPositions()].filter((p) => p < sinks || p >= start - (r - 1)).sort((a, b) => a - b);
    const oldSlots = Int32Array.from(oldPositions, (p) => this.slotOf(p));
    const keys = concat([this.keys.gather(oldSlots), this.keys.roundTrip(k, this.kind)], 2); // [B, Hkv, old + T, D]
    const values = concat([this.values.gather(oldSlots), this.values.roundTrip(v, this.kind)], 2); // [B, Hkv, old + T, Dv]
    const positions = Int32Array.from([...oldPositions, ...range(start, t)]);
    // keep the chunk's positions that are sinks or among the newest `window`
    const kept = [...range(start, t)].filter((p) => p < sinks || p >= start + t - r);
    const first = kept.map((p) => p - start);
    for (const [store, src] of [[this.keys, ks], [this.values, vs]] as const) {
      for (const i of first) store.write(src, t, i, 1, () => this.slotOf(start + i));
    }
    this.offset += t;
    return { keys, values, positions, window: r, sinks };
  }

  keptPositions(): number[] {
    return [...this.slotPositions()].sort((a, b) => a - b);
  }

  override isTrimmable(): boolean {
    return this.offset <= this.capacity;
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
    this.restoreBase(s, Math.min(s.offset, this.capacity));
  }
}
