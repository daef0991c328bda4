/**
 * Backend.matmul on the wasm kernels. Operands that live in wasm memory are read in place;
 * others are copied into scratch as the storage span they cover (a transposed or broadcast
 * operand is copied as stored and read through its strides, not repacked in JS). Per-batch
 * offsets go in a table, so broadcast batches cost nothing. The work is cut into items (whole matrices, or row / column blocks of C when there
 * are fewer matrices than threads) and shared by the pool.
 */
import { sizeOf, type ComputeDType, type TypedArray, type View } from '../../tensor/index.js';
import { matmul as referenceMatmul } from '../reference/matmul.js';
import { offsetsOf } from '../reference/strided.js';
import { WasmOutOfMemory, resultF32, type OutputAlloc, type WasmRuntime } from './runtime.js';
import { JOB_GEMM, JOB_MATVEC, type ThreadPool } from './pool.js';

/** The GEMM micro-tile (assembly/gemm.ts): work blocks are whole tiles. */
const MR = 6;
const NR = 8;
/** Below this many multiply-adds the JS reference kernel wins (no copies, no dispatch). */
export const MIN_WASM_MACS = 4096;
/** Below this many multiply-adds one thread beats waking the others. */
const MIN_THREADED_MACS = 1 << 18;

interface Operand {
  ptr: number;
  /** Element offset of each batch's (0, 0) relative to ptr. */
  batchOffsets: Int32Array;
  rs: number;
  cs: number;
}

/** Copies the span of storage a matrix view touches into the arena. */
function stage(rt: WasmRuntime, v: View, batch: readonly number[]): Operand {
  const nd = v.shape.length;
  let lo = v.offset;
  let hi = v.offset;
  for (let i = 0; i < nd; i++) {
    const ext = (v.shape[i]! - 1) * v.strides[i]!;
    if (ext < 0) lo += ext;
    else hi += ext;
  }
  const span = hi - lo + 1;
  const size = sizeOf(v.shape);
  let src: View = v;
  if (span > 2 * size + 1024) {
    // sparse view (e.g. a narrow slice of a big tensor): gather it densely instead
    const offs = offsetsOf(v);
    const dense = new Float32Array(size);
    for (let i = 0; i < size; i++) dense[i] = v.data[offs ? offs[i]! : v.offset + i]!;
    const strides: number[] = [];
    let s = 1;
    for (let i = nd - 1; i >= 0; i--) {
      strides[i] = v.shape[i] === 1 ? 0 : s;
      s *= v.shape[i]!;
    }
    src = { data: dense, dtype: 'float32', shape: v.shape, strides, offset: 0 };
    lo = 0;
    hi = size - 1;
  }
  const n = src === v ? span : size;
  // Resident operands (allocated while this backend was active) are read in place.
  let ptr = rt.addressOf(src.data, lo, 4);
  if (ptr < 0) {
    ptr = rt.alloc(n * 4);
    rt.f32(ptr, n).set(src.data.subarray(lo, lo + n));
  }
  const batchView: View = { ...src, shape: batch, strides: src.strides.slice(0, nd - 2), offset: src.offset - lo };
  const table = offsetsOf(batchView) ?? Int32Array.from({ length: sizeOf(batch) }, (_, i) => batchView.offset + i);
  if (batch.length === 0) table[0] = src.offset - lo;
  return { ptr, batchOffsets: table, rs: src.strides[nd - 2]!, cs: src.strides[nd - 1]! };
}

export function wasmMatmul(rt: WasmRuntime, pool: ThreadPool, a: View, b: View, outDtype: ComputeDType, alloc: OutputAlloc): TypedArray {
  const nd = a.shape.length;
  const m = a.shape[nd - 2]!;
  const k = a.shape[nd - 1]!;
  const n = b.shape[nd - 1]!;
  const batch = a.shape.slice(0, -2);
  const nb = sizeOf(batch);
  const macs = nb * m * n * k;
  if (outDtype !== 'float32' || a.dtype !== 'float32' || b.dtype !== 'float32' || macs < MIN_WASM_MACS) {
    return referenceMatmul(a, b, outDtype);
  }
  try {
    return gemm(rt, pool, a, b, alloc, batch, nb, m, n, k);
  } catch (e) {
    // no room in wasm memory for staging (wasm32: 4 GiB): the reference kernel still works
    if (e instanceof WasmOutOfMemory) return referenceMatmul(a, b, outDtype);
    throw e;
  } finally {
    rt.reset();
  }
}

function gemm(
  rt: WasmRuntime, pool: ThreadPool, a: View, b: View, alloc: OutputAlloc, batch: readonly number[],
  nb: number, m: number, n: number, k: number,
): TypedArray {
  {
    const A = stage(rt, a, batch);
    const B = stage(rt, b, batch);
    const offA = rt.alloc(nb * 4);
    rt.i32(offA, nb).set(A.batchOffsets);
    const offB = rt.alloc(nb * 4);
    rt.i32(offB, nb).set(B.batchOffsets);
    // Decode shapes (a few rows against W^T, as in x @ W.mT): the matvec kernel reads each
    // weight once without packing.
    if (nb === 1 && m <= 8 && B.rs === 1 && B.cs === k && A.cs === 1 && A.rs === k) {
      const y = resultF32(rt, alloc, m * n);
      const ap = A.ptr + A.batchOffsets[0]! * 4;
      const bp = B.ptr + B.batchOffsets[0]! * 4;
      if (n * k < MIN_THREADED_MACS || pool.size === 1) rt.exports.matvec(ap, bp, 0, y.ptr, m, n, k, 0, k, 0, n, rt.workPointer(0), 0, 0);
      else pool.run(JOB_MATVEC, [ap, bp, 0, y.ptr, m, n, k, 0, k, n, 0, 0, 0]);
      return y.done();
    }
    // Write C straight into the result buffer when it is resident, else via scratch.
    const c = resultF32(rt, alloc, nb * m * n);
    launchGemm(rt, pool, A.ptr, offA, A.rs, A.cs, B.ptr, offB, B.rs, B.cs, c.ptr, nb, m, n, k);
    return c.done();
  }
}

/**
 * Zeroes C (nb matrices [m, n], contiguous) and runs the GEMM kernel over work items shared by
 * the pool: whole matrices when there are enough of them, else row (or column) blocks of C.
 * offA / offB point at tables of per-matrix element offsets.
 */
function launchGemm(
  rt: WasmRuntime, pool: ThreadPool, aPtr: number, offA: number, rsA: number, csA: number, bPtr: number, offB: number,
  rsB: number, csB: number, cPtr: number, nb: number, m: number, n: number, k: number,
): void {
  rt.f32(cPtr, nb * m * n).fill(0);
  const threads = nb * m * n * k < MIN_THREADED_MACS ? 1 : pool.size;
  let rowBlock = m;
  let colBlock = n;
  if (nb < threads) {
    const split = Math.ceil(threads / nb);
    // Each thread packs the whole of the operand it does not split: row blocks repack all of B
    // (k x n per thread), column blocks all of A (m x k). Split the dimension that makes the
    // repacked operand the smaller one (prefill's x @ W^T: m tokens < n outputs -> columns).
    const byRows = n < NR * split || (m >= n && m >= MR * split);
    if (byRows) rowBlock = Math.max(MR, Math.ceil(m / split / MR) * MR);
    else colBlock = Math.max(NR, Math.ceil(n / split / NR) * NR);
  }
  const items = nb * Math.ceil(m / rowBlock) * Math.ceil(n / colBlock);
  if (threads === 1) rt.exports.gemmBatched(aPtr, offA, rsA, csA, bPtr, offB, rsB, csB, cPtr, m, n, k, rowBlock, colBlock, 0, items, rt.workPointer(0));
  else pool.run(JOB_GEMM, [aPtr, offA, rsA, csA, bPtr, offB, rsB, csB, cPtr, m, n, k, rowBlock, colBlock, items]);
}

/**
 * C [m, n] (contiguous, at cPtr) = A [m, k] @ B [k, n] for one matrix whose operands are
 * already in wasm memory, read through (row, column) strides: the fused linear kernel's prefill
 * path multiplies dequantized weight rows with it. Its offset tables are scratch (freed by reset()).
 */
export function gemmResident(
  rt: WasmRuntime, pool: ThreadPool, aPtr: number, rsA: number, csA: number, bPtr: number, rsB: number, csB: number,
  cPtr: number, m: number, n: number, k: number,
): void {
  const off = rt.alloc(4);
  rt.i32(off, 1)[0] = 0;
  launchGemm(rt, pool, aPtr, off, rsA, csA, bPtr, off, rsB, csB, cPtr, 1, m, n, k);
}
