/**
 * Row storage for one side (keys or values) of a layer's cache: [B, H, capacity, D] rows, either
 * float32 or int8 with one float32 scale per row (per token, per head: KIVI/KVQuant's per-token
 * granularity, symmetric absmax as llama.cpp's q8_0). The cache policies decide which slot holds
 * which position; this class only stores, moves and reads rows, so every policy works in both
 * precisions.
 */
import { allocate, fail, formatShape, fromBuffer, keep, zeros, type Tensor } from '../../tensor/index.js';

export type KVDType = 'float32' | 'int8';

/** The rows of a RowStore as plain arrays (a cache's saved state). */
export interface RowStoreState {
  dtype: KVDType;
  /** [B, H, slots, D] */
  shape: [number, number, number, number];
  data: Float32Array | Int8Array;
  /** int8 only: [B, H, slots] */
  scales: Float32Array | null;
}

/** Row-major float32 values of t (no copy when t already is a contiguous float32 span). */
export function rowMajor(t: Tensor, what: string): Float32Array {
  if (t.dtype !== 'float32') fail(what, `keys and values must be float32, got ${t.dtype}`);
  const c = t.isContiguous ? t : t.contiguous();
  return (c.storage.data as Float32Array).subarray(c.offset, c.offset + c.size);
}

/** Symmetric int8 quantisation of n values at src[srcAt..] into dst[dstAt..]; returns the scale (absmax / 127). */
export function quantizeRow(src: ArrayLike<number>, srcAt: number, n: number, dst: Int8Array, dstAt: number): number {
  let absmax = 0;
  for (let i = 0; i < n; i++) absmax = Math.max(absmax, Math.abs(src[srcAt + i]!));
  const scale = Math.fround(absmax / 127);
  const inv = scale === 0 ? 0 : 1 / scale;
  for (let i = 0; i < n; i++) dst[dstAt + i] = Math.max(-127, Math.min(127, Math.round(src[srcAt + i]! * inv)));
  return scale;
}

export class RowStore {
  private f32: Tensor | null = null; // float32 rows, kept alive across tidy scopes
  private q: Int8Array | null = null;
  private scales: Float32Array | null = null;
  private bh = 0;
  private d = 0;
  private cap = 0;
  private shape: [number, number] = [0, 0];

  constructor(readonly dtype: KVDType, readonly step: number) {
    if (dtype !== 'float32' && dtype !== 'int8') fail('KVCache', `K/V dtype must be float32 or int8, got '${dtype}'`);
    if (!(Number.isInteger(step) && step > 0)) fail('KVCache', `step must be a positive integer, got ${step}`);
  }

  get capacity(): number {
    return this.cap;
  }

  get rowSize(): number {
    return this.d;
  }

  /** Sequence/head rows B * H (0 before the geometry is known). */
  get rows(): number {
    return this.bh;
  }

  get initialized(): boolean {
    return this.bh > 0;
  }

  /** Bytes held (the whole allocated capacity, scales included). */
  get nbytes(): number {
    const n = this.bh * this.cap * this.d;
    return this.dtype === 'float32' ? n * 4 : n + this.bh * this.cap * 4;
  }

  /** Fixes the geometry [B, H, *, D]; later calls must agree. */
  init(b: number, h: number, d: number, what: string): void {
    if (this.initialized) {
      if (this.shape[0] !== b || this.shape[1] !== h || this.d !== d) {
        fail(what, `got rows of [${b}, ${h}, T, ${d}] but the cache holds [${this.shape[0]}, ${this.shape[1]}, T, ${this.d}]`);
      }
      return;
    }
    this.shape = [b, h];
    this.bh = b * h;
    this.d = d;
  }

  /**
   * Grows to at least `capacity` slots (in multiples of `step`, but never beyond `limit`: a ring
   * buffer's fixed size), keeping the first `keepSlots` slots.
   */
  reserve(capacity: number, limit = Infinity, keepSlots = this.cap): void {
    if (capacity <= this.cap) return;
    const cap = Math.min(Math.ceil(capacity / this.step) * this.step, Math.max(limit, capacity));
    const { bh, d } = this;
    const rows = Math.min(keepSlots, this.cap);
    if (this.dtype === 'float32') {
      const next = keep(zeros([this.shape[0], this.shape[1], cap, d])); // [B, H, cap, D]
      const dst = next.storage.data as Float32Array;
      if (this.f32) {
        const src = this.f32.storage.data as Float32Array;
        for (let r = 0; r < bh; r++) dst.set(src.subarray(r * this.cap * d, (r * this.cap + rows) * d), r * cap * d);
        this.f32.dispose();
      }
      this.f32 = next;
    } else {
      const q = new Int8Array(bh * cap * d);
      const scales = new Float32Array(bh * cap);
      if (this.q && this.scales) {
        for (let r = 0; r < bh; r++) {
          q.set(this.q.subarray(r * this.cap * d, (r * this.cap + rows) * d), r * cap * d);
          scales.set(this.scales.subarray(r * this.cap, r * this.cap + rows), r * cap);
        }
      }
      this.q = q;
      this.scales = scales;
    }
    this.cap = cap;
  }

  /**
   * Writes source rows src[bh, srcRow + i] (src is [B, H, srcRows, D] row-major) to slots
   * slotOf(i) for i < count, for every (b, h).
   */
  write(src: Float32Array, srcRows: number, srcRow: number, count: number, slotOf: (i: number) => number): void {
    const { bh, d, cap } = this;
    for (let r = 0; r < bh; r++) {
      for (let i = 0; i < count; i++) {
        const from = (r * srcRows + srcRow + i) * d;
        const slot = slotOf(i);
        if (slot < 0 || slot >= cap) fail('KVCache', `slot ${slot} is outside the capacity ${cap}`);
        this.writeRow(r * cap + slot, src, from);
      }
    }
  }

  private writeRow(row: number, src: ArrayLike<number>, from: number): void {
    const d = this.d;
    if (this.f32) (this.f32.storage.data as Float32Array).set((src as Float32Array).subarray(from, from + d), row * d);
    else this.scales![row] = quantizeRow(src, from, d, this.q!, row * d);
  }

  /** Moves slot `from` to slot `to` of sequence/head row `r` (compaction after eviction). */
  moveRow(r: number, from: number, to: number): void {
    if (from === to) return;
    const { d, cap } = this;
    const [a, b] = [(r * cap + from) * d, (r * cap + to) * d];
    if (this.f32) {
      const data = this.f32.storage.data as Float32Array;
      data.copyWithin(b, a, a + d);
    } else {
      this.q!.copyWithin(b, a, a + d);
      this.scales![r * cap + to] = this.scales![r * cap + from]!;
    }
  }

  /** Slots 0..length-1 of every row as [B, H, length, D]: a view for float32, a dequantised copy for int8. */
  prefix(length: number): Tensor {
    if (length > this.cap) fail('KVCache', `cannot read ${length} slots of ${this.cap}`);
    if (this.f32) return this.f32.narrow(2, 0, length); // [B, H, length, D]
    return this.gather(Int32Array.from({ length }, (_, i) => i));
  }

  /** The given slots (the same for every row, or [B*H, n] per row) as a float32 [B, H, n, D] copy. */
  gather(slots: Int32Array, perRow = false): Tensor {
    const { bh, d, cap } = this;
    const n = perRow ? slots.length / bh : slots.length;
    const out = fromBuffer(allocate('float32', bh * n * d, false), 'float32', [this.shape[0], this.shape[1], n, d]); // [B, H, n, D]
    const dst = out.storage.data as Float32Array;
    const src = this.f32 ? (this.f32.storage.data as Float32Array) : null;
    const q = this.q;
    const scales = this.scales;
    for (let r = 0; r < bh; r++) {
      for (let i = 0; i < n; i++) {
        const row = r * cap + slots[perRow ? r * n + i : i]!;
        const at = (r * n + i) * d;
        if (src) {
          dst.set(src.subarray(row * d, row * d + d), at);
        } else {
          const sc = scales![row]!;
          const from = row * d;
          for (let c = 0; c < d; c++) dst[at + c] = q![from + c]! * sc;
        }
      }
    }
    return out;
  }

  /** What attention would read back for rows written now: t itself for float32, t through int8 and back otherwise. */
  roundTrip(t: Tensor, what: string): Tensor {
    if (this.dtype === 'float32') return t;
    const [b, h, n, d] = t.shape as [number, number, number, number];
    const src = rowMajor(t, what);
    const out = zeros([b, h, n, d]);
    const dst = out.storage.data as Float32Array;
    const q = new Int8Array(d);
    for (let row = 0; row < b * h * n; row++) {
      const s = quantizeRow(src, row * d, d, q, 0);
      for (let c = 0; c < d; c++) dst[row * d + c] = q[c]! * s;
    }
    return out;
  }

  /** Slots 0..slots-1 of every row. */
  state(slots: number): RowStoreState {
    const { bh, d, cap } = this;
    const shape: [number, number, number, number] = [this.shape[0], this.shape[1], slots, d];
    if (this.f32) {
      const src = this.f32.storage.data as Float32Array;
      const data = new Float32Array(bh * slots * d);
      for (let r = 0; r < bh; r++) data.set(src.subarray(r * cap * d, (r * cap + slots) * d), r * slots * d);
      return { dtype: 'float32', shape, data, scales: null };
    }
    const data = new Int8Array(bh * slots * d);
    const scales = new Float32Array(bh * slots);
    for (let r = 0; r < bh; r++) {
      data.set(this.q!.subarray(r * cap * d, (r * cap + slots) * d), r * slots * d);
      scales.set(this.scales!.subarray(r * cap, r * cap + slots), r * slots);
    }
    return { dtype: 'int8', shape, data, scales };
  }

  /** Replaces the contents with a saved state (capacity at least `capacity`). */
  setState(s: RowStoreState, capacity: number, what: string): void {
    if (s.dtype !== this.dtype) fail(what, `state holds ${s.dtype} rows, this cache stores ${this.dtype}`);
    const [b, h, slots, d] = s.shape;
    if (s.data.length !== b * h * slots * d || (s.dtype === 'int8' && s.scales?.length !== b * h * slots)) {
      fail(what, `state rows ${formatShape(s.shape)} do not match their data`);
    }
    this.dispose();
    this.init(b, h, d, what);
    this.reserve(Math.max(capacity, slots, 1), Infinity, 0);
    const cap = this.cap;
    for (let r = 0; r < b * h; r++) {
      if (this.f32) (this.f32.storage.data as Float32Array).set((s.data as Float32Array).subarray(r * slots * d, (r + 1) * slots * d), r * cap * d);
      else {
        this.q!.set((s.data as Int8Array).subarray(r * slots * d, (r + 1) * slots * d), r * cap * d);
        this.scales!.set(s.scales!.subarray(r * slots, (r + 1) * slots), r * cap);
      }
    }
  }

  dispose(): void {
    this.f32?.dispose();
    this.f32 = null;
    this.q = null;
    this.scales = null;
    this.bh = 0;
    this.cap = 0;
  }
}

/** n consecutive integers from start. */
export function range(start: number, n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => start + i);
}

export function checkPositiveInt(what: string, name: string, v: number): void {
  if (!(Number.isInteger(v) && v > 0)) fail(what, `${name} must be a positive integer, got ${v}`);
}
