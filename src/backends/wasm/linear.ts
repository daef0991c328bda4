/**
 * Backend.fused.linear over weights stored as f32/f16/bf16/int8/int4, read in place.
 * Decode (a few rows of x): the matvec kernel, which dequantises each weight in registers and
 * reads it once. Prefill (many rows): rows of W are dequantised to float32 a chunk at a time
 * and multiplied with the GEMM kernel, whose register blocking the matvec loop lacks; the
 * chunk bounds the scratch to a few MB whatever the matrix size.
 *
 * With activations 'q8_0' (int8/int4 weights; llama.cpp's arithmetic) x is first quantised to
 * q8_0 blocks; decode then runs integer dot products (matvecQ8), prefill the integer GEMM
 * (gemmQ8: operands widened to i16, eight products per instruction, each block's exact sum
 * scaled by dx dw), which is the same arithmetic as decode and 1.5x the f32 GEMM's rate.
 */
import { fail, sizeOf, storageLength, type FusedLinear, type FusedLinearOptions, type LinearKernelOptions, type QuantScales, type View } from '../../tensor/index.js';
import { resultF32, WasmOutOfMemory, type OutputAlloc, type WasmRuntime } from './runtime.js';
import { JOB_DEQUANT, JOB_GEMM_Q8, JOB_MATVEC, JOB_MATVEC_MANY, JOB_MATVEC_Q8, JOB_MATVEC_Q8_MANY, type ThreadPool } from './pool.js';
import { MIN_WASM_MACS, gemmResident } from './matmul.js';

const KIND = { float32: 0, float16: 1, bfloat16: 2, int8: 3, int4: 4 } as const;
const ELEM = { float32: 4, float16: 2, bfloat16: 2, int8: 1, int4: 1 } as const;
/** Below this many weights one thread is faster than waking the pool. */
const MIN_THREADED = 1 << 16;
/** From this many rows of x on, dequantise-then-GEMM beats matvec. */
const GEMM_MIN_ROWS = 16;
/** Bytes of float32 weight rows dequantised per GEMM call. */
const CHUNK_BYTES = 4 << 20;

/** The address of `count` array elements of `data` from element `offset`: in place, else a scratch copy. */
function place(rt: WasmRuntime, data: ArrayBufferView & ArrayLike<number>, offset: number, count: number, elem: number): number {
  const at = rt.addressOf(data, offset, elem);
  if (at >= 0) return at;
  const p = rt.alloc(count * elem);
  const src = new Uint8Array(data.buffer, data.byteOffset + offset * elem, count * elem);
  new Uint8Array(rt.memory.buffer, p, count * elem).set(src);
  return p;
}

export function wasmLinear(rt: WasmRuntime, pool: ThreadPool, alloc: OutputAlloc): FusedLinear {
  return {
    forward(x: View, w: View, scales: QuantScales | null, opts: FusedLinearOptions = {}) {
      const [n, k] = w.shape as [number, number];
      const m = sizeOf(x.shape) / k;
      const dtype = w.dtype as keyof typeof KIND;
      if (!(dtype in KIND)) fail('linear', `weights of dtype ${w.dtype} are not supported by the wasm kernel`);
      const quant = dtype === 'int8' || dtype === 'int4';
      if (quant && !scales) fail('linear', `${dtype} weights need their block scales`);
      try {
        const xp = place(rt, x.data, x.offset, m * k, 4);
        let sp = 0;
        let blockSize = k;
        if (scales) {
          blockSize = scales.blockSize;
          if (k % blockSize !== 0 || w.offset % blockSize !== 0) fail('linear', `block size ${blockSize} must divide the row length ${k}`);
          sp = place(rt, scales.scales, w.offset / blockSize, (n * k) / blockSize, 4);
        }
        // int4 packs two elements per byte: element offsets become byte offsets (blocks are whole bytes)
        const wp = dtype === 'int4'
          ? place(rt, w.data, w.offset / 2, storageLength('int4', n * k), 1)
          : place(rt, w.data, w.offset, n * k, ELEM[dtype]);
        const y = resultF32(rt, alloc, m * n);
        if (quant && opts.activations === 'q8_0') {
          if (k % 32 !== 0 || blockSize % 32 !== 0) fail('linear', `q8_0 activations need rows and weight blocks that are multiples of 32 (row ${k}, block ${blockSize})`);
          if (dtype === 'int4' && blockSize !== 32) fail('linear', `q8_0 activations need int4 weights in blocks of 32 (Q4_0), got blocks of ${blockSize}`);
          const xq = rt.alloc(m * k);
          const xd = rt.alloc((m * k) / 8); // one f32 per 32
          rt.exports.quantizeQ8Rows(xp, xq, xd, m, k);
          const int4 = dtype === 'int4' ? 1 : 0;
          if (m >= GEMM_MIN_ROWS && rt.exports.q8PanelBytes(k) <= rt.workBytes) {
            // the integer GEMM: x packed once for all threads, each packing its own panels of W
            const xp8 = rt.alloc(rt.exports.q8PackedABytes(m, k));
            rt.exports.packQ8A(xq, xd, m, k, xp8);
            const panels = Math.ceil(n / 8);
            if (m * n * k < MIN_THREADED * 64 || pool.size === 1) rt.exports.gemmQ8(xp8, m, k, wp, sp, KIND[dtype], blockSize, y.ptr, n, 0, panels, rt.workPointer(0));
            else pool.run(JOB_GEMM_Q8, [xp8, m, k, wp, sp, KIND[dtype], blockSize, y.ptr, n]);
          } else if (m >= GEMM_MIN_ROWS) {
            const xf = rt.alloc(m * k * 4);
            rt.exports.dequantQ8Rows(xq, xd, xf, m, k);
            prefill(rt, pool, xf, wp, sp, y.ptr, m, n, k, KIND[dtype], blockSize, dtype === 'int4' ? k / 2 : k);
          } else {
            // the relaxed build's dot product wants the activations rearranged (once per call)
            const xaBytes = ((m * k) / 32) * rt.exports.q8ActBlockBytes(int4); // 0: the plain build reads xq
            const xa = xaBytes > 0 ? rt.alloc(xaBytes) : 0;
            rt.exports.prepareQ8Act(xq, xa, m, k, int4);
            if (n * k < MIN_THREADED || pool.size === 1) rt.exports.matvecQ8(xq, xd, xa, wp, sp, y.ptr, m, n, k, KIND[dtype], blockSize, 0, n);
            else pool.run(JOB_MATVEC_Q8, [xq, xd, xa, wp, sp, y.ptr, m, n, k, KIND[dtype], blockSize]);
          }
          return y.done();
        }
        if (m >= GEMM_MIN_ROWS) {
          prefill(rt, pool, xp, wp, sp, y.ptr, m, n, k, KIND[dtype], blockSize, dtype === 'int4' ? k / 2 : k * ELEM[dtype]);
          return y.done();
        }
        // with several rows, quantised weight rows are dequantised once into the thread's work buffer
        const useTmp = quant && m > 1 && k * 4 <= rt.workBytes;
        // half-precision weights: x rearranged once so the kernel converts weights without unpacking
        let xh = 0;
        if (dtype === 'float16' || dtype === 'bfloat16') {
          xh = rt.alloc(m * k * 4);
          if (!rt.exports.prepareHalfAct(xp, xh, m, k, dtype === 'bfloat16' ? 1 : 0)) xh = 0;
        }
        const finite = opts.finiteWeights ? 1 : 0;
        if (n * k < MIN_THREADED || pool.size === 1) {
          rt.exports.matvec(xp, wp, sp, y.ptr, m, n, k, KIND[dtype], blockSize, 0, n, useTmp ? rt.workPointer(0) : 0, xh, finite);
        } else {
          pool.run(JOB_MATVEC, [xp, wp, sp, y.ptr, m, n, k, KIND[dtype], blockSize, n, useTmp ? 1 : 0, xh, finite]);
        }
        return y.done();
      } catch (e) {
        // no room in wasm memory for the kernel's scratch: ops.linear takes the composed path
        if (e instanceof WasmOutOfMemory) return null;
        throw e;
      } finally {
        rt.reset();
      }
    },

    forwardMany(x: View, weights: readonly { w: View; scales: QuantScales | null; finite?: boolean }[], opts: LinearKernelOptions = {}) {
      const first = weights[0]!.w;
      const k = first.shape[1]!;
      const m = sizeOf(x.shape) / k;
      const dtype = first.dtype as keyof typeof KIND;
      // prefill goes through the GEMM per weight, and one thread gains nothing from one dispatch
      if (!(dtype in KIND) || m >= GEMM_MIN_ROWS || pool.size === 1) return null;
      // float32 weights stand in for matmul, which leaves products this small to the reference kernels
      if (dtype === 'float32' && weights.some(({ w }) => m * w.shape[0]! * k < MIN_WASM_MACS)) return null;
      const quant = dtype === 'int8' || dtype === 'int4';
      const blockSize = weights[0]!.scales?.blockSize ?? k;
      for (const { w, scales } of weights) {
        if (w.dtype !== dtype || w.shape[1] !== k || (scales?.blockSize ?? k) !== blockSize || (quant && !scales)) {
          fail('linear', 'forwardMany needs weights of one dtype, row length and block size, with their block scales');
        }
        if (k % blockSize !== 0 || w.offset % blockSize !== 0) fail('linear', `block size ${blockSize} must divide the row length ${k}`);
      }
      try {
        const xp = place(rt, x.data, x.offset, m * k, 4);
        const outs = weights.map(({ w }) => resultF32(rt, alloc, m * w.shape[0]!));
        const table = rt.alloc(16 * weights.length);
        const entries = rt.i32(table, 4 * weights.length);
        let rows = 0;
        weights.forEach(({ w, scales }, i) => {
          const n = w.shape[0]!;
          entries[4 * i] = dtype === 'int4'
            ? place(rt, w.data, w.offset / 2, storageLength('int4', n * k), 1)
            : place(rt, w.data, w.offset, n * k, ELEM[dtype]);
          entries[4 * i + 1] = scales ? place(rt, scales.scales, w.offset / blockSize, (n * k) / blockSize, 4) : 0;
          entries[4 * i + 2] = outs[i]!.ptr;
          entries[4 * i + 3] = n;
          rows += n;
        });
        if (quant && opts.activations === 'q8_0') {
          if (k % 32 !== 0 || blockSize % 32 !== 0) fail('linear', `q8_0 activations need rows and weight blocks that are multiples of 32 (row ${k}, block ${blockSize})`);
          const int4 = dtype === 'int4' ? 1 : 0;
          if (int4 && blockSize !== 32) fail('linear', `q8_0 activations need int4 weights in blocks of 32 (Q4_0), got blocks of ${blockSize}`);
          const xq = rt.alloc(m * k);
          const xd = rt.alloc((m * k) / 8);
          rt.exports.quantizeQ8Rows(xp, xq, xd, m, k);
          const xaBytes = ((m * k) / 32) * rt.exports.q8ActBlockBytes(int4); // 0: the plain build reads xq
          const xa = xaBytes > 0 ? rt.alloc(xaBytes) : 0;
          rt.exports.prepareQ8Act(xq, xa, m, k, int4);
          pool.run(JOB_MATVEC_Q8_MANY, [xq, xd, xa, table, weights.length, m, k, KIND[dtype], blockSize, rows]);
        } else {
          const useTmp = quant && m > 1 && k * 4 <= rt.workBytes;
          let xh = 0;
          if (dtype === 'float16' || dtype === 'bfloat16') {
            xh = rt.alloc(m * k * 4);
            if (!rt.exports.prepareHalfAct(xp, xh, m, k, dtype === 'bfloat16' ? 1 : 0)) xh = 0;
          }
          const finite = weights.every((e) => e.finite) ? 1 : 0;
          pool.run(JOB_MATVEC_MANY, [xp, table, weights.length, m, k, KIND[dtype], blockSize, rows, useTmp ? 1 : 0, xh, finite]);
        }
        return outs.map((o) => o.done());
      } catch (e) {
        if (e instanceof WasmOutOfMemory) return null;
        throw e;
      } finally {
        rt.reset();
      }
    },
  };
}

/**
 * y [m, n] = x [m, k] @ W^T for many rows of x: W's rows are converted to float32 `rows` at a
 * time (threaded), multiplied as C [m, rows] = x @ chunk^T by the GEMM kernel, and copied into
 * their columns of y.
 */
function prefill(
  rt: WasmRuntime, pool: ThreadPool, xp: number, wp: number, sp: number, yp: number, m: number, n: number, k: number,
  kind: number, blockSize: number, rowBytes: number,
): void {
  const rows = Math.min(n, Math.max(8, Math.floor(CHUNK_BYTES / (k * 4) / 8) * 8));
  const chunk = rt.alloc(rows * k * 4);
  const c = rt.alloc(m * rows * 4);
  const scalesPerRow = k / blockSize;
  for (let r0 = 0; r0 < n; r0 += rows) {
    const nr = Math.min(rows, n - r0);
    const w = wp + r0 * rowBytes;
    const s = sp ? sp + r0 * scalesPerRow * 4 : 0;
    if (nr * k < MIN_THREADED || pool.size === 1) rt.exports.dequantRows(w, s, chunk, k, kind, blockSize, 0, nr);
    else pool.run(JOB_DEQUANT, [w, s, chunk, k, kind, blockSize, nr]);
    // B = chunk^T: element (kk, j) at chunk + (j k + kk)
    gemmResident(rt, pool, xp, k, 1, chunk, 1, k, c, m, nr, k);
    // views made after the kernel's scratch allocations (growing an unshared memory detaches old views)
    const y = rt.f32(yp, m * n);
    const cv = rt.f32(c, m * nr);
    for (let i = 0; i < m; i++) y.set(cv.subarray(i * nr, (i + 1) * nr), i * n + r0);
  }
}
