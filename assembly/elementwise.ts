// Elementwise f32 kernels over contiguous buffers, for the layouts that dominate transformer
// code: same-shape operands, a scalar operand, and a row vector broadcast over leading axes
// (bias adds, norm weights). Anything else stays on the reference backend.

import { expv, sigmoidv } from './simd';

// unary op codes (match src/backends/wasm/elementwise.ts)
const NEG = 0, EXP = 1, LOG = 2, SQRT = 3, ABS = 4, TANH = 5, SIGMOID = 6, SIN = 7, COS = 8, SIGN = 9;
// binary op codes
const ADD = 0, SUB = 1, MUL = 2, DIV = 3, MAX = 4, MIN = 5, POW = 6;
// operand layouts for binary ops
const SAME = 0, B_SCALAR = 1, A_SCALAR = 2, B_ROW = 3, A_ROW = 4;

// @ts-ignore: decorator
@inline function scalarUnary(op: i32, x: f32): f32 {
  switch (op) {
    case EXP: return f32x4.extract_lane(expv(f32x4.splat(x)), 0);
    case LOG: return Mathf.log(x);
    case TANH: return Mathf.tanh(x);
    case SIGMOID: return f32x4.extract_lane(sigmoidv(f32x4.splat(x)), 0);
    case SIN: return Mathf.sin(x);
    case COS: return Mathf.cos(x);
    case SIGN: return x > 0 ? <f32>1 : x < 0 ? <f32>-1 : x == 0 ? <f32>0 : x;
    case SQRT: return Mathf.sqrt(x);
    case ABS: return Mathf.abs(x);
    default: return -x;
  }
}

export function unaryF32(op: i32, x: usize, y: usize, n: i32): void {
  let i = 0;
  if (op == NEG || op == ABS || op == SQRT || op == EXP || op == SIGMOID) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(x + o);
      let r: v128;
      switch (op) {
        case NEG: r = f32x4.neg(v); break;
        case ABS: r = f32x4.abs(v); break;
        case SQRT: r = f32x4.sqrt(v); break;
        case EXP: r = expv(v); break;
        default: r = sigmoidv(v);
      }
      v128.store(y + o, r);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, scalarUnary(op, load<f32>(x + o)));
  }
}

// @ts-ignore: decorator
@inline function vecOp(op: i32, a: v128, b: v128): v128 {
  switch (op) {
    case ADD: return f32x4.add(a, b);
    case SUB: return f32x4.sub(a, b);
    case MUL: return f32x4.mul(a, b);
    case DIV: return f32x4.div(a, b);
    case MAX: return f32x4.max(a, b); // NaN-propagating, as torch.maximum
    default: return f32x4.min(a, b);
  }
}

// @ts-ignore: decorator
@inline function scalarOp(op: i32, a: f32, b: f32): f32 {
  switch (op) {
    case ADD: return a + b;
    case SUB: return a - b;
    case MUL: return a * b;
    case DIV: return a / b;
    case MAX: return a != a || b != b ? NaN : max(a, b);
    case MIN: return a != a || b != b ? NaN : min(a, b);
    default: return Mathf.pow(a, b);
  }
}

/**
 * y = a op b over n outputs. layout: SAME (both n), B_SCALAR / A_SCALAR (one element),
 * B_ROW / A_ROW (that operand has `inner` elements repeated over the leading axes).
 */
export function binaryF32(op: i32, a: usize, b: usize, y: usize, n: i32, layout: i32, inner: i32): void {
  if (op == POW) {
    for (let i = 0; i < n; i++) {
      const ia = layout == A_SCALAR ? 0 : layout == A_ROW ? i % inner : i;
      const ib = layout == B_SCALAR ? 0 : layout == B_ROW ? i % inner : i;
      store<f32>(y + (<usize>i << 2), Mathf.pow(load<f32>(a + (<usize>ia << 2)), load<f32>(b + (<usize>ib << 2))));
    }
    return;
  }
  if (layout == SAME || layout == B_SCALAR || layout == A_SCALAR) {
    const sa = v128.load32_splat(a);
    const sb = v128.load32_splat(b);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const va = layout == A_SCALAR ? sa : v128.load(a + o);
      const vb = layout == B_SCALAR ? sb : v128.load(b + o);
      v128.store(y + o, vecOp(op, va, vb));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const xa = layout == A_SCALAR ? load<f32>(a) : load<f32>(a + o);
      const xb = layout == B_SCALAR ? load<f32>(b) : load<f32>(b + o);
      store<f32>(y + o, scalarOp(op, xa, xb));
    }
    return;
  }
  // row broadcast: rows of `inner` elements
  const rows = n / inner;
  for (let r = 0; r < rows; r++) {
    const base = <usize>(r * inner) << 2;
    let j = 0;
    for (; j + 4 <= inner; j += 4) {
      const o = <usize>j << 2;
      const va = layout == A_ROW ? v128.load(a + o) : v128.load(a + base + o);
      const vb = layout == B_ROW ? v128.load(b + o) : v128.load(b + base + o);
      v128.store(y + base + o, vecOp(op, va, vb));
    }
    for (; j < inner; j++) {
      const o = <usize>j << 2;
      const xa = layout == A_ROW ? load<f32>(a + o) : load<f32>(a + base + o);
      const xb = layout == B_ROW ? load<f32>(b + o) : load<f32>(b + base + o);
      store<f32>(y + base + o, scalarOp(op, xa, xb));
    }
  }
}
