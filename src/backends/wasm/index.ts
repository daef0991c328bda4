/**
 * The WebAssembly backend: SIMD128 kernels (relaxed-SIMD fused multiply-add where the runtime
 * has it) with a worker pool over shared memory. Kernels it does not implement yet fall back to
 * the reference backend, which also stays the oracle (tests/backends/wasm.test.ts runs the
 * conformance suite on it).
 */
import { bytesPerElement, registerBufferOwner, storageLength, type Backend, type DType, type TypedArray } from '../../tensor/index.js';
import { WasmOutOfMemory, type HeapStats } from './runtime.js';
import { referenceBackend } from '../reference/index.js';
import { wasmMatmul } from './matmul.js';
import { wasmAttention } from './attention.js';
import { wasmLinear } from './linear.js';
import { wasmElementwise } from './elementwise.js';
import { wasmRowKernels } from './rows.js';
import { wasmRope } from './rope.js';
import { wasmEmbedding } from './embedding.js';
import { wasmGelu, wasmSwiglu } from './activations.js';
import { CHUNKS_PER_THREAD, JOB_READ } from './pool.js';
import { loadWasm, type LoadedWasm, type SimdLevel, type WasmLoadOptions } from './load-node.js';

export interface WasmBackend extends Backend {
  readonly threads: number;
  readonly simd: SimdLevel;
  /** Stops the worker threads; the backend must not be used afterwards. */
  close(): void;
  /** Peak bytes of the kernels' scratch arena since the last call (and resets it). */
  takePeakScratchBytes(): number;
  memoryStats(): HeapStats;
  /** Sums a resident float32 buffer with all threads: a plain memory read (benchmark yardstick). */
  readBandwidthProbe(data: Float32Array): number;
}

export function createWasmBackend(opts: WasmLoadOptions = {}): WasmBackend {
  const loaded: LoadedWasm = loadWasm(opts);
  const { runtime, pool, simd } = loaded;
  const shared = typeof SharedArrayBuffer !== 'undefined' && runtime.memory.buffer instanceof SharedArrayBuffer;
  const free = (data: TypedArray) => runtime.mfree(data.byteOffset, data.byteLength);
  /** A buffer in this backend's memory, returned to its heap when its storage is released. */
  const alloc = (dtype: DType, size: number, zero: boolean): TypedArray | null => {
    if (!shared) return null;
    let ptr: number;
    try {
      ptr = runtime.malloc(Math.ceil(size * bytesPerElement(dtype)));
    } catch (e) {
      if (e instanceof WasmOutOfMemory) return null; // the tensor lives in ordinary memory instead
      throw e;
    }
    const arr = typedView(runtime.memory.buffer, dtype, ptr, size);
    runtime.addressOf(arr, 0, 1); // registers the current buffer object
    if (zero) arr.fill(0);
    registerBufferOwner(arr, free);
    return arr;
  };
  return {
    ...referenceBackend,
    name: `wasm-${simd}-${pool.size}t`,
    threads: pool.size,
    simd,
    ...wasmElementwise(runtime, referenceBackend, alloc),
    ...wasmEmbedding(runtime, referenceBackend, alloc),
    matmul: (a, b, outDtype) => wasmMatmul(runtime, pool, a, b, outDtype, alloc),
    fused: { ...wasmRowKernels(runtime, referenceBackend.fused, alloc), attention: wasmAttention(runtime, pool, alloc), linear: wasmLinear(runtime, pool, alloc), rope: wasmRope(runtime, alloc, referenceBackend), gelu: wasmGelu(runtime, alloc), swiglu: wasmSwiglu(runtime, alloc) },
    readBandwidthProbe: (data: Float32Array) => {
      const at = runtime.addressOf(data, 0, 4);
      if (at < 0) throw new Error('readBandwidthProbe: the buffer is not in this backend\'s memory');
      // one float per chunk, at most CHUNKS_PER_THREAD per thread; unclaimed slots stay 0
      const slots = pool.size * CHUNKS_PER_THREAD;
      const results = runtime.alloc(slots * 4);
      try {
        runtime.f32(results, slots).fill(0);
        pool.run(JOB_READ, [at, data.length, results]);
        return runtime.f32(results, slots).reduce((a, b) => a + b, 0);
      } finally {
        runtime.reset();
      }
    },
    halfFinite: (data: Uint16Array) => {
      const at = runtime.addressOf(data, 0, 2);
      return at < 0 ? null : runtime.exports.halfSpecialAny(at, data.length) === 0;
    },
    close: () => pool.close(),
    takePeakScratchBytes: () => runtime.takePeakScratch(),
    memoryStats: () => runtime.stats(),
    // Tensors live in wasm memory, so kernels use them in place (single-threaded memories
    // can be detached by growth, so only shared memory hosts tensors).
    allocate: shared ? alloc : undefined,
    free,
  };
}

function typedView(buffer: ArrayBufferLike, dtype: DType, ptr: number, size: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, ptr, size);
    case 'float64': return new Float64Array(buffer, ptr, size);
    case 'int32': return new Int32Array(buffer, ptr, size);
    case 'bool': return new Uint8Array(buffer, ptr, size);
    case 'float16': case 'bfloat16': return new Uint16Array(buffer, ptr, size);
    case 'int8': return new Int8Array(buffer, ptr, size);
    case 'int4': return new Uint8Array(buffer, ptr, storageLength(dtype, size));
  }
}

export { supportsRelaxedSimd, type SimdLevel, type WasmLoadOptions } from './load-node.js';
