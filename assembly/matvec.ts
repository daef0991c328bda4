// Matrix-vector products for decoding: y[m, n] = sum_k x[m, k] * W[n, k] for a few rows m
// (M = 1..8 tokens), with W stored as f32, f16, bf16, int8 or int4 with one f32 scale per block
// of `blockSize` consecutive elements of a row (ggml's q8_0 / q4_0). Each weight row is read
// once from memory and dequantised in registers; the loop is bound by memory bandwidth, which
// is the point: decode speed is weight bytes / bandwidth.
//
// int4 rows hold k / 2 bytes in ggml's Q4_0 order: byte j of a block holds element j (low
// nibble) and element j + blockSize / 2 (high nibble), each as q + 8.

import { hsum, madd } from './simd';

export const W_F32: i32 = 0;
export const W_F16: i32 = 1;
export const W_BF16: i32 = 2;
export const W_I8: i32 = 3;
export const W_I4: i32 = 4;



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

// Rows w0..w3 (float32) dotted with x over [0, k1), k1 a multiple of 16, stored to y[r0..r3].
// @ts-ignore: decorator
@inline function dotF32Quad(w0: usize, w1: usize, w2: usize, w3: usize, x: usize, k1: i32, y: usize, r0: i32, r1: i32, r2: i32, r3: i32): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), d0 = f32x4.splat(0), d1 = f32x4.splat(0);
  for (let k = 0; k < k1; k += 16) {
    const o = <usize>k << 2;
    const xp = x + o;
    let xv = v128.load(xp);
    a0 = madd(v128.load(w0 + o), xv, a0);
    b0 = madd(v128.load(w1 + o), xv, b0);
    c0 = madd(v128.load(w2 + o), xv, c0);
    d0 = madd(v128.load(w3 + o), xv, d0);
    xv = v128.load(xp, 16);
    a1 = madd(v128.load(w0 + o, 16), xv, a1);
    b1 = madd(v128.load(w1 + o, 16), xv, b1);
    c1 = madd(v128.load(w2 + o, 16), xv, c1);
    d1 = madd(v128.load(w3 + o, 16), xv, d1);
    xv = v128.load(xp, 32);
    a0 = madd(v128.load(w0 + o, 32), xv, a0);
    b0 = madd(v128.load(w1 + o, 32), xv, b0);
    c0 = madd(v128.load(w2 + o, 32), xv, c0);
    d0 = madd(v128.load(w3 + o, 32), xv, d0);
    xv = v128.load(xp, 48);
    a1 = madd(v128.load(w0 + o, 48), xv, a1);
    b1 = madd(v128.load(w1 + o, 48), xv, b1);
    c1 = madd(v128.load(w2 + o, 48), xv, c1);
    d1 = madd(v128.load(w3 + o, 48), xv, d1);
  }
  // stored last to first: a repeated row (past the end) writes the same value as the first
  store<f32>(y + (<usize>r3 << 2), hsum(f32x4.add(d0, d1)));
  store<f32>(y + (<usize>r2 << 2), hsum(f32x4.add(c0, c1)));
  store<f32>(y + (<usize>r1 << 2), hsum(f32x4.add(b0, b1)));
  store<f32>(y + (<usize>r0 << 2), hsum(f32x4.add(a0, a1)));
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

// ---- the fast half-precision path --------------------------------------------------------
// A 32-bit lane of f16/bf16 weights holds an even element (low half) and an odd one (high
// half). Without unpacking: odd = v & 0xffff0000 and even = v << 16 put each half in the upper
// 16 bits of a lane, which is a bf16 value as it stands. For f16, (t >>s 3) & 0x8fffe000 keeps
// the sign and lines exponent and mantissa up with f32's: the f32 with those bits is the half's
// value times 2^-112, exactly, subnormals included. prepareHalfAct multiplies x by 2^112 (exact)
// and de-interleaves it to match, once per call, so every product w * x is the one the exact
// path forms. Two cases it cannot take: |x| >= 2^16 (x * 2^112 overflows; the caller keeps the
// exact path) and Inf/NaN weights (exponent 31, which would read as a finite f32; each row
// tracks its largest exponent and is redone on the exact path if it has one). That check is a
// quarter of the loop's vector ops, so a caller that knows the weights finite (ops.linear scans
// each f16 storage once per version) passes `finite` and the loop runs without it.

const TWO_112: f32 = 5.192296858534828e33;

/**
 * x [rows, k] -> the fast half path's operand at out (same size): per group of 8 elements,
 * (x0, x2, x4, x6, x1, x3, x5, x7), times 2^112 for f16 weights (bf16: unscaled). Returns 0,
 * and the exact path must be used, if an f16 call has a finite |x| >= 2^16.
 */
export function prepareHalfAct(x: usize, out: usize, rows: i32, k: i32, bf16: bool): i32 {
  const vEnd = k & ~15;
  const scale = f32x4.splat(bf16 ? 1 : TWO_112);
  const limit = f32x4.splat(65536), fmax = f32x4.splat(3.4028234663852886e38);
  let bad = i32x4.splat(0);
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>(r * k) << 2);
    const or = out + (<usize>(r * k) << 2);
    for (let j = 0; j < vEnd; j += 8) {
      const a = v128.load(xr + (<usize>j << 2)), b = v128.load(xr + (<usize>j << 2), 16);
      const aa = f32x4.abs(a), ab = f32x4.abs(b);
      bad = v128.or(bad, v128.and(f32x4.ge(aa, limit), f32x4.le(aa, fmax)));
      bad = v128.or(bad, v128.and(f32x4.ge(ab, limit), f32x4.le(ab, fmax)));
      v128.store(or + (<usize>j << 2), f32x4.mul(v128.shuffle<i32>(a, b, 0, 2, 4, 6), scale));
      v128.store(or + (<usize>j << 2), f32x4.mul(v128.shuffle<i32>(a, b, 1, 3, 5, 7), scale), 16);
    }
  }
  return bf16 || !v128.any_true(bad) ? 1 : 0;
}

/**
 * Whether any of the n halves at p has exponent 31 (Inf or NaN): 1 if so, else 0. The scan
 * behind Storage.halfFinite for tensors in this memory (memory speed; the JS loop runs at about
 * 3 GB/s).
 */
export function halfSpecialAny(p: usize, n: i32): i32 {
  const e = i16x8.splat(0x7c00);
  let a0 = i16x8.splat(0), a1 = i16x8.splat(0), a2 = i16x8.splat(0), a3 = i16x8.splat(0);
  const vEnd = n & ~31;
  for (let i = 0; i < vEnd; i += 32) {
    const q = p + (<usize>i << 1);
    a0 = i16x8.max_u(a0, v128.and(v128.load(q), e));
    a1 = i16x8.max_u(a1, v128.and(v128.load(q, 16), e));
    a2 = i16x8.max_u(a2, v128.and(v128.load(q, 32), e));
    a3 = i16x8.max_u(a3, v128.and(v128.load(q, 48), e));
  }
  if (v128.any_true(i16x8.eq(i16x8.max_u(i16x8.max_u(a0, a1), i16x8.max_u(a2, a3)), e))) return 1;
  for (let i = vEnd; i < n; i++) if ((load<u16>(p + (<usize>i << 1)) & 0x7c00) == 0x7c00) return 1;
  return 0;
}

// Set by dotHalfFastQuad (checked): whether an f16 row it read had an Inf/NaN weight (exponent 31).
let halfSpecial = false;

// The fast half path over rows w0..w3 at once (each x load serves all four, and memory is read
// as four sequential streams), the sums stored to y[r0..r3]; halfSpecial: whether any of the
// rows had an Inf/NaN weight. A load 2 bytes early puts the even elements in the upper halves
// of the lanes (the odd ones are there in the aligned load), so the conversion needs no left
// shift: f16 (v >>s 3) & 0x8fffe000 (the lower half shifts out of the mask), bf16 v & 0xffff0000.
// The early load reads the 2 bytes before the row, which are in memory (a row never starts at 0).
// C (a compile-time switch, as in dotQuantPair): bool runs the Inf/NaN check (f16 only), i32
// skips it (bf16, or f16 weights known finite).
// @ts-ignore: decorator
@inline function dotHalfFastQuad<C>(w0: usize, w1: usize, w2: usize, w3: usize, xh: usize, k1: i32, bf16: bool, y: usize, r0: i32, r1: i32, r2: i32, r3: i32): void {
  const check = isBoolean<C>();
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), d0 = f32x4.splat(0), d1 = f32x4.splat(0);
  const mask = i32x4.splat(bf16 ? 0xffff0000 : 0x8fffe000);
  const expMask = i16x8.splat(0x7c00);
  let ex = i16x8.splat(0);
  for (let k = 0; k < k1; k += 16) {
    const o = <usize>k << 1;
    const xp = xh + (<usize>k << 2);
    // even elements (early loads) times x0,2,..; odd ones (aligned loads, which also feed the
    // Inf/NaN check) times x1,3,..; each load next to its use, so that no more than the eight
    // sums, three constants and a few operands are live (x64 has 16 vector registers)
    let xv = v128.load(xp);
    a0 = madd(halfHigh(v128.load(w0 + o - 2), mask, bf16), xv, a0);
    b0 = madd(halfHigh(v128.load(w1 + o - 2), mask, bf16), xv, b0);
    c0 = madd(halfHigh(v128.load(w2 + o - 2), mask, bf16), xv, c0);
    d0 = madd(halfHigh(v128.load(w3 + o - 2), mask, bf16), xv, d0);
    xv = v128.load(xp, 16);
    let g = v128.load(w0 + o);
    a1 = madd(halfHigh(g, mask, bf16), xv, a1);
    if (check) ex = i16x8.max_u(ex, v128.and(g, expMask));
    g = v128.load(w1 + o);
    b1 = madd(halfHigh(g, mask, bf16), xv, b1);
    if (check) ex = i16x8.max_u(ex, v128.and(g, expMask));
    g = v128.load(w2 + o);
    c1 = madd(halfHigh(g, mask, bf16), xv, c1);
    if (check) ex = i16x8.max_u(ex, v128.and(g, expMask));
    g = v128.load(w3 + o);
    d1 = madd(halfHigh(g, mask, bf16), xv, d1);
    if (check) ex = i16x8.max_u(ex, v128.and(g, expMask));
    xv = v128.load(xp, 32);
    a0 = madd(halfHigh(v128.load(w0 + o, 14), mask, bf16), xv, a0);
    b0 = madd(halfHigh(v128.load(w1 + o, 14), mask, bf16), xv, b0);
    c0 = madd(halfHigh(v128.load(w2 + o, 14), mask, bf16), xv, c0);
    d0 = madd(halfHigh(v128.load(w3 + o, 14), mask, bf16), xv, d0);
    xv = v128.load(xp, 48);
    g = v128.load(w0 + o, 16);
    a1 = madd(halfHigh(g, mask, bf16), xv, a1);
    if (check) ex = i16x8.max_u(ex, v128.and(g, expMask));
    g = v128.load(w1 + o, 16);
    b1 = madd(halfHigh(g, mask, bf16), xv, b1);
    if (check) ex = i16x8.max_u(ex, v128.and(g, expMask));
    g = v128.load(w2 + o, 16);
    c1 = madd(halfHigh(g, mask, bf16), xv, c1);
    if (check) ex = i16x8.max_u(ex, v128.and(g, expMask));
    g = v128.load(w3 + o, 16);
    d1 = madd(halfHigh(g, mask, bf16), xv, d1);
    if (check) ex = i16x8.max_u(ex, v128.and(g, expMask));
  }
  if (check) halfSpecial = v128.any_true(i16x8.eq(ex, expMask));
  // stored last to first: a repeated row (past the end) writes the same value as the first
  store<f32>(y + (<usize>r3 << 2), hsum(f32x4.add(d0, d1)));
  store<f32>(y + (<usize>r2 << 2), hsum(f32x4.add(c0, c1)));
  store<f32>(y + (<usize>r1 << 2), hsum(f32x4.add(b0, b1)));
  store<f32>(y + (<usize>r0 << 2), hsum(f32x4.add(a0, a1)));
}

// The half in the upper 16 bits of each lane, on the fast path's scale (see above).
// @ts-ignore: decorator
@inline function halfHigh(v: v128, mask: v128, bf16: bool): v128 {
  return bf16 ? v128.and(v, mask) : v128.and(i32x4.shr_s(v, 3), mask);
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

// Sixteen int8 lanes (each in [-8, 7] or [-127, 127]) times x[0..16), as four f32x4 products
// added to a.
// @ts-ignore: decorator
@inline function madd16(q: v128, x: usize, a: v128): v128 {
  const lo = i16x8.extend_low_i8x16_s(q);
  const hi = i16x8.extend_high_i8x16_s(q);
  let r = madd(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), v128.load(x), a);
  r = madd(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), v128.load(x, 16), r);
  r = madd(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), v128.load(x, 32), r);
  return madd(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), v128.load(x, 48), r);
}

// Dot product of one int4 block (blockSize a multiple of 32, `wb` its first byte) with x at the
// block's first element, unscaled. 16 bytes give elements c..c+15 (low nibbles) and
// half+c..half+c+15 (high nibbles).
// @ts-ignore: decorator
@inline function dotI4Block(wb: usize, xb: usize, blockSize: i32): v128 {
  const half = blockSize >> 1;
  const mask = i8x16.splat(0x0f);
  const eight = i8x16.splat(8);
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  for (let c = 0; c < half; c += 16) {
    const b = v128.load(wb + <usize>c);
    const lo = i8x16.sub(v128.and(b, mask), eight);
    const hi = i8x16.sub(i8x16.shr_u(b, 4), eight);
    a0 = madd16(lo, xb + (<usize>c << 2), a0);
    a1 = madd16(hi, xb + (<usize>(half + c) << 2), a1);
  }
  return f32x4.add(a0, a1);
}

// The signed value of element j of an int4 block starting at byte wb (any even blockSize).
// @ts-ignore: decorator
@inline function int4At(wb: usize, j: i32, blockSize: i32): f32 {
  const half = blockSize >> 1;
  const byte = <i32>load<u8>(wb + <usize>(j < half ? j : j - half));
  return <f32>((j < half ? byte & 15 : byte >> 4) - 8);
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

// One block-quantised row (int8 or int4) dotted with x, the scale applied per block.
function dotQuantRow(wr: usize, sr: usize, xr: usize, k: i32, kind: i32, blockSize: i32): f32 {
  let acc = f32x4.splat(0);
  let total: f32 = 0;
  const nb = k / blockSize;
  if (kind == W_I4) {
    const fast = (blockSize & 31) == 0;
    for (let b = 0; b < nb; b++) {
      const sc = load<f32>(sr + (<usize>b << 2));
      const wb = wr + <usize>(b * (blockSize >> 1));
      const xb = xr + (<usize>(b * blockSize) << 2);
      if (fast) acc = madd(dotI4Block(wb, xb, blockSize), f32x4.splat(sc), acc);
      else {
        let s: f32 = 0;
        for (let j = 0; j < blockSize; j++) s += int4At(wb, j, blockSize) * load<f32>(xb + (<usize>j << 2));
        total += sc * s;
      }
    }
    return total + hsum(acc);
  }
  for (let b0 = 0; b0 < k; b0 += blockSize) {
    const bEnd = b0 + blockSize;
    const vEnd = b0 + ((bEnd - b0) & ~15);
    const sc = load<f32>(sr + (<usize>(b0 / blockSize) << 2));
    acc = madd(dotI8(wr, xr, b0, vEnd), f32x4.splat(sc), acc);
    if (vEnd < bEnd) total += sc * scalarTail(wr, xr, vEnd, bEnd, kind);
  }
  return total + hsum(acc);
}

// Four int8 lanes of q (bytes 4j..4j+3) as f32 times 2^24: the swizzle puts byte 4j+i in the top
// byte of lane i and zeroes the rest (index 0x80 reads as 0), so the lane's integer is q * 2^24,
// which converts exactly. One shuffle instead of two or three sign extensions.
// @ts-ignore: decorator
@inline function q8Top(q: v128, sel: v128): v128 {
  return f32x4.convert_i32x4_s(i8x16.swizzle(q, sel));
}

// Rows w0 and w1 of int8 or int4 blocks (blockSize a multiple of 32; scales at s0 / s1) dotted
// with float x[0..k), stored to y0 and y1. Per block, the products go to two accumulators per
// row; the block's sum is then scaled once. The weights enter as q * 2^24 (q8Top), so every
// sum is 2^24 times the one with q itself, rounded the same way (a power-of-two factor), and the
// result is scaled back at the end; only where that factor overflows (intermediate sums past
// 2^104) is the result not finite, and then the row is redone with dotQuantRow. Returns nothing;
// the stored values equal dotQuantRow's up to summation order.
// @ts-ignore: decorator
@inline function dotQuantPair<F>(w0: usize, w1: usize, s0: usize, s1: usize, x: usize, k: i32, blockSize: i32, y0: usize, y1: usize): void {
  const int4 = !isSigned<F>(); // F: u8 for int4 weights, i8 for int8 (a compile-time switch)
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
  const mask = i8x16.splat(0x0f), eight = i8x16.splat(8);
  const m0 = i8x16(-128, -128, -128, 0, -128, -128, -128, 1, -128, -128, -128, 2, -128, -128, -128, 3);
  const m1 = i8x16(-128, -128, -128, 4, -128, -128, -128, 5, -128, -128, -128, 6, -128, -128, -128, 7);
  const m2 = i8x16(-128, -128, -128, 8, -128, -128, -128, 9, -128, -128, -128, 10, -128, -128, -128, 11);
  const m3 = i8x16(-128, -128, -128, 12, -128, -128, -128, 13, -128, -128, -128, 14, -128, -128, -128, 15);
  const half = blockSize >> 1;
  for (let b0 = 0; b0 < k; b0 += blockSize) {
    let p0 = f32x4.splat(0), p1 = f32x4.splat(0), q0 = f32x4.splat(0), q1 = f32x4.splat(0);
    if (int4) {
      // 16 bytes give elements c..c+15 (low nibbles) and half+c..half+c+15 (high nibbles)
      const wb0 = w0 + <usize>(b0 >> 1), wb1 = w1 + <usize>(b0 >> 1);
      for (let c = 0; c < half; c += 16) {
        const xl = x + (<usize>(b0 + c) << 2), xh = x + (<usize>(b0 + half + c) << 2);
        const u = v128.load(wb0 + <usize>c), v = v128.load(wb1 + <usize>c);
        let uq = i8x16.sub(v128.and(u, mask), eight), vq = i8x16.sub(v128.and(v, mask), eight);
        let xv = v128.load(xl);
        p0 = madd(q8Top(uq, m0), xv, p0); q0 = madd(q8Top(vq, m0), xv, q0);
        xv = v128.load(xl, 16);
        p1 = madd(q8Top(uq, m1), xv, p1); q1 = madd(q8Top(vq, m1), xv, q1);
        xv = v128.load(xl, 32);
        p0 = madd(q8Top(uq, m2), xv, p0); q0 = madd(q8Top(vq, m2), xv, q0);
        xv = v128.load(xl, 48);
        p1 = madd(q8Top(uq, m3), xv, p1); q1 = madd(q8Top(vq, m3), xv, q1);
        uq = i8x16.sub(i8x16.shr_u(u, 4), eight); vq = i8x16.sub(i8x16.shr_u(v, 4), eight);
        xv = v128.load(xh);
        p0 = madd(q8Top(uq, m0), xv, p0); q0 = madd(q8Top(vq, m0), xv, q0);
        xv = v128.load(xh, 16);
        p1 = madd(q8Top(uq, m1), xv, p1); q1 = madd(q8Top(vq, m1), xv, q1);
        xv = v128.load(xh, 32);
        p0 = madd(q8Top(uq, m2), xv, p0); q0 = madd(q8Top(vq, m2), xv, q0);
        xv = v128.load(xh, 48);
        p1 = madd(q8Top(uq, m3), xv, p1); q1 = madd(q8Top(vq, m3), xv, q1);
      }
    } else {
      for (let j = b0; j < b0 + blockSize; j += 16) {
        const xp = x + (<usize>j << 2);
        const u = v128.load(w0 + <usize>j), v = v128.load(w1 + <usize>j);
        let xv = v128.load(xp);
        p0 = madd(q8Top(u, m0), xv, p0); q0 = madd(q8Top(v, m0), xv, q0);
        xv = v128.load(xp, 16);
        p1 = madd(q8Top(u, m1), xv, p1); q1 = madd(q8Top(v, m1), xv, q1);
        xv = v128.load(xp, 32);
        p0 = madd(q8Top(u, m2), xv, p0); q0 = madd(q8Top(v, m2), xv, q0);
        xv = v128.load(xp, 48);
        p1 = madd(q8Top(u, m3), xv, p1); q1 = madd(q8Top(v, m3), xv, q1);
      }
    }
    const bi = <usize>(b0 / blockSize) << 2;
    acc0 = madd(f32x4.add(p0, p1), f32x4.splat(load<f32>(s0 + bi)), acc0);
    acc1 = madd(f32x4.add(q0, q1), f32x4.splat(load<f32>(s1 + bi)), acc1);
  }
  const TWO_M24: f32 = 5.9604644775390625e-8;
  let t0 = hsum(acc0) * TWO_M24, t1 = hsum(acc1) * TWO_M24;
  const kind = int4 ? W_I4 : W_I8;
  // t - t is 0 for every finite t and NaN for Inf / NaN
  if (t0 - t0 != 0) t0 = dotQuantRow(w0, s0, x, k, kind, blockSize);
  if (t1 - t1 != 0) t1 = dotQuantRow(w1, s1, x, k, kind, blockSize);
  store<f32>(y0, t0);
  store<f32>(y1, t1);
}

// Row r of a block-quantised W, dequantised (scales applied) into out[0..k).
function dequantRow(wr: usize, sr: usize, out: usize, k: i32, kind: i32, blockSize: i32): void {
  const nb = k / blockSize;
  for (let b = 0; b < nb; b++) {
    const sc = load<f32>(sr + (<usize>b << 2));
    const o = out + (<usize>(b * blockSize) << 2);
    if (kind == W_I4) {
      const wb = wr + <usize>(b * (blockSize >> 1));
      if ((blockSize & 31) == 0) {
        const half = blockSize >> 1;
        const s4 = f32x4.splat(sc);
        const mask = i8x16.splat(0x0f);
        const eight = i8x16.splat(8);
        for (let c = 0; c < half; c += 16) {
          const bytes = v128.load(wb + <usize>c);
          storeScaled16(i8x16.sub(v128.and(bytes, mask), eight), s4, o + (<usize>c << 2));
          storeScaled16(i8x16.sub(i8x16.shr_u(bytes, 4), eight), s4, o + (<usize>(half + c) << 2));
        }
      } else {
        for (let j = 0; j < blockSize; j++) store<f32>(o + (<usize>j << 2), sc * int4At(wb, j, blockSize));
      }
    } else {
      const wb = wr + <usize>(b * blockSize);
      let j = 0;
      const s4 = f32x4.splat(sc);
      for (; j + 16 <= blockSize; j += 16) storeScaled16(v128.load(wb + <usize>j), s4, o + (<usize>j << 2));
      for (; j < blockSize; j++) store<f32>(o + (<usize>j << 2), sc * <f32>load<i8>(wb + <usize>j));
    }
  }
}

// Sixteen int8 lanes times a scale, stored as f32 at out.
// @ts-ignore: decorator
@inline function storeScaled16(q: v128, s4: v128, out: usize): void {
  const lo = i16x8.extend_low_i8x16_s(q);
  const hi = i16x8.extend_high_i8x16_s(q);
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), s4));
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), s4), 16);
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), s4), 32);
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), s4), 48);
}

/**
 * Rows [rowStart, rowEnd) of y[M, N] = x[M, K] @ W^T. W rows are K elements of `kind`;
 * scales (int8, int4): one f32 per `blockSize` elements in row-major order. `tmp` (at least
 * K floats, or 0 for none): with several x rows a quantised weight row is dequantised there
 * once and dotted as f32 with each x row, instead of being dequantised once per x row. `xh`
 * (f16, bf16 weights; 0 for none): x rewritten by prepareHalfAct, for the fast half path;
 * `finite` (f16): nonzero when the caller knows the weights hold no Inf/NaN, so that path skips
 * its per-row check.
 */
export function matvec(
  x: usize, w: usize, scales: usize, y: usize, m: i32, n: i32, k: i32, kind: i32, blockSize: i32,
  rowStart: i32, rowEnd: i32, tmp: usize, xh: usize, finite: i32,
): void {
  const quant = kind == W_I8 || kind == W_I4;
  const elem: i32 = kind == W_F32 ? 4 : kind == W_I8 ? 1 : 2;
  const rowBytes = kind == W_I4 ? <usize>(k >> 1) : <usize>(k * elem);
  const vEnd = k & ~15;
  if (kind == W_F32) {
    // four rows per pass from the four quarters of the range: each x load serves all four, and
    // memory is read as four long sequential streams (a single stream per thread leaves DRAM
    // bandwidth unused); rows past the end repeat the first of the pass
    const quarter = (rowEnd - rowStart + 3) >> 2;
    for (let r = rowStart; r < rowStart + quarter; r++) {
      const r1 = r + quarter < rowEnd ? r + quarter : r;
      const r2 = r + 2 * quarter < rowEnd ? r + 2 * quarter : r;
      const r3 = r + 3 * quarter < rowEnd ? r + 3 * quarter : r;
      for (let mi = 0; mi < m; mi++) {
        const xr = x + (<usize>(mi * k) << 2);
        const yr = y + (<usize>(mi * n) << 2);
        dotF32Quad(w + <usize>r * rowBytes, w + <usize>r1 * rowBytes, w + <usize>r2 * rowBytes, w + <usize>r3 * rowBytes, xr, vEnd, yr, r, r1, r2, r3);
        if (vEnd < k) {
          store<f32>(yr + (<usize>r << 2), load<f32>(yr + (<usize>r << 2)) + scalarTail(w + <usize>r * rowBytes, xr, vEnd, k, W_F32));
          if (r1 != r) store<f32>(yr + (<usize>r1 << 2), load<f32>(yr + (<usize>r1 << 2)) + scalarTail(w + <usize>r1 * rowBytes, xr, vEnd, k, W_F32));
          if (r2 != r) store<f32>(yr + (<usize>r2 << 2), load<f32>(yr + (<usize>r2 << 2)) + scalarTail(w + <usize>r2 * rowBytes, xr, vEnd, k, W_F32));
          if (r3 != r) store<f32>(yr + (<usize>r3 << 2), load<f32>(yr + (<usize>r3 << 2)) + scalarTail(w + <usize>r3 * rowBytes, xr, vEnd, k, W_F32));
        }
      }
    }
    return;
  }
  if (xh != 0 && (kind == W_F16 || kind == W_BF16)) {
    // half weights on the fast path: four rows per pass from the four quarters of the range, as
    // the f32 path; rows past the end repeat the first of the pass
    const quarter = (rowEnd - rowStart + 3) >> 2;
    for (let r = rowStart; r < rowStart + quarter; r++) {
      const r1 = r + quarter < rowEnd ? r + quarter : r;
      const r2 = r + 2 * quarter < rowEnd ? r + 2 * quarter : r;
      const r3 = r + 3 * quarter < rowEnd ? r + 3 * quarter : r;
      const w0 = w + <usize>r * rowBytes, w1 = w + <usize>r1 * rowBytes;
      const w2 = w + <usize>r2 * rowBytes, w3 = w + <usize>r3 * rowBytes;
      for (let mi = 0; mi < m; mi++) {
        const xr = x + (<usize>(mi * k) << 2);
        const yr = y + (<usize>(mi * n) << 2);
        const xhr = xh + (<usize>(mi * k) << 2);
        if (kind == W_BF16) dotHalfFastQuad<i32>(w0, w1, w2, w3, xhr, vEnd, true, yr, r, r1, r2, r3);
        else if (finite != 0) dotHalfFastQuad<i32>(w0, w1, w2, w3, xhr, vEnd, false, yr, r, r1, r2, r3);
        else {
          dotHalfFastQuad<bool>(w0, w1, w2, w3, xhr, vEnd, false, yr, r, r1, r2, r3);
          if (halfSpecial) {
            // an Inf/NaN weight in one of the rows: all four again on the exact path
            store<f32>(yr + (<usize>r3 << 2), hsum(dotHalf(w3, xr, 0, vEnd, false)));
            store<f32>(yr + (<usize>r2 << 2), hsum(dotHalf(w2, xr, 0, vEnd, false)));
            store<f32>(yr + (<usize>r1 << 2), hsum(dotHalf(w1, xr, 0, vEnd, false)));
            store<f32>(yr + (<usize>r << 2), hsum(dotHalf(w0, xr, 0, vEnd, false)));
          }
        }
        if (vEnd < k) {
          store<f32>(yr + (<usize>r << 2), load<f32>(yr + (<usize>r << 2)) + scalarTail(w0, xr, vEnd, k, kind));
          if (r1 != r) store<f32>(yr + (<usize>r1 << 2), load<f32>(yr + (<usize>r1 << 2)) + scalarTail(w1, xr, vEnd, k, kind));
          if (r2 != r) store<f32>(yr + (<usize>r2 << 2), load<f32>(yr + (<usize>r2 << 2)) + scalarTail(w2, xr, vEnd, k, kind));
          if (r3 != r) store<f32>(yr + (<usize>r3 << 2), load<f32>(yr + (<usize>r3 << 2)) + scalarTail(w3, xr, vEnd, k, kind));
        }
      }
    }
    return;
  }
  if (quant && (m == 1 || tmp == 0) && (blockSize & 31) == 0) {
    // int8 / int4 blocks against float x: two rows per pass from the two halves of the range;
    // each block's products are summed in registers, then scaled once
    const half = (rowEnd - rowStart + 1) >> 1;
    const int4 = kind == W_I4;
    const scaleRow = <usize>(k / blockSize) << 2;
    for (let r = rowStart; r < rowStart + half; r++) {
      const r1 = r + half < rowEnd ? r + half : r;
      const w0 = w + <usize>r * rowBytes, w1 = w + <usize>r1 * rowBytes;
      const s0 = scales + <usize>r * scaleRow, s1 = scales + <usize>r1 * scaleRow;
      for (let mi = 0; mi < m; mi++) {
        const yr = y + (<usize>(mi * n) << 2);
        // the format as a type argument (compile-time): with a runtime flag, or a constant one,
        // binaryen merged the two inlined copies into one loop that branched per block
        if (int4) dotQuantPair<u8>(w0, w1, s0, s1, x + (<usize>(mi * k) << 2), k, blockSize, yr + (<usize>r << 2), yr + (<usize>r1 << 2));
        else dotQuantPair<i8>(w0, w1, s0, s1, x + (<usize>(mi * k) << 2), k, blockSize, yr + (<usize>r << 2), yr + (<usize>r1 << 2));
      }
    }
    return;
  }
  for (let r = rowStart; r < rowEnd; r++) {
    const wr = w + <usize>r * rowBytes;
    const sr = quant ? scales + (<usize>(r * (k / blockSize)) << 2) : 0;
    if (quant && m > 1 && tmp != 0) {
      dequantRow(wr, sr, tmp, k, kind, blockSize);
      for (let mi = 0; mi < m; mi++) {
        const xr = x + (<usize>(mi * k) << 2);
        const total = hsum(dotF32(tmp, xr, 0, vEnd)) + scalarTail(tmp, xr, vEnd, k, W_F32);
        store<f32>(y + (<usize>(mi * n + r) << 2), total);
      }
      continue;
    }
    for (let mi = 0; mi < m; mi++) {
      const xr = x + (<usize>(mi * k) << 2);
      let total: f32 = 0;
      if (quant) {
        total = dotQuantRow(wr, sr, xr, k, kind, blockSize);
      } else {
        total = hsum(dotRange(wr, xr, 0, vEnd, kind)) + scalarTail(wr, xr, vEnd, k, kind);
      }
      store<f32>(y + (<usize>(mi * n + r) << 2), total);
    }
  }
}

/**
 * Rows [rowStart, rowEnd) of a weight matrix in any stored format, as float32 rows of K into
 * out (row r at out + r K): the first step of the prefill path, which then multiplies with the
 * GEMM kernel. `w` and `scales` point at row 0 of the rows being converted.
 */
export function dequantRows(w: usize, scales: usize, out: usize, k: i32, kind: i32, blockSize: i32, rowStart: i32, rowEnd: i32): void {
  const quant = kind == W_I8 || kind == W_I4;
  const elem: i32 = kind == W_F32 ? 4 : kind == W_I8 ? 1 : 2;
  const rowBytes = kind == W_I4 ? <usize>(k >> 1) : <usize>(k * elem);
  for (let r = rowStart; r < rowEnd; r++) {
    const wr = w + <usize>r * rowBytes;
    const o = out + (<usize>r * <usize>k << 2);
    if (quant) {
      dequantRow(wr, scales + (<usize>(r * (k / blockSize)) << 2), o, k, kind, blockSize);
      continue;
    }
    let j = 0;
    if (kind == W_F32) {
      memory.copy(o, wr, <usize>k << 2);
      continue;
    }
    for (; j + 8 <= k; j += 8) {
      const h = v128.load(wr + (<usize>j << 1));
      const lo = i32x4.extend_low_i16x8_u(h);
      const hi = i32x4.extend_high_i16x8_u(h);
      v128.store(o + (<usize>j << 2), kind == W_BF16 ? bf16ToFloat(lo) : halfToFloat(lo));
      v128.store(o + (<usize>j << 2), kind == W_BF16 ? bf16ToFloat(hi) : halfToFloat(hi), 16);
    }
    for (; j < k; j++) store<f32>(o + (<usize>j << 2), scalarWeight(wr, j, kind));
  }
}

/**
 * Sum of n floats: a plain memory read, the bandwidth yardstick for matvec. The range is read
 * as four sequential streams (its quarters) at once, as the matvec kernels read two or more
 * rows: a single stream per thread leaves bandwidth unused, and the yardstick must be the best
 * plain read, not an easy one.
 */
export function readSum(p: usize, n: i32): f32 {
  const q = (n >> 6) << 4; // floats per stream, a multiple of 16
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const p1 = p + (<usize>q << 2), p2 = p + (<usize>(2 * q) << 2), p3 = p + (<usize>(3 * q) << 2);
  for (let i = 0; i < q; i += 16) {
    const o = <usize>i << 2;
    a0 = f32x4.add(a0, f32x4.add(f32x4.add(v128.load(p + o), v128.load(p + o, 16)), f32x4.add(v128.load(p + o, 32), v128.load(p + o, 48))));
    a1 = f32x4.add(a1, f32x4.add(f32x4.add(v128.load(p1 + o), v128.load(p1 + o, 16)), f32x4.add(v128.load(p1 + o, 32), v128.load(p1 + o, 48))));
    a2 = f32x4.add(a2, f32x4.add(f32x4.add(v128.load(p2 + o), v128.load(p2 + o, 16)), f32x4.add(v128.load(p2 + o, 32), v128.load(p2 + o, 48))));
    a3 = f32x4.add(a3, f32x4.add(f32x4.add(v128.load(p3 + o), v128.load(p3 + o, 16)), f32x4.add(v128.load(p3 + o, 32), v128.load(p3 + o, 48))));
  }
  let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  for (let i = 4 * q; i < n; i++) s += load<f32>(p + (<usize>i << 2));
  return s;
}

// ---- llama.cpp's arithmetic for Q8_0 / Q4_0 weights -------------------------------------------
// ggml-cpu multiplies a quantised weight row by activations that it first quantises to q8_0
// blocks of 32 (quantize_row_q8_0, x86 path): amax = max |x| over the block, d = amax / 127
// stored in half precision, q = round-half-even(x * (127 / amax)) (0 for an all-zero block).
// A block's dot product is then an exact integer sum times d_w * d_x (ggml_vec_dot_q8_0_q8_0,
// ggml_vec_dot_q4_0_q8_0). Integer multiply-adds need about half the SIMD work of widening
// every weight to f32, which is where the decode matvec spends its time.

// f32 -> nearest f16 (ties to even) -> f32, for block scales that GGUF stores in half precision.
function roundToHalf(f: f32): f32 {
  const x = reinterpret<u32>(f);
  const sign = x & 0x80000000;
  const a = x & 0x7fffffff;
  if (a > 0x7f800000) return f; // NaN
  if (a >= 0x477ff000) return reinterpret<f32>(sign | 0x7f800000); // rounds past 65504: Inf
  if (a < 0x38800000) {
    // f16 subnormal range: multiples of 2^-24, exact scaling, f32 nearest is ties-to-even
    const v = reinterpret<f32>(a);
    const r: f32 = nearest<f32>(v * <f32>16777216.0) / <f32>16777216.0;
    return reinterpret<f32>(sign | reinterpret<u32>(r));
  }
  // normal: keep 10 mantissa bits, ties to even
  const r = (a + 0xfff + ((a >> 13) & 1)) & ~0x1fff;
  return reinterpret<f32>(sign | r);
}

/**
 * x [rows, k] (k a multiple of 32) -> q8_0 blocks: q (int8, rows k) and d (f32 holding half
 * values, rows k / 32), as ggml's quantize_row_q8_0.
 */
export function quantizeQ8Rows(x: usize, q: usize, d: usize, rows: i32, k: i32): void {
  const blocks = rows * (k >> 5);
  for (let i = 0; i < blocks; i++) {
    const xp = x + (<usize>i << 7);
    const v0 = v128.load(xp), v1 = v128.load(xp, 16), v2 = v128.load(xp, 32), v3 = v128.load(xp, 48);
    const v4 = v128.load(xp, 64), v5 = v128.load(xp, 80), v6 = v128.load(xp, 96), v7 = v128.load(xp, 112);
    let mx = f32x4.max(f32x4.max(f32x4.abs(v0), f32x4.abs(v1)), f32x4.max(f32x4.abs(v2), f32x4.abs(v3)));
    mx = f32x4.max(mx, f32x4.max(f32x4.max(f32x4.abs(v4), f32x4.abs(v5)), f32x4.max(f32x4.abs(v6), f32x4.abs(v7))));
    const amax = max(max(f32x4.extract_lane(mx, 0), f32x4.extract_lane(mx, 1)), max(f32x4.extract_lane(mx, 2), f32x4.extract_lane(mx, 3)));
    store<f32>(d + (<usize>i << 2), roundToHalf(amax / 127.0));
    const s = f32x4.splat(amax != 0 ? <f32>127.0 / amax : 0);
    const a = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v0, s))), i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v1, s))));
    const b = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v2, s))), i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v3, s))));
    const c = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v4, s))), i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v5, s))));
    const e = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v6, s))), i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v7, s))));
    const qp = q + (<usize>i << 5);
    v128.store(qp, i8x16.narrow_i16x8_s(a, b));
    v128.store(qp, i8x16.narrow_i16x8_s(c, e), 16);
  }
}

/** q8_0 blocks back to f32 (d * q): the activations the prefill GEMM multiplies in this mode. */
export function dequantQ8Rows(q: usize, d: usize, out: usize, rows: i32, k: i32): void {
  const blocks = rows * (k >> 5);
  for (let i = 0; i < blocks; i++) {
    const s4 = f32x4.splat(load<f32>(d + (<usize>i << 2)));
    const qp = q + (<usize>i << 5);
    const o = out + (<usize>i << 7);
    storeScaled16(v128.load(qp), s4, o);
    storeScaled16(v128.load(qp, 16), s4, o + 64);
  }
}

// Sum of 16 int8 products w[j] x[j], as i32x4 partial sums; every partial is exact (|w x| <=
// 128 * 127, two of them fit an i16 lane before widening).
// @ts-ignore: decorator
@inline function dot16(w: v128, x: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(i16x8.add(i16x8.extmul_low_i8x16_s(w, x), i16x8.extmul_high_i8x16_s(w, x)));
}

// ---- the relaxed-SIMD integer dot product --------------------------------------------------
// i16x8.relaxed_dot_i8x16_i7x16_s multiplies signed bytes by bytes in [0, 127] and adds pairs
// into i16 (x86: one pmaddubsw; its unsigned operand is the i7 one, so every runtime agrees on
// values in that range, and a pair of products, at most 2 * 128 * 127 in magnitude, never
// saturates). That is about twice the extmul path's rate. Neither operand of a q8 dot product
// is in [0, 127] as it stands, so prepareQ8Act rewrites the activations once per call:
//   int8 weights: x = x+ - x- with x+ = max(x, 0), x- = max(-x, 0), both in [0, 127];
//     dot(w, x) = dot(w, x+) - dot(w, x-), the i16 difference exact (|it| <= 2 * 128 * 127);
//     per 32-element block: x+ (32 bytes), then x- (32 bytes).
//   int4 weights (Q4_0, stored as u = q + 8 in [0, 15]): dot(x, q) = dot(x, u) - 8 sum(x);
//     per block: x (32 bytes), then the i32x4 (8 sum(x), 0, 0, 0) to subtract (16 bytes).

/** Bytes of prepared activations per 32-element q8 block (prepareQ8Act); 0 in the plain build, which reads xq. */
export function q8ActBlockBytes(int4: bool): i32 {
  if (!ASC_FEATURE_RELAXED_SIMD) return 0;
  return int4 ? 48 : 64;
}

/**
 * Rewrites q8_0 activations xq [rows, k] into the operands of the relaxed dot product (layout
 * above) at xa. Only the relaxed-SIMD build reads them; the plain build leaves xa untouched.
 */
export function prepareQ8Act(xq: usize, xa: usize, rows: i32, k: i32, int4: bool): void {
  if (!ASC_FEATURE_RELAXED_SIMD) return;
  const blocks = rows * (k >> 5);
  const zero = i8x16.splat(0);
  for (let i = 0; i < blocks; i++) {
    const qp = xq + (<usize>i << 5);
    const a = v128.load(qp), b = v128.load(qp, 16);
    if (int4) {
      const o = xa + <usize>i * 48;
      v128.store(o, a);
      v128.store(o, b, 16);
      // sum of the 32 bytes: widen pairwise twice, then across lanes
      const s4 = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(a)), i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(b)));
      const sum = i32x4.extract_lane(s4, 0) + i32x4.extract_lane(s4, 1) + i32x4.extract_lane(s4, 2) + i32x4.extract_lane(s4, 3);
      v128.store(o, i32x4.replace_lane(i32x4.splat(0), 0, sum << 3), 32);
    } else {
      const o = xa + (<usize>i << 6);
      v128.store(o, i8x16.max_s(a, zero));
      v128.store(o, i8x16.max_s(b, zero), 16);
      v128.store(o, i8x16.max_s(i8x16.neg(a), zero), 32);
      v128.store(o, i8x16.max_s(i8x16.neg(b), zero), 48);
    }
  }
}

// Integer sum over q8 block b (32 elements) of a weight row against the prepared activations
// at ap (that block's entry), as i32x4 partial sums. Relaxed-SIMD build only.
// @ts-ignore: decorator
@inline function relaxedBlock(wr: usize, b: i32, ap: usize, int4: bool): v128 {
  if (int4) {
    const p = v128.load(wr + (<usize>b << 4));
    const mask = i8x16.splat(0x0f);
    const lo = v128.and(p, mask), hi = v128.and(i16x8.shr_u(p, 4), mask);
    // each pair <= 2 * 127 * 15, so the two halves add in i16 before widening
    const d = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(ap), lo), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(ap, 16), hi));
    return i32x4.sub(i32x4.extadd_pairwise_i16x8_s(d), v128.load(ap, 32));
  }
  const wp = wr + (<usize>b << 5);
  const w0 = v128.load(wp), w1 = v128.load(wp, 16);
  const d0 = i16x8.sub(i16x8.relaxed_dot_i8x16_i7x16_s(w0, v128.load(ap)), i16x8.relaxed_dot_i8x16_i7x16_s(w0, v128.load(ap, 32)));
  const d1 = i16x8.sub(i16x8.relaxed_dot_i8x16_i7x16_s(w1, v128.load(ap, 16)), i16x8.relaxed_dot_i8x16_i7x16_s(w1, v128.load(ap, 48)));
  return i32x4.add(i32x4.extadd_pairwise_i16x8_s(d0), i32x4.extadd_pairwise_i16x8_s(d1));
}

/**
 * Rows [rowStart, rowEnd) of y[m, n] = x @ W^T with x given as q8_0 blocks (xq int8 [m, k], xd
 * f32 [m, k / 32]) and W int8 (Q8_0) or int4 (Q4_0) with one f32 scale per blockSize elements
 * (blockSize a multiple of 32). xa: xq rewritten by prepareQ8Act, which the relaxed-SIMD build
 * multiplies instead of xq.
 */
export function matvecQ8(
  xq: usize, xd: usize, xa: usize, w: usize, scales: usize, y: usize, m: i32, n: i32, k: i32, kind: i32, blockSize: i32, rowStart: i32, rowEnd: i32,
): void {
  const nb = k >> 5;
  const per = blockSize >> 5; // q8 blocks per weight scale
  const int4 = kind == W_I4;
  const rowBytes = int4 ? <usize>(k >> 1) : <usize>k;
  const scaleRow = <usize>(k / blockSize) << 2;
  if (per == 1) {
    // Q8_0 / Q4_0: two weight rows at a time share every activation load, and each pass walks
    // four rows, one from each quarter of the range, so that memory is read as four long
    // sequential streams (adjacent rows would start a new short stream per pass, which the
    // prefetchers follow badly, and fewer streams leave DRAM bandwidth unused). Rows past the
    // end repeat the first row of the pass.
    const stride: usize = ASC_FEATURE_RELAXED_SIMD ? (int4 ? 48 : 64) : 32;
    const act = ASC_FEATURE_RELAXED_SIMD ? xa : xq;
    const quarter = (rowEnd - rowStart + 3) >> 2;
    for (let r0 = rowStart; r0 < rowStart + quarter; r0++) {
      for (let j = 0; j < 2; j++) {
        // rows r0 + j q and r0 + (j + 2) q
        const ra = r0 + j * quarter < rowEnd ? r0 + j * quarter : r0;
        const rb = r0 + (j + 2) * quarter < rowEnd ? r0 + (j + 2) * quarter : r0;
        const w0 = w + <usize>ra * rowBytes, w1 = w + <usize>rb * rowBytes;
        const s0 = scales + <usize>ra * scaleRow, s1 = scales + <usize>rb * scaleRow;
        for (let mi = 0; mi < m; mi++) {
          const yr = y + (<usize>(mi * n) << 2);
          // the format as a type argument (compile-time), as in matvec's int8/int4 pass
          const ar = act + <usize>(mi * nb) * stride, dr = xd + (<usize>(mi * nb) << 2);
          if (int4) dotQ8Pair<u8>(w0, w1, s0, s1, ar, dr, nb, yr + (<usize>ra << 2), yr + (<usize>rb << 2));
          else dotQ8Pair<i8>(w0, w1, s0, s1, ar, dr, nb, yr + (<usize>ra << 2), yr + (<usize>rb << 2));
        }
      }
    }
    return;
  }
  for (let r = rowStart; r < rowEnd; r++) {
    const wr = w + <usize>r * rowBytes;
    const sr = scales + <usize>r * scaleRow;
    for (let mi = 0; mi < m; mi++) {
      const dr = xd + (<usize>(mi * nb) << 2);
      let total: f32;
      if (ASC_FEATURE_RELAXED_SIMD) {
        total = int4
          ? dotQ8RowRelaxed(wr, sr, xa + <usize>(mi * nb * 48), dr, nb, per, true)
          : dotQ8RowRelaxed(wr, sr, xa + (<usize>(mi * nb) << 6), dr, nb, per, false);
      } else {
        const xr = xq + <usize>(mi * k);
        total = int4 ? dotQ8Row(wr, sr, xr, dr, nb, per, true) : dotQ8Row(wr, sr, xr, dr, nb, per, false);
      }
      store<f32>(y + (<usize>(mi * n + r) << 2), total);
    }
  }
}

// Integer sum (as i32x4 partials) of weight row wr's q8 block b against that block's activations,
// already loaded: the relaxed build's prepared operands (a0..a3: x+ and x- for int8 weights;
// x and the correction for int4), the plain build's two int8 halves (a0, a1).
// @ts-ignore: decorator
@inline function blockSum(wr: usize, b: i32, a0: v128, a1: v128, a2: v128, a3: v128, int4: bool, ones: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    if (int4) {
      const p = v128.load(wr + (<usize>b << 4));
      const mask = i8x16.splat(0x0f);
      const lo = v128.and(p, mask), hi = v128.and(i16x8.shr_u(p, 4), mask);
      const d = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(a0, lo), i16x8.relaxed_dot_i8x16_i7x16_s(a1, hi));
      return i32x4.sub(i32x4.dot_i16x8_s(d, ones), a2);
    }
    const wp = wr + (<usize>b << 5);
    const w0 = v128.load(wp), w1 = v128.load(wp, 16);
    const d0 = i16x8.sub(i16x8.relaxed_dot_i8x16_i7x16_s(w0, a0), i16x8.relaxed_dot_i8x16_i7x16_s(w0, a2));
    const d1 = i16x8.sub(i16x8.relaxed_dot_i8x16_i7x16_s(w1, a1), i16x8.relaxed_dot_i8x16_i7x16_s(w1, a3));
    return i32x4.add(i32x4.dot_i16x8_s(d0, ones), i32x4.dot_i16x8_s(d1, ones));
  }
  return i32x4.add(dot16(q8Weights(wr, b, int4, 0), a0), dot16(q8Weights(wr, b, int4, 1), a1));
}

// Half of a 4x4 integer transpose-and-add: [a0+a2, b0+b2, a1+a3, b1+b3].
// @ts-ignore: decorator
@inline function pairSums(a: v128, b: v128): v128 {
  return i32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
}

// The other half: from pairSums(a, b) and pairSums(c, d), the totals [sum a, sum b, sum c, sum d].
// @ts-ignore: decorator
@inline function quadSums(ab: v128, cd: v128): v128 {
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

// Weight rows w0 and w1 (one f32 scale per q8 block, at s0 / s1) against one activation row
// (prepared blocks of `stride` bytes at ar, scales at dr), stored to y0 and y1. As llama.cpp's
// q8_0 dot: each block's integer sum is exact, then scaled by d_w d_x and added in float; four
// blocks' sums are transposed into one vector so that the scaling is one multiply-add per four.
// Two things here are for V8's TurboFan rather than for the arithmetic (measured on Zen 5):
// - after each block, one lane of its sums is stored to y0 / y1 (overwritten by the result at
//   the end; both are this call's own outputs). Memory operations keep their order, so the store
//   pins the block's loads and arithmetic before the next block's loads; without it TurboFan
//   hoisted every load of the four blocks to the top of the iteration and spilled a third of
//   them to the stack (0.57x). The per-format branches that used to sit there did the same, at
//   more cost.
// - `ones` is made from a value TurboFan cannot fold (nb >>> 31 is 0 for any nb this sees), so it
//   stays in a register; i32x4.extadd_pairwise_i16x8_s, or a constant splat, reloaded the
//   constant from memory, with its address, for every use.
// @ts-ignore: decorator
@inline function dotQ8Pair<F>(w0: usize, w1: usize, s0: usize, s1: usize, ar: usize, dr: usize, nb: i32, y0: usize, y1: usize): void {
  const int4 = !isSigned<F>(); // F: u8 for int4 weights, i8 for int8 (a compile-time switch)
  const stride: usize = ASC_FEATURE_RELAXED_SIMD ? (int4 ? 48 : 64) : 32;
  const zero = i32x4.splat(0);
  const ones = i16x8.splat(<i16>(1 + (nb >>> 31)));
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
  let b = 0;
  for (; b + 3 < nb; b += 4) {
    let ap = ar + <usize>b * stride;
    let a0 = v128.load(ap), a1 = v128.load(ap, 16);
    let a2 = ASC_FEATURE_RELAXED_SIMD ? v128.load(ap, 32) : zero, a3 = ASC_FEATURE_RELAXED_SIMD && !int4 ? v128.load(ap, 48) : zero;
    const p0 = blockSum(w0, b, a0, a1, a2, a3, int4, ones), q0 = blockSum(w1, b, a0, a1, a2, a3, int4, ones);
    v128.store32_lane(y0, p0, 0); v128.store32_lane(y1, q0, 0);
    ap += stride;
    a0 = v128.load(ap); a1 = v128.load(ap, 16);
    if (ASC_FEATURE_RELAXED_SIMD) a2 = v128.load(ap, 32);
    if (ASC_FEATURE_RELAXED_SIMD && !int4) a3 = v128.load(ap, 48);
    const p01 = pairSums(p0, blockSum(w0, b + 1, a0, a1, a2, a3, int4, ones)), q01 = pairSums(q0, blockSum(w1, b + 1, a0, a1, a2, a3, int4, ones));
    v128.store32_lane(y0, p01, 0); v128.store32_lane(y1, q01, 0);
    ap += stride;
    a0 = v128.load(ap); a1 = v128.load(ap, 16);
    if (ASC_FEATURE_RELAXED_SIMD) a2 = v128.load(ap, 32);
    if (ASC_FEATURE_RELAXED_SIMD && !int4) a3 = v128.load(ap, 48);
    const p2 = blockSum(w0, b + 2, a0, a1, a2, a3, int4, ones), q2 = blockSum(w1, b + 2, a0, a1, a2, a3, int4, ones);
    v128.store32_lane(y0, p2, 0); v128.store32_lane(y1, q2, 0);
    ap += stride;
    a0 = v128.load(ap); a1 = v128.load(ap, 16);
    if (ASC_FEATURE_RELAXED_SIMD) a2 = v128.load(ap, 32);
    if (ASC_FEATURE_RELAXED_SIMD && !int4) a3 = v128.load(ap, 48);
    const p23 = pairSums(p2, blockSum(w0, b + 3, a0, a1, a2, a3, int4, ones)), q23 = pairSums(q2, blockSum(w1, b + 3, a0, a1, a2, a3, int4, ones));
    v128.store32_lane(y0, p23, 0); v128.store32_lane(y1, q23, 0);
    const sb = <usize>b << 2;
    const dx = v128.load(dr + sb);
    acc0 = madd(f32x4.convert_i32x4_s(quadSums(p01, p23)), f32x4.mul(v128.load(s0 + sb), dx), acc0);
    acc1 = madd(f32x4.convert_i32x4_s(quadSums(q01, q23)), f32x4.mul(v128.load(s1 + sb), dx), acc1);
  }
  let t0 = hsum(acc0), t1 = hsum(acc1);
  for (; b < nb; b++) {
    const ap = ar + <usize>b * stride;
    const a0 = v128.load(ap), a1 = v128.load(ap, 16);
    const a2 = ASC_FEATURE_RELAXED_SIMD ? v128.load(ap, 32) : zero, a3 = ASC_FEATURE_RELAXED_SIMD && !int4 ? v128.load(ap, 48) : zero;
    const sb = <usize>b << 2;
    const dx = load<f32>(dr + sb);
    t0 += <f32>isum(blockSum(w0, b, a0, a1, a2, a3, int4, ones)) * (load<f32>(s0 + sb) * dx);
    t1 += <f32>isum(blockSum(w1, b, a0, a1, a2, a3, int4, ones)) * (load<f32>(s1 + sb) * dx);
  }
  store<f32>(y0, t0);
  store<f32>(y1, t1);
}

// @ts-ignore: decorator
@inline function isum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

// Weights of q8 block b of a row (32 elements) as two int8x16 vectors.
// @ts-ignore: decorator
@inline function q8Weights(wr: usize, b: i32, int4: bool, half: i32): v128 {
  if (int4) {
    // Q4_0: byte j holds element j (low nibble) and j + 16 (high nibble), each as q + 8
    const p = v128.load(wr + (<usize>b << 4));
    return half == 0 ? i8x16.sub(v128.and(p, i8x16.splat(0x0f)), i8x16.splat(8)) : i8x16.sub(i8x16.shr_u(p, 4), i8x16.splat(8));
  }
  return v128.load(wr + (<usize>b << 5) + (<usize>half << 4));
}

// One weight row against one q8 activation row: sum over blocks of d_w d_x sum(q_w q_x).
// @ts-ignore: decorator
@inline function dotQ8Row(wr: usize, sr: usize, xr: usize, dr: usize, nb: i32, per: i32, int4: bool): f32 {
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
  let b = 0;
  if (per == 1) {
    // one weight scale per q8 block (Q8_0, Q4_0): scales walk with the blocks
    for (; b + 1 < nb; b += 2) {
      const xp = xr + (<usize>b << 5);
      const s0 = i32x4.add(dot16(q8Weights(wr, b, int4, 0), v128.load(xp)), dot16(q8Weights(wr, b, int4, 1), v128.load(xp, 16)));
      const s1 = i32x4.add(dot16(q8Weights(wr, b + 1, int4, 0), v128.load(xp, 32)), dot16(q8Weights(wr, b + 1, int4, 1), v128.load(xp, 48)));
      const sb = <usize>b << 2;
      acc0 = madd(f32x4.convert_i32x4_s(s0), f32x4.splat(load<f32>(sr + sb) * load<f32>(dr + sb)), acc0);
      acc1 = madd(f32x4.convert_i32x4_s(s1), f32x4.splat(load<f32>(sr + sb, 4) * load<f32>(dr + sb, 4)), acc1);
    }
  }
  for (; b < nb; b++) {
    const xp = xr + (<usize>b << 5);
    const s0 = i32x4.add(dot16(q8Weights(wr, b, int4, 0), v128.load(xp)), dot16(q8Weights(wr, b, int4, 1), v128.load(xp, 16)));
    const d = load<f32>(sr + (<usize>(b / per) << 2)) * load<f32>(dr + (<usize>b << 2));
    acc0 = madd(f32x4.convert_i32x4_s(s0), f32x4.splat(d), acc0);
  }
  return hsum(f32x4.add(acc0, acc1));
}

// dotQ8Row over the prepared activations (prepareQ8Act) with the relaxed dot product.
// @ts-ignore: decorator
@inline function dotQ8RowRelaxed(wr: usize, sr: usize, ar: usize, dr: usize, nb: i32, per: i32, int4: bool): f32 {
  const stride: usize = int4 ? 48 : 64;
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
  let b = 0;
  if (per == 1) {
    for (; b + 1 < nb; b += 2) {
      const ap = ar + <usize>b * stride;
      const s0 = relaxedBlock(wr, b, ap, int4);
      const s1 = relaxedBlock(wr, b + 1, ap + stride, int4);
      const sb = <usize>b << 2;
      acc0 = madd(f32x4.convert_i32x4_s(s0), f32x4.splat(load<f32>(sr + sb) * load<f32>(dr + sb)), acc0);
      acc1 = madd(f32x4.convert_i32x4_s(s1), f32x4.splat(load<f32>(sr + sb, 4) * load<f32>(dr + sb, 4)), acc1);
    }
  }
  for (; b < nb; b++) {
    const s0 = relaxedBlock(wr, b, ar + <usize>b * stride, int4);
    const d = load<f32>(sr + (<usize>(b / per) << 2)) * load<f32>(dr + (<usize>b << 2));
    acc0 = madd(f32x4.convert_i32x4_s(s0), f32x4.splat(d), acc0);
  }
  return hsum(f32x4.add(acc0, acc1));
}
