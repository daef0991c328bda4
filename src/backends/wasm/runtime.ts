/**
 * The WebAssembly runtime shared by the kernels: one WebAssembly.Memory (shared when threads are
 * available), the compiled module's exports, per-thread pack buffers, a control block for the
 * thread pool, and a scratch arena that kernel calls use for their operands and results.
 *
 * Memory map (bytes):
 *   [0, RESERVED)                 the module's own data and stack (it has none; checked at load)
 *   [CTRL, CTRL + 256)            thread-pool control block (Int32 words, see pool.ts)
 *   [WORK, WORK + T * workBytes)  one pack buffer per thread
 *   [arenaStart, ...)             scratch arena, bump-allocated per kernel call and reset after
 */
import { fail } from '../../tensor/index.js';

export const RESERVED = 64 * 1024;
export const CTRL = RESERVED;
const PAGE = 65536;

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
    si: number, sj: number, itemStart: number, itemEnd: number, work: number,
  ): void;
  attnBackward(
    q: number, k: number, v: number, out: number, lse: number, gout: number, gq: number, gk: number, gv: number,
    delta: number, hq: number, hkv: number, tq: number, tk: number, d: number, dv: number, scale: number,
    causal: number, window: number, bias: number, sb: number, sh: number, si: number, sj: number,
    itemStart: number, itemEnd: number,
  ): void;
}

export interface RuntimeOptions {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  threads: number;
}

export class WasmRuntime {
  readonly exports: KernelExports;
  readonly memory: WebAssembly.Memory;
  readonly threads: number;
  readonly workBytes: number;
  readonly arenaStart: number;
  private top: number;
  /** Highest scratch-arena use (bytes) since the last resetPeak(). */
  peakArenaBytes = 0;

  constructor(opts: RuntimeOptions) {
    const instance = new WebAssembly.Instance(opts.module, { env: { memory: opts.memory } });
    this.exports = instance.exports as unknown as KernelExports;
    this.memory = opts.memory;
    this.threads = opts.threads;
    if (this.exports.heapBase() > RESERVED) fail('wasm', `module data (${this.exports.heapBase()} bytes) exceeds the reserved ${RESERVED} bytes`);
    this.workBytes = align(this.exports.packBytes() + 1024, 64);
    this.arenaStart = align(CTRL + 256 + this.threads * this.workBytes, 64);
    this.top = this.arenaStart;
    this.ensure(this.arenaStart);
  }

  workPointer(thread: number): number {
    return CTRL + 256 + thread * this.workBytes;
  }

  /** Grows the memory so that byte `end` is addressable. */
  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch {
      fail('wasm', `cannot grow WebAssembly memory to ${end} bytes (limit 4 GiB)`);
    }
  }

  /** Scratch bytes for the current call, 64-byte aligned. */
  alloc(bytes: number): number {
    const p = align(this.top, 64);
    this.top = p + bytes;
    this.ensure(this.top);
    this.peakArenaBytes = Math.max(this.peakArenaBytes, this.top - this.arenaStart);
    return p;
  }

  /** Releases all scratch allocations (call at the end of every kernel). */
  reset(): void {
    this.top = this.arenaStart;
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, length);
  }
}

function align(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}
