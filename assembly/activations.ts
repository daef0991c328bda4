import { sigmoidv } from './simd';

// Fused GELU forward and backward (Hendrycks & Gimpel 2016): exact x * Phi(x) (BERT) or the
// tanh approximation (GPT-2). One pass instead of the ~10 (forward) and ~20 (backward)
// elementwise ops of the composed version in src/ops/activations.ts.

const SQRT_2_OVER_PI: f64 = 0.7978845608028654;
const INV_SQRT_2PI: f64 = 0.3989422804014327;
const SQRT1_2: f64 = 0.7071067811865476;

/** erf to double precision: positive series below 2.5, erfc continued fraction above. */
function erf(x: f64): f64 {
  const ax = Math.abs(x);
  if (ax >= 6) return x < 0 ? -1 : 1;
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    const x2 = 2 * ax * ax;
    for (let n = 1; n < 200; n++) {
      term *= x2 / <f64>(2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    const r = 1.1283791670955126 * Math.exp(-ax * ax) * sum;
    return x < 0 ? -r : r;
  }
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + <f64>n / 2 / f;
  const erfc = Math.exp(-ax * ax) / 1.7724538509055159 / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

export function geluForward(x: usize, y: usize, n: i32, tanhForm: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = <f64>load<f32>(x + o);
    let r: f64;
    if (tanhForm) r = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
    else r = 0.5 * v * (1 + erf(v * SQRT1_2));
    store<f32>(y + o, <f32>r);
  }
}

export function geluBackward(x: usize, gy: usize, gx: usize, n: i32, tanhForm: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = <f64>load<f32>(x + o);
    let d: f64;
    if (tanhForm) {
      const t = Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
      d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
    } else {
      d = 0.5 * (1 + erf(v * SQRT1_2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v);
    }
    store<f32>(gx + o, <f32>(d * <f64>load<f32>(gy + o)));
  }
}

// SwiGLU's gate y = silu(g) * u = g * sigmoid(g) * u, and its gradients
// dg = gy * u * s * (1 + g * (1 - s)), du = gy * g * s with s = sigmoid(g).

export function swigluForward(g: usize, u: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const gv = v128.load(g + o);
    v128.store(y + o, f32x4.mul(f32x4.mul(gv, sigmoidv(gv)), v128.load(u + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gv = load<f32>(g + o);
    store<f32>(y + o, gv * f32x4.extract_lane(sigmoidv(f32x4.splat(gv)), 0) * load<f32>(u + o));
  }
}

// @ts-ignore: decorator
@inline function swigluGrads(gv: v128, uv: v128, gyv: v128, gg: usize, gu: usize, o: usize): void {
  const s = sigmoidv(gv);
  const one = f32x4.splat(1);
  const dsilu = f32x4.mul(s, f32x4.add(one, f32x4.mul(gv, f32x4.sub(one, s))));
  v128.store(gg + o, f32x4.mul(f32x4.mul(gyv, uv), dsilu));
  v128.store(gu + o, f32x4.mul(gyv, f32x4.mul(gv, s)));
}

export function swigluBackward(g: usize, u: usize, gy: usize, gg: usize, gu: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    swigluGrads(v128.load(g + o), v128.load(u + o), v128.load(gy + o), gg, gu, o);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const s = f32x4.extract_lane(sigmoidv(f32x4.splat(load<f32>(g + o))), 0);
    const gv = load<f32>(g + o), uv = load<f32>(u + o), gyv = load<f32>(gy + o);
    store<f32>(gg + o, gyv * uv * (s * (<f32>1 + gv * (<f32>1 - s))));
    store<f32>(gu + o, gyv * (gv * s));
  }
}
