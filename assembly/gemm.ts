// f32 GEMM for WebAssembly SIMD (AssemblyScript), in the GotoBLAS/BLIS structure:
//   C[m x n] (+)= A[m x k] * B[k x n]
// A and B are read through (row stride, column stride) so transposed operands need no copy;
// blocks of A are packed into MR-row panels and blocks of B into NR-column panels, both
// zero-padded, so that the 6x8 micro-kernel streams both panels with unit stride and keeps the
// C tile in 12 f32x4 registers. Cache blocking: KC (depth), MC (rows of A per L2 block),
// NC (columns of B per L3 block). With relaxed SIMD the update is a fused multiply-add.
//
// The module owns no data: every pointer is a byte offset into the (shared) memory that the JS
// side manages. No static data, so several threads can instantiate it on one memory.

import { madd } from './simd';

const MR: i32 = 6;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 96;
const NC: i32 = 2048;

/** Bytes of pack buffer one thread needs (A block + B block). */
export function packBytes(): i32 {
  return (MC * KC + KC * NC) * 4;
}

export function heapBase(): usize {
  return __heap_base;
}

// Pack rows [0, mc) x cols [0, kc) of A (at `a`, strides in elements) into MR-row panels:
// panel i holds, for each p, the MR values A[i*MR + r, p].
function packA(dst: usize, a: usize, rsA: i32, csA: i32, mc: i32, kc: i32): void {
  for (let ip = 0; ip < mc; ip += MR) {
    const rows = min(MR, mc - ip);
    const base = a + (<usize>(ip * rsA) << 2);
    if (rows == MR && csA == 1) {
      for (let p = 0; p < kc; p++) {
        const src = base + (<usize>p << 2);
        store<f32>(dst, load<f32>(src));
        store<f32>(dst, load<f32>(src + (<usize>rsA << 2)), 4);
        store<f32>(dst, load<f32>(src + (<usize>(2 * rsA) << 2)), 8);
        store<f32>(dst, load<f32>(src + (<usize>(3 * rsA) << 2)), 12);
        store<f32>(dst, load<f32>(src + (<usize>(4 * rsA) << 2)), 16);
        store<f32>(dst, load<f32>(src + (<usize>(5 * rsA) << 2)), 20);
        dst += 24;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < MR; r++) {
          store<f32>(dst, r < rows ? load<f32>(base + (<usize>(r * rsA + p * csA) << 2)) : <f32>0);
          dst += 4;
        }
      }
    }
  }
}

// Pack rows [0, kc) x cols [0, nc) of B into NR-column panels: panel j holds, for each p,
// the NR values B[p, j*NR + c].
function packB(dst: usize, b: usize, rsB: i32, csB: i32, kc: i32, nc: i32): void {
  for (let jp = 0; jp < nc; jp += NR) {
    const cols = min(NR, nc - jp);
    const base = b + (<usize>(jp * csB) << 2);
    if (cols == NR && csB == 1) {
      for (let p = 0; p < kc; p++) {
        const src = base + (<usize>(p * rsB) << 2);
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        dst += 32;
      }
    } else if (cols == NR && rsB == 1) {
      // B = W^T (x @ W.mT, the linear layers): column j is a contiguous row of W. Four depths
      // of four columns are loaded as rows and transposed in registers.
      const cs = <usize>csB << 2;
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const src = base + <usize>(p << 2);
        transpose4(src, cs, dst);
        transpose4(src + 4 * cs, cs, dst + 16);
        dst += 4 * NR * 4;
      }
      for (; p < kc; p++) {
        for (let c = 0; c < NR; c++) store<f32>(dst + <usize>(c << 2), load<f32>(base + <usize>(p << 2) + <usize>c * cs));
        dst += NR * 4;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let c = 0; c < NR; c++) {
          store<f32>(dst, c < cols ? load<f32>(base + (<usize>(p * rsB + c * csB) << 2)) : <f32>0);
          dst += 4;
        }
      }
    }
  }
}

// Four rows of four floats (row r at src + r * stride) stored transposed: row p of the result
// (the four values at column p) goes to dst + p * NR * 4.
// @ts-ignore: decorator
@inline function transpose4(src: usize, stride: usize, dst: usize): void {
  const r0 = v128.load(src);
  const r1 = v128.load(src + stride);
  const r2 = v128.load(src + 2 * stride);
  const r3 = v128.load(src + 3 * stride);
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5); // a0 b0 a1 b1
  const t1 = i32x4.shuffle(r2, r3, 0, 4, 1, 5); // c0 d0 c1 d1
  const t2 = i32x4.shuffle(r0, r1, 2, 6, 3, 7); // a2 b2 a3 b3
  const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7); // c2 d2 c3 d3
  v128.store(dst, i64x2.shuffle(t0, t1, 0, 2));
  v128.store(dst, i64x2.shuffle(t0, t1, 1, 3), NR * 4);
  v128.store(dst, i64x2.shuffle(t2, t3, 0, 2), NR * 8);
  v128.store(dst, i64x2.shuffle(t2, t3, 1, 3), NR * 12);
}


// @ts-ignore: decorator
@inline function addTo(p: usize, v: v128): void {
  v128.store(p, f32x4.add(v128.load(p), v));
}

// C[rows x cols] += Apanel * Bpanel over depth kc; C has row stride ldc (elements).
// Partial tiles go through `tmp` (MR*NR floats).
function micro(kc: i32, a: usize, b: usize, c: usize, ldc: i32, rows: i32, cols: i32, tmp: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let av = v128.load32_splat(a);
    c00 = madd(av, b0, c00); c01 = madd(av, b1, c01);
    av = v128.load32_splat(a, 4);
    c10 = madd(av, b0, c10); c11 = madd(av, b1, c11);
    av = v128.load32_splat(a, 8);
    c20 = madd(av, b0, c20); c21 = madd(av, b1, c21);
    av = v128.load32_splat(a, 12);
    c30 = madd(av, b0, c30); c31 = madd(av, b1, c31);
    av = v128.load32_splat(a, 16);
    c40 = madd(av, b0, c40); c41 = madd(av, b1, c41);
    av = v128.load32_splat(a, 20);
    c50 = madd(av, b0, c50); c51 = madd(av, b1, c51);
    a += 24;
    b += 32;
  }
  const ld = <usize>ldc << 2;
  if (rows == MR && cols == NR) {
    addTo(c, c00); addTo(c + 16, c01); c += ld;
    addTo(c, c10); addTo(c + 16, c11); c += ld;
    addTo(c, c20); addTo(c + 16, c21); c += ld;
    addTo(c, c30); addTo(c + 16, c31); c += ld;
    addTo(c, c40); addTo(c + 16, c41); c += ld;
    addTo(c, c50); addTo(c + 16, c51);
    return;
  }
  v128.store(tmp, c00); v128.store(tmp, c01, 16);
  v128.store(tmp, c10, 32); v128.store(tmp, c11, 48);
  v128.store(tmp, c20, 64); v128.store(tmp, c21, 80);
  v128.store(tmp, c30, 96); v128.store(tmp, c31, 112);
  v128.store(tmp, c40, 128); v128.store(tmp, c41, 144);
  v128.store(tmp, c50, 160); v128.store(tmp, c51, 176);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      const dst = c + (<usize>(r * ldc + j) << 2);
      store<f32>(dst, load<f32>(dst) + load<f32>(tmp + (<usize>(r * NR + j) << 2)));
    }
  }
}

/**
 * C[m0:m1, n0:n1] += A[m0:m1, :] * B[:, n0:n1] for one matrix of a batch.
 * a, b, c: byte pointers to element (0, 0); strides in elements; C is row-major with ldc.
 * work: this thread's pack buffer (packBytes() bytes + 256 for the edge tile).
 */
export function gemmRegion(
  a: usize, rsA: i32, csA: i32,
  b: usize, rsB: i32, csB: i32,
  c: usize, ldc: i32,
  k: i32, m0: i32, m1: i32, n0: i32, n1: i32,
  work: usize,
): void {
  const bufA = work;
  const bufB = work + (<usize>(MC * KC) << 2);
  const tmp = work + (<usize>packBytes());
  for (let jc = n0; jc < n1; jc += NC) {
    const nc = min(NC, n1 - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      packB(bufB, b + (<usize>(pc * rsB + jc * csB) << 2), rsB, csB, kc, nc);
      for (let ic = m0; ic < m1; ic += MC) {
        const mc = min(MC, m1 - ic);
        packA(bufA, a + (<usize>(ic * rsA + pc * csA) << 2), rsA, csA, mc, kc);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = min(NR, nc - jr);
          const bp = bufB + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = min(MR, mc - ir);
            micro(kc, bufA + (<usize>(ir * kc) << 2), bp, c + (<usize>((ic + ir) * ldc + jc + jr) << 2), ldc, rows, cols, tmp);
          }
        }
      }
    }
  }
}

/**
 * A range of work items of a batched GEMM. Item t covers batch t / tilesPerBatch and the
 * tile (t % tilesPerBatch) of a grid of row blocks x column blocks of C.
 * offA/offB: i32 tables of per-batch element offsets into A and B (broadcast batches repeat).
 * C is [batch, m, n] contiguous; it must be zeroed by the caller.
 */
export function gemmBatched(
  a: usize, offA: usize, rsA: i32, csA: i32,
  b: usize, offB: usize, rsB: i32, csB: i32,
  c: usize, m: i32, n: i32, k: i32,
  rowBlock: i32, colBlock: i32, itemStart: i32, itemEnd: i32,
  work: usize,
): void {
  const rowTiles = (m + rowBlock - 1) / rowBlock;
  const colTiles = (n + colBlock - 1) / colBlock;
  const perBatch = rowTiles * colTiles;
  for (let t = itemStart; t < itemEnd; t++) {
    const bi = t / perBatch;
    const tile = t % perBatch;
    const m0 = (tile / colTiles) * rowBlock;
    const n0 = (tile % colTiles) * colBlock;
    const ap = a + (<usize>load<i32>(offA + (<usize>bi << 2)) << 2);
    const bp = b + (<usize>load<i32>(offB + (<usize>bi << 2)) << 2);
    const cp = c + (<usize>(bi * m * n) << 2);
    gemmRegion(ap, rsA, csA, bp, rsB, csB, cp, n, k, m0, min(m, m0 + rowBlock), n0, min(n, n0 + colBlock), work);
  }
}

