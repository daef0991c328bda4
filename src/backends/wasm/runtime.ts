/**
 * The WebAssembly runtime shared by the kernels: one WebAssembly.Memory (shared when threads are
 * available), the compiled module's exports, per-thread pack buffers, a control block for the
 * thread pool, and a heap for everything else: tensors allocated while this backend is active
 * (so kernels read and write them in place) and per-call scratch.
 *
 * Memory map (bytes):
 *   [0, RESERVED)                 the module's own data (a few tables; checked at load)
 *   [CTRL, CTRL + 256)            thread-pool control block (Int32 words, see pool.ts)
 *   [WORK, WORK + T * workBytes)  one pack buffer per thread
 *   [heapStart, ...)              the heap: exact-size free lists over a bump pointer
 */
import { allocate, fail, type DType, type TypedArray } from '../../tensor/index.js';

/** Allocates a kernel's output in the backend's own memory (null when it cannot host tensors). */
export type OutputAlloc = (dtype: DType, size: number, zero: boolean) => TypedArray | null;

/**
 * A float32 result of n elements and the address a kernel should write it to: the buffer itself
 * when it is resident, else scratch that done() copies back. Call done() after the kernel.
 */
export function resultF32(rt: WasmRuntime, alloc: OutputAlloc, n: number): { ptr: number; done(): TypedArray } {
  const out = output(alloc, 'float32', n, false);
  const at = rt.addressOf(out, 0, 4);
  const ptr = at >= 0 ? at : rt.alloc(n * 4);
  return { ptr, done: () => (at >= 0 ? out : (out.set(rt.f32(ptr, n)), out)) };
}

/** A kernel output buffer: in this backend's memory when possible, else an ordinary one. */
export function output(alloc: OutputAlloc, dtype: DType, size: number, zero: boolean): TypedArray {
  return alloc(dtype, size, zero) ?? allocate(dtype, size, zero);
}

export const RESERVED = 64 * 1024;

/** Thrown when the memory cannot grow (wasm32 is limited to 4 GiB); callers fall back. */
export class WasmOutOfMemory extends Error {
  constructor(bytes: number, maxBytes: number) {
    super(`wasm: cannot grow WebAssembly memory to ${bytes} bytes (its maximum is ${maxBytes} bytes${maxBytes >= 2 ** 32 ? ', wasm32\'s 4 GiB' : ''})`);
    this.name = 'WasmOutOfMemory';
  }
}
export const CTRL = RESERVED;
const PAGE = 65536;
const ALIGN = 64;

export interface KernelExports {
  packBytes(): number;
  heapBase(): number;
  gemmRegion(
    a: number, rsA: number, csA: number, b: number, rsB: number, csB: number, c: number, ldc: number,
    k: number, m0: number, m1: number, n0: number, n1: number, work: number,
  ): void;
  gemmBatched(
    a: number, offA: number, rsA: number, csA: number, b: number, offB: number, rsB: number, csB: number,
    c: number, m: number, n: number, k: number, rowBlock: number, colBlock: number, itemStart: number, itemEnd: number,
    work: number,
  ): void;
  attnForward(
    q: number, k: number, v: number, out: number, lse: number, hq: number, hkv: number, tq: number, tk: number,
    d: number, dv: number, scale: number, causal: number, window: number, bias: number, sb: number, sh: number,
    si: number, sj: number, ksb: number, ksh: number, vsb: number, vsh: number, itemStart: number, itemEnd: number, work: number,
    stats: number,
  ): void;
  attnBackward(
    q: number, k: number, v: number, out: number, lse: number, gout: number, gq: number, gk: number, gv: number,
    delta: number, hq: number, hkv: number, tq: number, tk: number, d: number, dv: number, scale: number,
    causal: number, window: number, bias: number, sb: number, sh: number, si: number, sj: number,
    itemStart: number, itemEnd: number, work: number,
  ): void;
  matvec(
    x: number, w: number, scales: number, y: number, m: number, n: number, k: number, kind: number, blockSize: number,
    rowStart: number, rowEnd: number, tmp: number, xh: number, finite: number,
  ): void;
  /** x rows for matvec's fast f16/bf16 path; 0 when x cannot take it (f16 and a finite |x| >= 2^16). */
  prepareHalfAct(x: number, out: number, rows: number, k: number, bf16: number): number;
  /** 1 when one of the n halves at p is Inf/NaN (exponent 31), else 0. */
  halfSpecialAny(p: number, n: number): number;
  readSum(p: number, n: number): number;
  dequantRows(w: number, scales: number, out: number, k: number, kind: number, blockSize: number, rowStart: number, rowEnd: number): void;
  quantizeQ8Rows(x: number, q: number, d: number, rows: number, k: number): void;
  dequantQ8Rows(q: number, d: number, out: number, rows: number, k: number): void;
  /** Bytes of prepared q8 activations per 32-element block; 0 in the plain SIMD build (no xa needed). */
  q8ActBlockBytes(int4: number): number;
  prepareQ8Act(xq: number, xa: number, rows: number, k: number, int4: number): void;
  matvecQ8(
    xq: number, xd: number, xa: number, w: number, scales: number, y: number, m: number, n: number, k: number, kind: number, blockSize: number,
    rowStart: number, rowEnd: number,
  ): void;
  q8PackedABytes(m: number, k: number): number;
  q8PanelBytes(k: number): number;
  packQ8A(xq: number, xd: number, m: number, k: number, out: number): void;
  gemmQ8(
    ap: number, m: number, k: number, w: number, scales: number, kind: number, blockSize: number, y: number, n: number,
    panelStart: number, panelEnd: number, work: number,
  ): void;
  unaryF32(op: number, x: number, y: number, n: number): void;
  binaryF32(op: number, a: number, b: number, y: number, n: number, layout: number, inner: number): void;
  softmaxForward(x: number, y: number, rows: number, c: number, log: number): void;
  softmaxBackward(y: number, gy: number, gx: number, rows: number, c: number, log: number): void;
  normForward(x: number, w: number, b: number, y: number, mean: number, rstd: number, rows: number, c: number, eps: number, centered: number): void;
  normBackward(gy: number, x: number, w: number, mean: number, rstd: number, gx: number, gw: number, gb: number, rows: number, c: number, centered: number): void;
  crossEntropyForward(logits: number, targets: number, loss: number, lse: number, rows: number, c: number, ignoreIndex: number, eps: number): number;
  rope(x: number, cos: number, sin: number, y: number, outer: number, t: number, d: number, interleaved: number, sign: number): void;
  gatherRows(table: number, ids: number, y: number, n: number, vocab: number, d: number): number;
  scatterAddRows(table: number, ids: number, src: number, n: number, vocab: number, d: number): number;
  geluForward(x: number, y: number, n: number, tanhForm: number): void;
  geluBackward(x: number, gy: number, gx: number, n: number, tanhForm: number): void;
  swigluForward(gate: number, up: number, y: number, n: number): void;
  swigluBackward(gate: number, up: number, gy: number, gGate: number, gUp: number, n: number): void;
  crossEntropyBackward(logits: number, targets: number, lse: number, gLoss: number, gx: number, rows: number, c: number, ignoreIndex: number, eps: number): void;
}

export interface RuntimeOptions {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  threads: number;
  /** The memory's maximum in bytes (for error messages); default wasm32's 4 GiB. */
  maxBytes?: number;
}

export interface HeapStats {
  /** Bytes between the heap start and the bump pointer. */
  heapBytes: number;
  /** Of those, bytes on the free lists. */
  freeBytes: number;
  /** Highest scratch use of a single kernel call since the last takePeakScratch(). */
  peakScratchBytes: number;
}

export class WasmRuntime {
  readonly exports: KernelExports;
  readonly memory: WebAssembly.Memory;
  readonly threads: number;
  readonly workBytes: number;
  readonly heapStart: number;
  readonly maxBytes: number;
  private top: number;
  /** Free blocks by start and by end address (for merging neighbours), and binned by size. */
  private readonly freeAt = new Map<number, number>();
  private readonly freeEndingAt = new Map<number, number>();
  /** bins[i]: [ptr, size] of free blocks with binOf(size) = i; entries whose block was merged away are skipped. */
  private readonly bins: [number, number][][] = [];
  private freeBytes = 0;
  /** Every ArrayBuffer object this memory has exposed (a grow gives a new one). */
  private readonly buffers = new WeakSet<object>();
  private scratch: [number, number][] = [];
  private scratchBytes = 0;
  private peakScratch = 0;

  constructor(opts: RuntimeOptions) {
    const instance = new WebAssembly.Instance(opts.module, { env: { memory: opts.memory } });
    this.exports = instance.exports as unknown as KernelExports;
    this.memory = opts.memory;
    this.threads = opts.threads;
    this.maxBytes = opts.maxBytes ?? 2 ** 32;
    if (this.exports.heapBase() > RESERVED) fail('wasm', `module data (${this.exports.heapBase()} bytes) exceeds the reserved ${RESERVED} bytes`);
    this.workBytes = align(this.exports.packBytes() + 1024);
    this.heapStart = align(CTRL + 256 + this.threads * this.workBytes);
    this.top = this.heapStart;
    this.ensure(this.heapStart);
  }

  workPointer(thread: number): number {
    return CTRL + 256 + thread * this.workBytes;
  }

  /** Grows the memory so that byte `end` is addressable. */
  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE));
      } catch {
        throw new WasmOutOfMemory(end, this.maxBytes);
      }
    }
    this.buffers.add(this.memory.buffer);
  }

  /**
   * A heap block of at least `bytes` bytes, 64-byte aligned: the first free block of a size bin
   * that fits (split, the rest staying free), else a new block from the top of the heap.
   */
  malloc(bytes: number): number {
    const size = sizeClass(bytes);
    for (let i = binOf(size); i < this.bins.length; i++) {
      const bin = this.bins[i];
      while (bin && bin.length > 0) {
        const [ptr, blockSize] = bin.pop()!;
        if (this.freeAt.get(ptr) !== blockSize) continue; // merged into a neighbour since
        if (blockSize < size) { bin.push([ptr, blockSize]); break; } // (only in the request's own bin)
        this.takeFree(ptr, blockSize);
        if (blockSize > size) this.putFree(ptr + size, blockSize - size);
        return ptr;
      }
    }
    const p = this.top;
    this.ensure(p + size);
    this.top = p + size;
    return p;
  }

  /** Returns a block; free neighbours merge with it, and a block that reaches the top lowers it. */
  mfree(ptr: number, bytes: number): void {
    let start = ptr;
    let size = sizeClass(bytes);
    const after = this.freeAt.get(start + size);
    if (after !== undefined) {
      this.takeFree(start + size, after);
      size += after;
    }
    const before = this.freeEndingAt.get(start);
    if (before !== undefined) {
      const beforeSize = this.freeAt.get(before)!;
      this.takeFree(before, beforeSize);
      start = before;
      size += beforeSize;
    }
    if (start + size === this.top) this.top = start;
    else this.putFree(start, size);
  }

  private putFree(ptr: number, size: number): void {
    this.freeAt.set(ptr, size);
    this.freeEndingAt.set(ptr + size, ptr);
    const i = binOf(size);
    while (this.bins.length <= i) this.bins.push([]);
    this.bins[i]!.push([ptr, size]);
    this.freeBytes += size;
  }

  private takeFree(ptr: number, size: number): void {
    this.freeAt.delete(ptr);
    this.freeEndingAt.delete(ptr + size);
    this.freeBytes -= size;
  }

  /** Scratch bytes for the current kernel call; all of it is freed by reset(). */
  alloc(bytes: number): number {
    const p = this.malloc(bytes);
    this.scratch.push([p, bytes]);
    this.scratchBytes += sizeClass(bytes);
    this.peakScratch = Math.max(this.peakScratch, this.scratchBytes);
    return p;
  }

  reset(): void {
    for (const [p, b] of this.scratch) this.mfree(p, b);
    this.scratch = [];
    this.scratchBytes = 0;
  }

  /** Byte address of element `offset` of `data` if it lives in this memory, else -1. */
  addressOf(data: ArrayBufferView, offset: number, bytesPerElement: number): number {
    if (data.buffer === this.memory.buffer) this.buffers.add(data.buffer);
    return this.buffers.has(data.buffer) ? data.byteOffset + offset * bytesPerElement : -1;
  }

  /**
   * The address of `n` contiguous float32 elements starting at element `offset` of `data`: in
   * place when they live in this memory, else a scratch copy (freed by reset()).
   */
  stageF32(data: ArrayBufferView & ArrayLike<number>, offset: number, n: number): number {
    const at = this.addressOf(data, offset, 4);
    if (at >= 0) return at;
    const p = this.alloc(n * 4);
    this.f32(p, n).set((data as Float32Array).subarray(offset, offset + n));
    return p;
  }

  f32(ptr: number, length: number): Float32Array {
    this.buffers.add(this.memory.buffer);
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, length);
  }

  stats(): HeapStats {
    return { heapBytes: this.top - this.heapStart, freeBytes: this.freeBytes, peakScratchBytes: this.peakScratch };
  }

  takePeakScratch(): number {
    const p = this.peakScratch;
    this.peakScratch = 0;
    return p;
  }
}

function align(x: number): number {
  return Math.ceil(x / ALIGN) * ALIGN;
}

/**
 * The block size a request of `bytes` gets: exact (64-byte aligned) up to 4 KiB, above that the
 * next of eight sizes per power of two (at most 12.5% unused). With merging of free neighbours
 * and splitting, a sequence of slightly larger requests (an uncached sequence or attention
 * scratch growing by a token per step) reuses the memory earlier steps freed; exact-size free
 * lists alone grew the heap quadratically with the sequence length.
 */
/** The bin of a free block: bins hold blocks in [class i, class i + 1), so any block from the bin of a request's class upward fits. */
function binOf(size: number): number {
  if (size <= 4096) return size / ALIGN - 1;
  const e = Math.floor(Math.log2(size));
  return 64 + (e - 12) * 8 + Math.floor((size / 2 ** e - 1) * 8);
}

export function sizeClass(bytes: number): number {
  const b = align(Math.max(bytes, 1));
  if (b <= 4096) return b;
  const step = 2 ** (Math.floor(Math.log2(b - 1)) - 3); // an eighth of the power of two below
  return Math.ceil(b / step) * step;
}
