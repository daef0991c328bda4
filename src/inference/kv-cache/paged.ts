/**
 * A paged KV cache (vLLM's PagedAttention: Kwon et al. 2023, "Efficient Memory Management for
 * Large Language Model Serving with PagedAttention", arXiv:2309.06180). One pool of fixed-size
 * blocks per model; block b holds `blockSize` consecutive positions of every layer, keys
 * [H, blockSize, D] and values [H, blockSize, Dv] per layer. A sequence owns a block table (logical
 * block i -> physical block), so its memory grows a block at a time and is never fragmented.
 * Free blocks sit on a free list; every block has a reference count, so sequences can share a
 * prefix (a system prompt, the parent of parallel samples or beams): `fork` copies the table and
 * takes a reference, and the first write into a block someone else also holds copies it
 * (copy-on-write) for all layers at once.
 *
 * Each sequence exposes one cache per layer (the same KVCache interface as the dense caches), so
 * models run on it unchanged; fetch gathers the sequence's blocks into contiguous keys, in position
 * order, and the kernel's causal mask applies as for the dense cache. Sequences are batch 1: a
 * serving layer batches over sequences, each with its own table.
 */
import { fail, keep, zeros, type Tensor } from '../../tensor/index.js';
import type { KVFetch } from '../../nn/index.js';
import { checkPositiveInt, rowMajor } from './rows.js';
import type { KVCache, KVCacheState } from './cache.js';

export interface PagedKVOptions {
  /** Model layers (each block holds every layer's rows). */
  layers: number;
  /** Blocks in the pool: its capacity is blocks * blockSize positions, shared by all sequences. */
  blocks: number;
  /** Positions per block (vLLM's default is 16). */
  blockSize: number;
  kvHeads: number;
  headDim: number;
  /** Defaults to headDim. */
  valueDim?: number;
}

export class PagedKVPool {
  readonly layers: number;
  readonly blocks: number;
  readonly blockSize: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  private readonly keyData: Tensor[] = []; // per layer [blocks, H, blockSize, D]
  private readonly valueData: Tensor[] = [];
  private readonly refs: Int32Array;
  private readonly free: number[] = [];
  /** Blocks copied on write so far (for tests and statistics). */
  copies = 0;

  constructor(opts: PagedKVOptions) {
    for (const f of ['layers', 'blocks', 'blockSize', 'kvHeads', 'headDim'] as const) checkPositiveInt('PagedKVPool', f, opts[f]);
    this.layers = opts.layers;
    this.blocks = opts.blocks;
    this.blockSize = opts.blockSize;
    this.kvHeads = opts.kvHeads;
    this.headDim = opts.headDim;
    this.valueDim = opts.valueDim ?? opts.headDim;
    checkPositiveInt('PagedKVPool', 'valueDim', this.valueDim);
    for (let l = 0; l < this.layers; l++) {
      this.keyData.push(keep(zeros([this.blocks, this.kvHeads, this.blockSize, this.headDim])));
      this.valueData.push(keep(zeros([this.blocks, this.kvHeads, this.blockSize, this.valueDim])));
    }
    this.refs = new Int32Array(this.blocks);
    for (let b = this.blocks - 1; b >= 0; b--) this.free.push(b); // lowest id handed out first
  }

  get freeBlocks(): number {
    return this.free.length;
  }

  get usedBlocks(): number {
    return this.blocks - this.free.length;
  }

  /** Bytes of one block across all layers. */
  get blockBytes(): number {
    return this.layers * this.kvHeads * this.blockSize * (this.headDim + this.valueDim) * 4;
  }

  get nbytes(): number {
    return this.blocks * this.blockBytes;
  }

  refCount(block: number): number {
    return this.refs[block]!;
  }

  /** A free block with one reference. */
  allocate(): number {
    const b = this.free.pop();
    if (b === undefined) fail('PagedKVPool', `out of KV blocks (${this.blocks} blocks of ${this.blockSize} positions are all in use)`);
    this.refs[b] = 1;
    return b;
  }

  retain(block: number): void {
    if (this.refs[block]! <= 0) fail('PagedKVPool', `block ${block} is free and cannot be shared`);
    this.refs[block]!++;
  }

  release(block: number): void {
    if (this.refs[block]! <= 0) fail('PagedKVPool', `block ${block} released more often than it was taken`);
    if (--this.refs[block]! === 0) this.free.push(block);
  }

  /** Copies block `from` into block `to` for every layer. */
  copyBlock(from: number, to: number): void {
    for (const data of [...this.keyData, ...this.valueData]) {
      const a = data.storage.data as Float32Array;
      const n = a.length / this.blocks;
      a.copyWithin(to * n, from * n, (from + 1) * n);
    }
    this.copies++;
  }

  /** Storage of layer `layer`: keys [blocks, H, blockSize, D] and values, as flat arrays. */
  layerData(layer: number): { keys: Float32Array; values: Float32Array } {
    return { keys: this.keyData[layer]!.storage.data as Float32Array, values: this.valueData[layer]!.storage.data as Float32Array };
  }

  /** An empty sequence. */
  sequence(): PagedSequence {
    return new PagedSequence(this, [], 0);
  }

  /**
   * A sequence sharing the first `tokens` positions of `parent` (all it holds by default): the
   * blocks covering them are referenced, not copied; writes copy them first.
   */
  fork(parent: PagedSequence, tokens = parent.length): PagedSequence {
    if (parent.pool !== this) fail('PagedKVPool.fork', 'the parent sequence belongs to another pool');
    if (!(Number.isInteger(tokens) && tokens >= 0 && tokens <= parent.length)) {
      fail('PagedKVPool.fork', `can share 0..${parent.length} positions of the parent, not ${tokens}`);
    }
    const table = parent.blockTable.slice(0, Math.ceil(tokens / this.blockSize));
    for (const b of table) this.retain(b);
    return new PagedSequence(this, table, tokens);
  }

  dispose(): void {
    for (const t of [...this.keyData, ...this.valueData]) t.dispose();
    this.keyData.length = 0;
    this.valueData.length = 0;
  }
}

/** One sequence: a block table and one cache per layer (`layers` is what a model's forward takes). */
export class PagedSequence {
  readonly layers: PagedLayerCache[];
  private freed = false;

  constructor(readonly pool: PagedKVPool, readonly blockTable: number[], start: number) {
    this.layers = Array.from({ length: pool.layers }, (_, l) => new PagedLayerCache(this, l, start));
  }

  /** Positions every layer has stored. */
  get length(): number {
    return Math.min(...this.layers.map((c) => c.offset));
  }

  /** Physical block and slot of position p. */
  locate(p: number): { block: number; slot: number } {
    const block = this.blockTable[Math.floor(p / this.pool.blockSize)];
    if (block === undefined) fail('PagedSequence', `position ${p} has no block`);
    return { block, slot: p % this.pool.blockSize };
  }

  /**
   * Makes positions [from, to) writable: appends blocks up to `to` and replaces every block in
   * the range that another sequence also holds by a private copy (copy-on-write). The first layer
   * to write a step does the work; the others find the blocks ready.
   */
  prepareWrite(from: number, to: number): void {
    if (this.freed) fail('PagedSequence', 'the sequence was freed');
    const bs = this.pool.blockSize;
    while (this.blockTable.length * bs < to) this.blockTable.push(this.pool.allocate());
    for (let i = Math.floor(from / bs); i * bs < to; i++) {
      const b = this.blockTable[i]!;
      if (this.pool.refCount(b) > 1) {
        const copy = this.pool.allocate();
        this.pool.copyBlock(b, copy);
        this.pool.release(b);
        this.blockTable[i] = copy;
      }
    }
  }

  /** Returns blocks past the longest layer (after a trim) to the pool. */
  releaseUnused(): void {
    const need = Math.ceil(Math.max(...this.layers.map((c) => c.offset)) / this.pool.blockSize);
    while (this.blockTable.length > need) this.pool.release(this.blockTable.pop()!);
  }

  /** Returns every block to the pool (shared blocks stay with their other holders). */
  free(): void {
    if (this.freed) return;
    for (const b of this.blockTable) this.pool.release(b);
    this.blockTable.length = 0;
    this.freed = true;
  }
}

/** Layer `layer` of a paged sequence, behind the KVCache interface. */
export class PagedLayerCache implements KVCache {
  readonly kind = 'paged';

  constructor(readonly sequence: PagedSequence, readonly layer: number, public offset: number) {}

  get length(): number {
    return this.offset;
  }

  /** This sequence's share of the pool for this layer (whole blocks). */
  get nbytes(): number {
    const p = this.sequence.pool;
    return this.sequence.blockTable.length * p.kvHeads * p.blockSize * (p.headDim + p.valueDim) * 4;
  }

  updateAndFetch(k: Tensor, v: Tensor): KVFetch {
    const p = this.sequence.pool;
    const what = 'PagedLayerCache.updateAndFetch';
    const want = `[1, ${p.kvHeads}, T, ${p.headDim}] and [1, ${p.kvHeads}, T, ${p.valueDim}]`;
    if (k.ndim !== 4 || v.ndim !== 4 || k.shape[0] !== 1 || v.shape[0] !== 1 || k.shape[1] !== p.kvHeads || v.shape[1] !== p.kvHeads
      || k.shape[3] !== p.headDim || v.shape[3] !== p.valueDim || k.shape[2] !== v.shape[2]) {
      fail(what, `keys [${k.shape.join(', ')}] and values [${v.shape.join(', ')}] must be ${want} (one sequence)`);
    }
    const t = k.shape[2]!;
    const start = this.offset;
    this.sequence.prepareWrite(start, start + t);
    this.writeRows(rowMajor(k, what), rowMajor(v, what), start, t);
    this.offset += t;
    return { keys: this.read('keys', this.offset), values: this.read('values', this.offset), positions: null };
  }

  private writeRows(ks: Float32Array, vs: Float32Array, start: number, t: number): void {
    const p = this.sequence.pool;
    const { keys, values } = p.layerData(this.layer);
    for (let i = 0; i < t; i++) {
      const { block, slot } = this.sequence.locate(start + i);
      for (let h = 0; h < p.kvHeads; h++) {
        const kd = ((block * p.kvHeads + h) * p.blockSize + slot) * p.headDim;
        const ksrc = (h * t + i) * p.headDim;
        keys.set(ks.subarray(ksrc, ksrc + p.headDim), kd);
        const vd = ((block * p.kvHeads + h) * p.blockSize + slot) * p.valueDim;
        const vsrc = (h * t + i) * p.valueDim;
        values.set(vs.subarray(vsrc, vsrc + p.valueDim), vd);
      }
    }
  }

  /** Positions 0..n-1 gathered from the blocks: [1, H, n, D]. */
  private read(side: 'keys' | 'values', n: number): Tensor {
    const p = this.sequence.pool;
    const out = zeros([1, p.kvHeads, n, side === 'keys' ? p.headDim : p.valueDim]); // [1, H, n, D]
    this.gather(side, n, out.storage.data as Float32Array);
    return out;
  }

  /** Positions 0..n-1 of every head, row-major [H, n, D], into dst. */
  private gather(side: 'keys' | 'values', n: number, dst: Float32Array): Float32Array {
    const p = this.sequence.pool;
    const d = side === 'keys' ? p.headDim : p.valueDim;
    const src = p.layerData(this.layer)[side];
    for (let i = 0; i * p.blockSize < n; i++) {
      const block = this.sequence.blockTable[i]!;
      const rows = Math.min(p.blockSize, n - i * p.blockSize);
      for (let h = 0; h < p.kvHeads; h++) {
        const from = (block * p.kvHeads + h) * p.blockSize * d;
        dst.set(src.subarray(from, from + rows * d), (h * n + i * p.blockSize) * d);
      }
    }
    return dst;
  }

  keptPositions(): number[] {
    return Array.from({ length: this.offset }, (_, i) => i);
  }

  isTrimmable(): boolean {
    return true;
  }

  trim(n: number): number {
    const m = Math.max(0, Math.min(n, this.offset));
    this.offset -= m;
    this.sequence.releaseUnused();
    return m;
  }

  state(): KVCacheState {
    const p = this.sequence.pool;
    const shape = (d: number): [number, number, number, number] => [1, p.kvHeads, this.offset, d];
    return {
      kind: this.kind, offset: this.offset, arrays: {},
      keys: { dtype: 'float32', shape: shape(p.headDim), data: this.gather('keys', this.offset, new Float32Array(p.kvHeads * this.offset * p.headDim)), scales: null },
      values: { dtype: 'float32', shape: shape(p.valueDim), data: this.gather('values', this.offset, new Float32Array(p.kvHeads * this.offset * p.valueDim)), scales: null },
    };
  }

  /** Writes a saved layer state into this sequence's blocks (positions 0..offset-1). */
  setState(s: KVCacheState): void {
    const p = this.sequence.pool;
    if (s.kind !== this.kind && s.kind !== 'dense') fail('PagedLayerCache.setState', `cannot restore a '${s.kind}' cache state`);
    if (!s.keys || !s.values) {
      this.offset = 0;
      this.sequence.releaseUnused();
      return;
    }
    const [b, h, n] = s.keys.shape;
    if (b !== 1 || h !== p.kvHeads || s.keys.shape[3] !== p.headDim || s.values.shape[3] !== p.valueDim || s.keys.dtype !== 'float32' || n !== s.offset) {
      fail('PagedLayerCache.setState', `state rows [${s.keys.shape.join(', ')}] (${s.keys.dtype}) do not fit [1, ${p.kvHeads}, T, ${p.headDim}] float32`);
    }
    this.sequence.prepareWrite(0, n);
    this.writeRows(s.keys.data as Float32Array, s.values.data as Float32Array, 0, n);
    this.offset = n;
    this.sequence.releaseUnused();
  }

  dispose(): void {
    this.sequence.free();
  }
}
