/**
 * Node loader for the wasm backend: reads the compiled kernels from dist/wasm, detects relaxed
 * SIMD (enabling V8's flag on Node 20, where it is still experimental), creates the shared
 * memory and starts the worker threads.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { fail } from '../../tensor/index.js';
import { WasmRuntime } from './runtime.js';
import { AtomicsPool, InlinePool, controlBlock, type ThreadPool } from './pool.js';

export type SimdLevel = 'relaxed-simd' | 'simd';

export interface WasmLoadOptions {
  /** Worker threads including the caller; default: the machine's available parallelism. */
  threads?: number;
  /** Force the plain SIMD build even when relaxed SIMD is available. */
  simd?: SimdLevel;
  /** Upper bound of the wasm memory in MiB (default and maximum: 4096, wasm32's limit). */
  maxMemoryMiB?: number;
}

export interface LoadedWasm {
  runtime: WasmRuntime;
  pool: ThreadPool;
  simd: SimdLevel;
}

function wasmBytes(variant: SimdLevel): Uint8Array {
  const url = new URL(`../../../wasm/attn-${variant}.wasm`, import.meta.url);
  try {
    return readFileSync(url);
  } catch {
    fail('wasm', `kernel binary ${url.pathname} is missing; run 'npm run build'`);
  }
}

let relaxedSupported: boolean | null = null;

/** Whether this runtime validates the relaxed-SIMD build (trying V8's flag on older Node). */
export function supportsRelaxedSimd(): boolean {
  if (relaxedSupported !== null) return relaxedSupported;
  const bytes = wasmBytes('relaxed-simd');
  relaxedSupported = WebAssembly.validate(bytes);
  if (!relaxedSupported) {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    relaxedSupported = WebAssembly.validate(bytes);
  }
  return relaxedSupported;
}

export function loadWasm(opts: WasmLoadOptions = {}): LoadedWasm {
  const threads = Math.max(1, Math.floor(opts.threads ?? availableParallelism()));
  const simd: SimdLevel = opts.simd ?? (supportsRelaxedSimd() ? 'relaxed-simd' : 'simd');
  const module = new WebAssembly.Module(wasmBytes(simd));
  const maxMiB = opts.maxMemoryMiB ?? 4096;
  if (!(Number.isInteger(maxMiB) && maxMiB >= 16 && maxMiB <= 4096)) fail('wasm', `maxMemoryMiB must be an integer in [16, 4096], got ${maxMiB}`);
  const memory = new WebAssembly.Memory({ initial: 64, maximum: maxMiB * 16, shared: true });
  const runtime = new WasmRuntime({ module, memory, threads, maxBytes: maxMiB * 2 ** 20 });
  controlBlock(runtime).fill(0);
  if (threads === 1) return { runtime, pool: new InlinePool(runtime), simd };
  const workers: Worker[] = [];
  for (let index = 1; index < threads; index++) {
    const w = new Worker(new URL('./worker-node.js', import.meta.url), { workerData: { module, memory, threads, index } });
    w.unref(); // idle workers never keep the process alive
    workers.push(w);
  }
  const pool = new AtomicsPool(runtime, threads, () => {
    for (const w of workers) void w.terminate();
  });
  return { runtime, pool, simd };
}
