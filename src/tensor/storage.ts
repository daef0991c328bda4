/**
 * Storage: the flat buffer behind one or more tensor views, with a reference count.
 *
 * When the last view of a storage is disposed, its buffer goes back to a size-keyed pool and
 * the next allocation of the same dtype and length reuses it. Hot loops that dispose their
 * intermediates (`tidy`, `dispose`, `using`) therefore run in bounded memory without waiting
 * for the garbage collector. Buffers that the caller handed in are never pooled.
 */
import { newTypedArray, storageLength, type DType, type TypedArray } from './dtype.js';
import { getBackend, hasBackend } from './backend.js';
import { fail } from './errors.js';

/**
 * Per-block scales of an int8 or int4 storage: element i is `q(i) * scales[floor(i / blockSize)]`
 * with q(i) = data[i] (int8) or the signed nibble of element i (int4, see dtype.ts).
 */
export interface QuantScales {
  scales: Float32Array;
  blockSize: number;
}

export class Storage {
  refs = 0;
  released = false;
  /**
   * Counts in-place writes to `data`, so that facts cached about the values are recomputed.
   * Today one such fact exists: halfFinite, which the f16 decode kernel trusts (an Inf/NaN
   * written into a float16 storage without markModified would read as a finite number there).
   * Module.loadStateDict calls it; code that writes a float16 storage's `data` directly must.
   * Views of the same bytes through two Storage objects do not share a version.
   */
  version = 0;
  private finiteVersion = -1;
  private finite = false;

  constructor(
    public data: TypedArray,
    readonly dtype: DType,
    readonly pooled: boolean,
    readonly quant: QuantScales | null = null,
  ) {
    accounting.live += data.byteLength;
    if (accounting.live > accounting.peak) accounting.peak = accounting.live;
  }

  get nbytes(): number {
    return this.data.byteLength + (this.quant ? this.quant.scales.byteLength : 0);
  }

  markModified(): void {
    this.version++;
  }

  /**
   * float16 storage: whether no element is Inf or NaN (exponent 31), scanned once per version
   * (by the backend when it offers `halfFinite`, the wasm one at memory speed; else a JS loop at
   * about 3 GB/s). The f16 decode kernels read weights through a conversion that would take
   * such an element for a finite number, so they check every row unless told this holds.
   */
  halfFinite(): boolean {
    if (this.dtype !== 'float16') fail('Storage.halfFinite', `needs float16 storage, got ${this.dtype}`);
    if (this.finiteVersion !== this.version) {
      const bits = this.data as Uint16Array;
      this.finite = (hasBackend() ? getBackend().halfFinite?.(bits) : null) ?? halfBitsFinite(bits);
      this.finiteVersion = this.version;
    }
    return this.finite;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs > 0 || this.released) return;
    this.released = true;
    accounting.live -= this.data.byteLength;
    const owner = owners.get(this.data);
    if (owner) owner(this.data);
    else if (this.pooled) pool.put(this.dtype, this.data);
    const scales = this.quant?.scales;
    if (scales) {
      const scaleOwner = owners.get(scales);
      if (scaleOwner) scaleOwner(scales);
      else if (this.pooled) pool.put('float32', scales);
    }
    this.data = EMPTY;
  }
}

const EMPTY = new Float32Array(0);

/** Whether no half in `h` has exponent 31 (Inf, NaN): two halves per 32-bit word. */
function halfBitsFinite(h: Uint16Array): boolean {
  if (h.length === 0) return true;
  const start = h.byteOffset & 3 ? 1 : 0; // a word-aligned start for the Uint32Array view
  if (start && (h[0]! & 0x7c00) === 0x7c00) return false;
  const words = new Uint32Array(h.buffer, h.byteOffset + 2 * start, (h.length - start) >>> 1);
  for (let i = 0; i < words.length; i++) {
    const e = words[i]! & 0x7c007c00;
    if ((e & 0x7c00) === 0x7c00 || e >>> 16 === 0x7c00) return false;
  }
  const last = h.length - 1;
  return (h.length - start) % 2 === 0 || (h[last]! & 0x7c00) !== 0x7c00;
}

/**
 * Bytes held by storages that have not been released. Storages dropped without dispose() stay
 * counted until the process ends (the GC does not report them), so measure inside tidy().
 */
const accounting = { live: 0, peak: 0 };

export function tensorMemory(): { liveBytes: number; peakBytes: number } {
  return { liveBytes: accounting.live, peakBytes: accounting.peak };
}

/** Starts a new peak measurement from the current live bytes. */
export function resetPeakTensorMemory(): void {
  accounting.peak = accounting.live;
}

class BufferPool {
  private free = new Map<string, TypedArray[]>();
  private bytes = 0;
  /** Upper bound on idle pooled bytes; beyond it released buffers are left to the GC. */
  capacityBytes = 512 * 1024 * 1024;
  hits = 0;
  misses = 0;

  /** A free buffer of `length` array elements (bytes for int4). */
  take(dtype: DType, length: number): TypedArray | undefined {
    const list = this.free.get(key(dtype, length));
    const buf = list?.pop();
    if (buf) {
      this.bytes -= buf.byteLength;
      this.hits++;
    } else this.misses++;
    return buf;
  }

  put(dtype: DType, buf: TypedArray): void {
    if (buf.length === 0 || this.bytes + buf.byteLength > this.capacityBytes) return;
    const k = key(dtype, buf.length);
    let list = this.free.get(k);
    if (!list) this.free.set(k, (list = []));
    list.push(buf);
    this.bytes += buf.byteLength;
  }

  clear(): void {
    this.free.clear();
    this.bytes = 0;
  }

  stats(): { idleBytes: number; hits: number; misses: number } {
    return { idleBytes: this.bytes, hits: this.hits, misses: this.misses };
  }
}

function key(dtype: DType, size: number): string {
  return `${dtype}:${size}`;
}

export const pool = new BufferPool();

/** Buffers that a backend allocated, with the function that takes them back. */
const owners = new WeakMap<TypedArray, (data: TypedArray) => void>();

/** Records that `free` takes `data` back when its storage is released (for backend-owned memory). */
export function registerBufferOwner(data: TypedArray, free: (data: TypedArray) => void): void {
  owners.set(data, free);
}

/** Whether `data` came from a backend's own allocator (wasm memory, read by kernels in place). */
export function isBackendBuffer(data: TypedArray): boolean {
  return owners.has(data);
}

/** Whether the current backend allocates buffers in memory of its own. */
export function backendAllocates(): boolean {
  return hasBackend() && getBackend().allocate !== undefined;
}

/**
 * A buffer for kernel output. `zero = false` is for kernels that overwrite every element;
 * a reused buffer then keeps stale values until written.
 */
export function allocate(dtype: DType, size: number, zero = true): TypedArray {
  if (hasBackend()) {
    const b = getBackend();
    const owned = b.allocate?.(dtype, size, zero);
    if (owned) {
      if (!owners.has(owned)) owners.set(owned, (d) => b.free!(d));
      return owned;
    }
  }
  const buf = size > 0 ? pool.take(dtype, storageLength(dtype, size)) : undefined;
  if (!buf) return newTypedArray(dtype, size);
  if (zero) buf.fill(0);
  return buf;
}

/** Whether a buffer came from `allocate` (and may be pooled when released). */
export function newStorage(data: TypedArray, dtype: DType, pooled = true, quant: QuantScales | null = null): Storage {
  return new Storage(data, dtype, pooled, quant);
}
