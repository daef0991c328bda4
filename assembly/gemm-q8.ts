// Integer GEMM for prefill with q8_0 activations (llama.cpp's arithmetic, as matvecQ8 for decode):
//   y[m, n] = sum over 32-element blocks b of dx[m, b] dw[n, b] (exact integer sum of xq wq over b)
// with x as q8_0 blocks (xq int8, dx f32) and W [n, k] int8 (Q8_0; one f32 scale per blockSize, a
// multiple of 32) or int4 (Q4_0: blocks of 32, stored as q + 8 in nibbles).
//
// Both operands are widened to i16 when packed, so the micro-kernel multiplies with
// i32x4.dot_i16x8_s (one pmaddwd on x86): eight products and their pairwise sums per
// instruction, against four for an f32 multiply-add, in plain SIMD128. Each lane of a dot holds
// one output column: a splat of one row's (x[2p], x[2p + 1]) times the packed (w[c, 2p], w[c, 2p + 1])
// of four columns. The 4x8 tile's eight i32 accumulators collect a block's 16 pairs; then each is
// converted and added to its f32 sum with the factor dx dw (fused on the relaxed build).
//
// Packed A (packQ8A, once per call, shared by the threads): per 4-row panel, per block, 16 pairs
// x 4 rows of one i32 (two i16) each, then the 4 rows' scales (A_BLOCK bytes); rows past m are 0.
// Packed B (per thread, one 8-column panel at a time in its work buffer): per block, 16 pairs x 8
// columns, then the 8 columns' scales (B_BLOCK bytes); columns past n are 0.

import { madd } from './simd';
import { W_I4 } from './matvec';

const MR: i32 = 4;
const NR: i32 = 8;
const A_BLOCK: usize = 16 * 16 + 16;
const B_BLOCK: usize = 16 * 32 + 32;

/** Bytes packQ8A writes for m rows of k (a multiple of 32). */
export function q8PackedABytes(m: i32, k: i32): i32 {
  return <i32>(<usize>((m + MR - 1) / MR) * <usize>(k >> 5) * A_BLOCK);
}

/** Bytes of one packed B panel of k (a multiple of 32) plus the edge tile: what gemmQ8 needs of its work buffer. */
export function q8PanelBytes(k: i32): i32 {
  return <i32>(<usize>(k >> 5) * B_BLOCK + <usize>(MR * NR * 4));
}

/** q8_0 activations (xq [m, k] int8, xd [m, k / 32] f32) into packed A panels at out. */
export function packQ8A(xq: usize, xd: usize, m: i32, k: i32, out: usize): void {
  const nb = k >> 5;
  for (let ip = 0; ip < m; ip += MR) {
    const panel = out + <usize>(ip / MR) * <usize>nb * A_BLOCK;
    for (let b = 0; b < nb; b++) {
      const base = panel + <usize>b * A_BLOCK;
      // pairs 4q .. 4q + 3 of the four rows, transposed so that each pair's four rows are one vector
      for (let q = 0; q < 4; q++) {
        storePairs4(actPairs(xq, ip, m, k, b, q), actPairs(xq, ip + 1, m, k, b, q), actPairs(xq, ip + 2, m, k, b, q), actPairs(xq, ip + 3, m, k, b, q), base + <usize>(q * 4 * MR * 4), MR * 4);
      }
      for (let r = 0; r < MR; r++) {
        const row = ip + r;
        store<f32>(base + 256 + (<usize>r << 2), row < m ? load<f32>(xd + ((<usize>row * <usize>nb + <usize>b) << 2)) : 0);
      }
    }
  }
}

// Pairs 4q .. 4q + 3 of block b of activation row `row` (8 int8 widened to i16; zero past m).
// @ts-ignore: decorator
@inline function actPairs(xq: usize, row: i32, m: i32, k: i32, b: i32, q: i32): v128 {
  if (row >= m) return i32x4.splat(0);
  return v128.load8x8_s(xq + <usize>row * <usize>k + (<usize>b << 5) + (<usize>q << 3));
}

// Four rows of four i32 lanes (row j: pairs p .. p + 3 of operand row j) stored pair by pair:
// pair p + i's four rows at o + i * stride.
// @ts-ignore: decorator
@inline function storePairs4(r0: v128, r1: v128, r2: v128, r3: v128, o: usize, stride: i32): void {
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t2 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  const st = <usize>stride;
  v128.store(o, i64x2.shuffle(t0, t1, 0, 2));
  v128.store(o + st, i64x2.shuffle(t0, t1, 1, 3));
  v128.store(o + 2 * st, i64x2.shuffle(t2, t3, 0, 2));
  v128.store(o + 3 * st, i64x2.shuffle(t2, t3, 1, 3));
}

// Elements 16h .. 16h + 15 of block b of weight row `row` as 16 int8 lanes.
// @ts-ignore: decorator
@inline function weightBytes(w: usize, row: i32, k: i32, kind: i32, b: i32, h: i32): v128 {
  if (kind == W_I4) {
    // Q4_0: byte j of a block holds element j (low nibble) and 16 + j (high), each as q + 8
    const bytes = v128.load(w + <usize>row * <usize>(k >> 1) + (<usize>b << 4));
    const nib = h == 0 ? v128.and(bytes, i8x16.splat(0x0f)) : i8x16.shr_u(bytes, 4);
    return i8x16.sub(nib, i8x16.splat(8));
  }
  return v128.load(w + <usize>row * <usize>k + (<usize>b << 5) + (<usize>h << 4));
}

// Columns j0 .. j0 + 7 of y (rows j0.. of W) packed as one B panel at dst; columns past n are 0.
function packQ8BPanel(w: usize, scales: usize, n: i32, k: i32, kind: i32, blockSize: i32, j0: i32, dst: usize): void {
  const nb = k >> 5;
  const per = blockSize >> 5; // q8 blocks per weight scale
  const scaleRow = <usize>(k / blockSize);
  for (let b = 0; b < nb; b++) {
    const base = dst + <usize>b * B_BLOCK;
    for (let g = 0; g < 2; g++) {
      // four columns at a time: each column's 32 weights widened to i16 (pairs p .. p + 3 per
      // vector), then a 4x4 transpose of i32 lanes puts pair p of the four columns in one vector
      const c0 = j0 + 4 * g;
      for (let q = 0; q < 4; q++) {
        const h = q >> 1;
        storePairs4(
          q8Pairs(w, c0, n, k, kind, b, h, q & 1), q8Pairs(w, c0 + 1, n, k, kind, b, h, q & 1),
          q8Pairs(w, c0 + 2, n, k, kind, b, h, q & 1), q8Pairs(w, c0 + 3, n, k, kind, b, h, q & 1),
          base + <usize>(q * 4) * 32 + (<usize>g << 4), NR * 4,
        );
      }
    }
    for (let c = 0; c < NR; c++) {
      const col = j0 + c;
      store<f32>(base + 512 + (<usize>c << 2), col < n ? load<f32>(scales + ((<usize>col * scaleRow + <usize>(b / per)) << 2)) : 0);
    }
  }
}

// Pairs 4 (2h + half) .. + 3 of column `col` of block b: 8 weights widened to i16 (zero past n).
// @ts-ignore: decorator
@inline function q8Pairs(w: usize, col: i32, n: i32, k: i32, kind: i32, b: i32, h: i32, half: i32): v128 {
  if (col >= n) return i32x4.splat(0);
  const v = weightBytes(w, col, k, kind, b, h);
  return half == 0 ? i16x8.extend_low_i8x16_s(v) : i16x8.extend_high_i8x16_s(v);
}

// @ts-ignore: decorator
@inline function dot(acc: v128, a: v128, b: v128): v128 {
  return i32x4.add(acc, i32x4.dot_i16x8_s(a, b));
}

// One 4x8 tile of y over all nb blocks: a, b the packed panels; rows x cols of the tile are real.
// The f32 sums live in the tile at `tmp` (memory), not in registers: with them in registers as
// well as the eight i32 accumulators, TurboFan spilled accumulators inside the block loop.
function microQ8(nb: i32, a: usize, b: usize, y: usize, ldy: i32, rows: i32, cols: i32, tmp: usize): void {
  memory.fill(tmp, 0, MR * NR * 4);
  for (let blk = 0; blk < nb; blk++) {
    let i00 = i32x4.splat(0), i01 = i32x4.splat(0), i10 = i32x4.splat(0), i11 = i32x4.splat(0);
    let i20 = i32x4.splat(0), i21 = i32x4.splat(0), i30 = i32x4.splat(0), i31 = i32x4.splat(0);
    let ap = a, bp = b;
    for (let p = 0; p < 16; p++) {
      const b0 = v128.load(bp), b1 = v128.load(bp, 16);
      let av = v128.load32_splat(ap);
      i00 = dot(i00, av, b0); i01 = dot(i01, av, b1);
      av = v128.load32_splat(ap, 4);
      i10 = dot(i10, av, b0); i11 = dot(i11, av, b1);
      av = v128.load32_splat(ap, 8);
      i20 = dot(i20, av, b0); i21 = dot(i21, av, b1);
      av = v128.load32_splat(ap, 12);
      i30 = dot(i30, av, b0); i31 = dot(i31, av, b1);
      ap += MR * 4;
      bp += 32;
    }
    // the block's integer sums times dx dw: ap, bp now point at the scales
    const w0 = v128.load(bp), w1 = v128.load(bp, 16);
    scaleInto(tmp, i00, i01, v128.load32_splat(ap), w0, w1);
    scaleInto(tmp + 32, i10, i11, v128.load32_splat(ap, 4), w0, w1);
    scaleInto(tmp + 64, i20, i21, v128.load32_splat(ap, 8), w0, w1);
    scaleInto(tmp + 96, i30, i31, v128.load32_splat(ap, 12), w0, w1);
    a += A_BLOCK;
    b += B_BLOCK;
  }
  for (let r = 0; r < rows; r++) {
    const yr = y + (<usize>(r * ldy) << 2);
    const tr = tmp + (<usize>(r * NR) << 2);
    if (cols == NR) {
      v128.store(yr, v128.load(tr));
      v128.store(yr, v128.load(tr, 16), 16);
    } else {
      for (let j = 0; j < cols; j++) store<f32>(yr + (<usize>j << 2), load<f32>(tr + (<usize>j << 2)));
    }
  }
}

// Row sums t[0..8) += convert(i0, i1) * (dx * (w0, w1)).
// @ts-ignore: decorator
@inline function scaleInto(t: usize, i0: v128, i1: v128, dx: v128, w0: v128, w1: v128): void {
  v128.store(t, madd(f32x4.convert_i32x4_s(i0), f32x4.mul(dx, w0), v128.load(t)));
  v128.store(t, madd(f32x4.convert_i32x4_s(i1), f32x4.mul(dx, w1), v128.load(t, 16)), 16);
}

/**
 * Column panels [panelStart, panelEnd) (8 columns each) of y [m, n] = x @ W^T, x packed by packQ8A
 * at ap; W int8 (kind 3) or int4 (kind 4) [n, k] with f32 scales per blockSize. work: this
 * thread's buffer, at least q8PanelBytes(k) bytes.
 */
export function gemmQ8(ap: usize, m: i32, k: i32, w: usize, scales: usize, kind: i32, blockSize: i32, y: usize, n: i32, panelStart: i32, panelEnd: i32, work: usize): void {
  const nb = k >> 5;
  const tmp = work + <usize>nb * B_BLOCK;
  const aPanel = <usize>nb * A_BLOCK;
  for (let jp = panelStart; jp < panelEnd; jp++) {
    const j0 = jp * NR;
    const cols = min(NR, n - j0);
    packQ8BPanel(w, scales, n, k, kind, blockSize, j0, work);
    for (let ip = 0; ip < m; ip += MR) {
      microQ8(nb, ap + <usize>(ip / MR) * aPanel, work, y + (<usize>(ip * n + j0) << 2), n, min(MR, m - ip), cols, tmp);
    }
  }
}
