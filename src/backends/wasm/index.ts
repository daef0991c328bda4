/**
 * The WebAssembly backend: SIMD128 kernels (relaxed-SIMD fused multiply-add where the runtime
 * has it) with a worker pool over shared memory. Kernels it does not implement yet fall back to
 * the reference backend, which also stays the oracle (tests/backends/wasm.test.ts runs the
 * conformance suite on it).
 */
import type { Backend } from '../../tensor/index.js';
import { referenceBackend } from '../reference/index.js';
import { wasmMatmul } from './matmul.js';
import { wasmAttention } from './attention.js';
import { loadWasm, type LoadedWasm, type SimdLevel, type WasmLoadOptions } from './load-node.js';

export interface WasmBackend extends Backend {
  readonly threads: number;
  readonly simd: SimdLevel;
  /** Stops the worker threads; the backend must not be used afterwards. */
  close(): void;
  /** Peak bytes of the kernels' scratch arena since the last call (and resets it). */
  takePeakScratchBytes(): number;
}

export function createWasmBackend(opts: WasmLoadOptions = {}): WasmBackend {
  const loaded: LoadedWasm = loadWasm(opts);
  const { runtime, pool, simd } = loaded;
  return {
    ...referenceBackend,
    name: `wasm-${simd}-${pool.size}t`,
    threads: pool.size,
    simd,
    matmul: (a, b, outDtype) => wasmMatmul(runtime, pool, a, b, outDtype),
    fused: { ...referenceBackend.fused, attention: wasmAttention(runtime, pool) },
    close: () => pool.close(),
    takePeakScratchBytes: () => {
      const p = runtime.peakArenaBytes;
      runtime.peakArenaBytes = 0;
      return p;
    },
  };
}

export { supportsRelaxedSimd, type SimdLevel, type WasmLoadOptions } from './load-node.js';
