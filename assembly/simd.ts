// SIMD helpers shared by the kernels: multiply-add (fused on the relaxed build), horizontal
// reductions, and a 4-lane exp for softmax, sigmoid, cross-entropy and attention.

// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** Largest lane (NaN if any lane is NaN, as f32.max). */
// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/**
 * [a·, b·, c·, d·]: the lane sums of four accumulators in one vector (a 4x4 transpose-and-add),
 * for four dot products computed side by side.
 */
// @ts-ignore: decorator
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7)); // a0+a2 b0+b2 a1+a3 b1+b3
  const cd = f32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return f32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/**
 * e^x in 4 lanes (Cephes expf: x = n ln2 + r with |r| <= ln2/2, a degree-7 polynomial for e^r,
 * then 2^n), within 2 ulp of the correctly rounded result over the whole float range: x is
 * clamped to [-104, 89] and 2^n applied as two factors, so large x overflows to +Inf, small x
 * underflows through the subnormals to 0, and NaN stays NaN (min/max propagate it).
 */
// @ts-ignore: decorator
@inline export function expv(x: v128): v128 {
  const xc = f32x4.max(f32x4.min(x, f32x4.splat(89.0)), f32x4.splat(-104.0));
  // n = round(x log2 e): adding 1.5 * 2^23 rounds to an integer (ties to even, as nearest()),
  // and that integer is then also the low bits of the sum, which saves the float -> int
  // conversion (a saturating trunc is several instructions in wasm)
  const magic = f32x4.splat(12582912.0);
  const t = f32x4.add(f32x4.mul(xc, f32x4.splat(1.44269504088896341)), magic);
  const n = f32x4.sub(t, magic);
  // r = x - n ln2 in two parts (ln2_hi has 9 significant bits, so n * ln2_hi is exact)
  let r = madd(n, f32x4.splat(-0.693359375), xc);
  r = madd(n, f32x4.splat(2.12194440e-4), r);
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  p = madd(p, f32x4.mul(r, r), f32x4.add(r, f32x4.splat(1)));
  // 2^n = 2^h * 2^(n-h), h = n >> 1: each factor a normal float for n in [-150, 129]
  const ni = i32x4.sub(t, i32x4.splat(0x4b400000));
  const h = i32x4.shr_s(ni, 1);
  const s1 = i32x4.shl(i32x4.add(h, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ni, h), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

/** sigmoid in 4 lanes: e = exp(-|x|), then 1 / (1 + e) or e / (1 + e), so no lane overflows. */
// @ts-ignore: decorator
@inline export function sigmoidv(x: v128): v128 {
  const e = expv(f32x4.neg(f32x4.abs(x)));
  const inv = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
  return v128.bitselect(inv, f32x4.mul(e, inv), f32x4.ge(x, f32x4.splat(0)));
}

/** exp over n floats: y[i] = e^(x[i] - shift); returns the sum of the results (x may equal y). */
export function expShifted(x: usize, y: usize, n: i32, shift: f32): f32 {
  const sv = f32x4.splat(shift);
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const e = expv(f32x4.sub(v128.load(x + o), sv));
    v128.store(y + o, e);
    acc = f32x4.add(acc, e);
  }
  let s = hsum(acc);
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const e = f32x4.extract_lane(expv(f32x4.splat(load<f32>(x + o) - shift)), 0);
    store<f32>(y + o, e);
    s += e;
  }
  return s;
}

/** The sum of e^(x[i] - shift) over n floats. */
export function expSum(x: usize, n: i32, shift: f32): f32 {
  const sv = f32x4.splat(shift);
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, expv(f32x4.sub(v128.load(x + (<usize>i << 2)), sv)));
  let s = hsum(acc);
  for (; i < n; i++) s += f32x4.extract_lane(expv(f32x4.splat(load<f32>(x + (<usize>i << 2)) - shift)), 0);
  return s;
}
