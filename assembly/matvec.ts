// Matrix-vector products for decoding: y[m, n] = sum_k x[m, k] * W[n, k] for a few rows m
// (M = 1..8 tokens), with W stored as f32, f16, bf16, or int8 with one f32 scale per block of
// `blockSize` consecutive elements of a row (q8_0-like). Each weight row is read once from
// memory and dequantised in registers; the loop is bound by memory bandwidth, which is the
// point: decode speed is weight bytes / bandwidth.

export const W_F32: i32 = 0;
export const W_F16: i32 = 1;
export const W_BF16: i32 = 2;
export const W_I8: i32 = 3;

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// IEEE half -> single for 4 lanes of u32-extended halves: shift mantissa+exponent into place
// and rescale by 2^112 (exact for normals and subnormals); Inf/NaN get an all-ones exponent.
// @ts-ignore: decorator
@inline function halfToFloat(h: v128): v128 {
  const magnitude = v128.and(h, i32x4.splat(0x7fff));
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const scaled = f32x4.mul(i32x4.shl(magnitude, 13), f32x4.splat(5.192296858534828e33)); // 2^112
  const special = i32x4.eq(v128.and(h, i32x4.splat(0x7c00)), i32x4.splat(0x7c00));
  const infNan = v128.or(i32x4.shl(magnitude, 13), i32x4.splat(0x7f800000));
  return v128.or(sign, v128.bitselect(infNan, scaled, special));
}

// @ts-ignore: decorator
@inline function bf16ToFloat(h: v128): v128 {
  return i32x4.shl(h, 16);
}

function scalarWeight(w: usize, k: i32, kind: i32): f32 {
  if (kind == W_F32) return load<f32>(w + (<usize>k << 2));
  if (kind == W_I8) return <f32>load<i8>(w + <usize>k);
  const h = <i32>load<u16>(w + (<usize>k << 1));
  if (kind == W_BF16) return reinterpret<f32>(h << 16);
  return f32x4.extract_lane(halfToFloat(i32x4.splat(h)), 0);
}

// Dot products of one weight row with x over [k0, k1) (k1 - k0 a multiple of 16), as a vector
// of partial sums; one loop per storage format so every dequantised lane stays in registers.
function dotF32(w: usize, x: usize, k0: i32, k1: i32): v128 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let k = k0; k < k1; k += 16) {
    const wp = w + (<usize>k << 2);
    const xp = x + (<usize>k << 2);
    a0 = madd(v128.load(wp), v128.load(xp), a0);
    a1 = madd(v128.load(wp, 16), v128.load(xp, 16), a1);
    a2 = madd(v128.load(wp, 32), v128.load(xp, 32), a2);
    a3 = madd(v128.load(wp, 48), v128.load(xp, 48), a3);
  }
  return f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
}

// Half floats already in the upper 16 bits of each f32 lane (t = h << 16) -> f32, for finite
// values (normals and subnormals): magnitude bits >> 3 line the exponent and mantissa up with
// f32's, and * 2^112 rebiases the exponent (exact, subnormals included).
// @ts-ignore: decorator
@inline function finiteHalfHigh(t: v128): v128 {
  const mag = i32x4.shr_u(v128.and(t, i32x4.splat(0x7fff0000)), 3);
  return v128.or(v128.and(t, i32x4.splat(0x80000000)), f32x4.mul(mag, f32x4.splat(5.192296858534828e33)));
}

function dotHalf(w: usize, x: usize, k0: i32, k1: i32, bf16: bool): v128 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const zero = i32x4.splat(0);
  const expMask = i16x8.splat(0x7c00);
  for (let k = k0; k < k1; k += 16) {
    const h0 = v128.load(w + (<usize>k << 1));
    const h1 = v128.load(w + (<usize>k << 1), 16);
    const xp = x + (<usize>k << 2);
    // each half into the upper 16 bits of a 32-bit lane (one shuffle instead of widen + shift)
    const t0 = i8x16.shuffle(zero, h0, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
    const t1 = i8x16.shuffle(zero, h0, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
    const t2 = i8x16.shuffle(zero, h1, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
    const t3 = i8x16.shuffle(zero, h1, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
    if (bf16) {
      a0 = madd(t0, v128.load(xp), a0);
      a1 = madd(t1, v128.load(xp, 16), a1);
      a2 = madd(t2, v128.load(xp, 32), a2);
      a3 = madd(t3, v128.load(xp, 48), a3);
    } else if (v128.any_true(v128.or(i16x8.eq(v128.and(h0, expMask), expMask), i16x8.eq(v128.and(h1, expMask), expMask)))) {
      // Inf or NaN among these 16 weights: the exact (slower) conversion
      a0 = madd(halfToFloat(i32x4.extend_low_i16x8_u(h0)), v128.load(xp), a0);
      a1 = madd(halfToFloat(i32x4.extend_high_i16x8_u(h0)), v128.load(xp, 16), a1);
      a2 = madd(halfToFloat(i32x4.extend_low_i16x8_u(h1)), v128.load(xp, 32), a2);
      a3 = madd(halfToFloat(i32x4.extend_high_i16x8_u(h1)), v128.load(xp, 48), a3);
    } else {
      a0 = madd(finiteHalfHigh(t0), v128.load(xp), a0);
      a1 = madd(finiteHalfHigh(t1), v128.load(xp, 16), a1);
      a2 = madd(finiteHalfHigh(t2), v128.load(xp, 32), a2);
      a3 = madd(finiteHalfHigh(t3), v128.load(xp, 48), a3);
    }
  }
  return f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
}

// @ts-ignore: decorator
@inline function dotI8(w: usize, x: usize, k0: i32, k1: i32): v128 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let k = k0; k < k1; k += 16) {
    const b = v128.load(w + <usize>k);
    const lo = i16x8.extend_low_i8x16_s(b);
    const hi = i16x8.extend_high_i8x16_s(b);
    const xp = x + (<usize>k << 2);
    a0 = madd(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), v128.load(xp), a0);
    a1 = madd(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), v128.load(xp, 16), a1);
    a2 = madd(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), v128.load(xp, 32), a2);
    a3 = madd(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), v128.load(xp, 48), a3);
  }
  return f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
}

// @ts-ignore: decorator
@inline function dotRange(w: usize, x: usize, k0: i32, k1: i32, kind: i32): v128 {
  if (kind == W_F32) return dotF32(w, x, k0, k1);
  if (kind == W_I8) return dotI8(w, x, k0, k1);
  return dotHalf(w, x, k0, k1, kind == W_BF16);
}

function scalarTail(w: usize, x: usize, k0: i32, k1: i32, kind: i32): f32 {
  let s: f32 = 0;
  for (let k = k0; k < k1; k++) s += scalarWeight(w, k, kind) * load<f32>(x + (<usize>k << 2));
  return s;
}

/**
 * Rows [rowStart, rowEnd) of y[M, N] = x[M, K] @ W^T. W rows are K elements of `kind`;
 * scales (int8 only): one f32 per `blockSize` elements in row-major order.
 */
export function matvec(
  x: usize, w: usize, scales: usize, y: usize, m: i32, n: i32, k: i32, kind: i32, blockSize: i32,
  rowStart: i32, rowEnd: i32, tmp: usize,
): void {
  const elem: i32 = kind == W_F32 ? 4 : kind == W_I8 ? 1 : 2;
  const rowBytes = <usize>(k * elem);
  for (let r = rowStart; r < rowEnd; r++) {
    const wr = w + <usize>r * rowBytes;
    for (let mi = 0; mi < m; mi++) {
      const xr = x + (<usize>(mi * k) << 2);
      let total: f32 = 0;
      if (kind == W_I8) {
        // one f32 scale per block: scale the block's partial sums in registers
        const sr = scales + (<usize>(r * (k / blockSize)) << 2);
        let acc = f32x4.splat(0);
        for (let b0 = 0; b0 < k; b0 += blockSize) {
          const bEnd = b0 + blockSize;
          const vEnd = b0 + ((bEnd - b0) & ~15);
          const sc = load<f32>(sr + (<usize>(b0 / blockSize) << 2));
          acc = madd(dotI8(wr, xr, b0, vEnd), f32x4.splat(sc), acc);
          if (vEnd < bEnd) total += sc * scalarTail(wr, xr, vEnd, bEnd, kind);
        }
        total += hsum(acc);
      } else {
        const vEnd = k & ~15;
        total = hsum(dotRange(wr, xr, 0, vEnd, kind)) + scalarTail(wr, xr, vEnd, k, kind);
      }
      store<f32>(y + (<usize>(mi * n + r) << 2), total);
    }
  }
}

/** Sum of n floats (a plain memory read, the bandwidth yardstick for matvec). */
export function readSum(p: usize, n: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const q = p + (<usize>i << 2);
    a0 = f32x4.add(a0, v128.load(q));
    a1 = f32x4.add(a1, v128.load(q, 16));
    a2 = f32x4.add(a2, v128.load(q, 32));
    a3 = f32x4.add(a3, v128.load(q, 48));
  }
  let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  for (; i < n; i++) s += load<f32>(p + (<usize>i << 2));
  return s;
}
