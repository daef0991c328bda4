/**
 * KV caches behind one interface (cache.ts): dense (chunked, f32 or int8), sliding-window ring
 * buffer, attention sinks + recent window, heavy-hitter eviction, and a paged pool with block
 * tables, reference counts and copy-on-write prefix sharing; cross-attention caches for
 * encoder-decoders.
 */
import { fail } from '../../tensor/index.js';
import type { KVCache, KVDType } from './cache.js';
import { DenseKVCache } from './dense.js';
import { SlidingWindowKVCache } from './sliding-window.js';
import { SinkKVCache } from './sinks.js';
import { HeavyHitterKVCache } from './heavy-hitter.js';

export * from './cache.js';
export { RowStore, quantizeRow, rowMajor, type RowStoreState } from './rows.js';
export { DenseKVCache } from './dense.js';
export { SlidingWindowKVCache } from './sliding-window.js';
export { SinkKVCache } from './sinks.js';
export { HeavyHitterKVCache } from './heavy-hitter.js';
export { PagedKVPool, PagedSequence, PagedLayerCache, type PagedKVOptions } from './paged.js';
export { CrossAttentionCache } from './cross.js';

/** A cache policy by name and parameters: what `createKVCache` builds, once per layer. */
export type KVCacheSpec =
  | { kind: 'dense'; dtype?: KVDType; step?: number }
  | { kind: 'sliding-window'; window: number; dtype?: KVDType }
  | { kind: 'sinks'; sinks: number; window: number; dtype?: KVDType }
  | { kind: 'heavy-hitter'; heavy: number; recent: number; dtype?: KVDType; step?: number };

export function createKVCache(spec: KVCacheSpec): KVCache {
  const dtype = spec.dtype ?? 'float32';
  switch (spec.kind) {
    case 'dense': return new DenseKVCache({ dtype, ...(spec.step ? { step: spec.step } : {}) });
    case 'sliding-window': return new SlidingWindowKVCache({ dtype, window: spec.window });
    case 'sinks': return new SinkKVCache({ dtype, sinks: spec.sinks, window: spec.window });
    case 'heavy-hitter': return new HeavyHitterKVCache({ dtype, heavy: spec.heavy, recent: spec.recent, ...(spec.step ? { step: spec.step } : {}) });
    default: return fail('createKVCache', `unknown cache kind ${JSON.stringify((spec as { kind: unknown }).kind)} (dense, sliding-window, sinks, heavy-hitter)`);
  }
}

/** One cache per layer. */
export function createModelKVCache(layers: number, spec: KVCacheSpec): KVCache[] {
  return Array.from({ length: layers }, () => createKVCache(spec));
}
