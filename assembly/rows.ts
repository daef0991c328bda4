// Row-wise fused kernels over the last axis of contiguous f32 tensors: softmax / log-softmax,
// LayerNorm / RMSNorm and cross-entropy, forward and backward. Same semantics as the reference
// backend's fused kernels (src/backends/reference/fused.ts), which are their oracle.

import { expShifted, expSum, expv, hmax } from './simd';

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

function rowMax(x: usize, c: i32): f32 {
  let mv = f32x4.splat(-Infinity);
  let j = 0;
  for (; j + 4 <= c; j += 4) mv = f32x4.max(mv, v128.load(at(x, j))); // NaN-propagating
  let m = hmax(mv);
  for (; j < c; j++) {
    const v = load<f32>(at(x, j));
    if (v > m || v != v) m = v;
  }
  return m;
}

/** log(sum(exp(row))), -inf for an all -inf row. */
function rowLse(x: usize, c: i32): f32 {
  const m = rowMax(x, c);
  const shift: f32 = m == -Infinity || m == Infinity ? 0 : m;
  return Mathf.log(expSum(x, c, shift)) + shift;
}

/** y = alpha * x over c floats (x may equal y). */
function scaleRow(x: usize, y: usize, c: i32, alpha: f32): void {
  const av = f32x4.splat(alpha);
  let j = 0;
  for (; j + 4 <= c; j += 4) v128.store(at(y, j), f32x4.mul(v128.load(at(x, j)), av));
  for (; j < c; j++) store<f32>(at(y, j), load<f32>(at(x, j)) * alpha);
}

export function softmaxForward(x: usize, y: usize, rows: i32, c: i32, log: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = at(x, r * c);
    const yr = at(y, r * c);
    if (log) {
      const lse = rowLse(xr, c);
      const lv = f32x4.splat(lse);
      let j = 0;
      for (; j + 4 <= c; j += 4) v128.store(at(yr, j), f32x4.sub(v128.load(at(xr, j)), lv));
      for (; j < c; j++) store<f32>(at(yr, j), load<f32>(at(xr, j)) - lse);
      continue;
    }
    const s = expShifted(xr, yr, c, rowMax(xr, c));
    scaleRow(yr, yr, c, <f32>1 / s);
  }
}

export function softmaxBackward(y: usize, gy: usize, gx: usize, rows: i32, c: i32, log: i32): void {
  for (let r = 0; r < rows; r++) {
    const yr = at(y, r * c);
    const gr = at(gy, r * c);
    const xr = at(gx, r * c);
    let s: f32 = 0;
    if (log) {
      for (let j = 0; j < c; j++) s += load<f32>(at(gr, j));
      // gx = g - exp(y) * s
      expShifted(yr, xr, c, 0);
      const sv = f32x4.splat(s);
      let j = 0;
      for (; j + 4 <= c; j += 4) v128.store(at(xr, j), f32x4.sub(v128.load(at(gr, j)), f32x4.mul(v128.load(at(xr, j)), sv)));
      for (; j < c; j++) store<f32>(at(xr, j), load<f32>(at(gr, j)) - load<f32>(at(xr, j)) * s);
    } else {
      for (let j = 0; j < c; j++) s += load<f32>(at(yr, j)) * load<f32>(at(gr, j));
      for (let j = 0; j < c; j++) store<f32>(at(xr, j), load<f32>(at(yr, j)) * (load<f32>(at(gr, j)) - s));
    }
  }
}

/** LayerNorm (centered = 1) or RMSNorm (0); w, b may be 0; mean may be 0 for RMSNorm. */
export function normForward(
  x: usize, w: usize, b: usize, y: usize, mean: usize, rstd: usize, rows: i32, c: i32, eps: f32, centered: i32,
): void {
  for (let r = 0; r < rows; r++) {
    const xr = at(x, r * c);
    const yr = at(y, r * c);
    let mu: f32 = 0;
    if (centered) {
      for (let j = 0; j < c; j++) mu += load<f32>(at(xr, j));
      mu /= <f32>c;
      store<f32>(at(mean, r), mu);
    }
    let v: f32 = 0;
    for (let j = 0; j < c; j++) {
      const d = load<f32>(at(xr, j)) - mu;
      v += d * d;
    }
    const rs = <f32>1 / Mathf.sqrt(v / <f32>c + eps);
    store<f32>(at(rstd, r), rs);
    for (let j = 0; j < c; j++) {
      let t = (load<f32>(at(xr, j)) - mu) * rs;
      if (w) t *= load<f32>(at(w, j));
      if (b) t += load<f32>(at(b, j));
      store<f32>(at(yr, j), t);
    }
  }
}

/** gw, gb (when non-zero) must be zeroed by the caller; they accumulate over rows. */
export function normBackward(
  gy: usize, x: usize, w: usize, mean: usize, rstd: usize, gx: usize, gw: usize, gb: usize, rows: i32, c: i32, centered: i32,
): void {
  for (let r = 0; r < rows; r++) {
    const xr = at(x, r * c);
    const gr = at(gy, r * c);
    const mu: f32 = centered ? load<f32>(at(mean, r)) : 0;
    const rs = load<f32>(at(rstd, r));
    let sumG: f32 = 0;
    let sumGX: f32 = 0;
    for (let j = 0; j < c; j++) {
      const xh = (load<f32>(at(xr, j)) - mu) * rs;
      const g = load<f32>(at(gr, j));
      const gh = w ? g * load<f32>(at(w, j)) : g;
      sumG += gh;
      sumGX += gh * xh;
      if (gw) store<f32>(at(gw, j), load<f32>(at(gw, j)) + g * xh);
      if (gb) store<f32>(at(gb, j), load<f32>(at(gb, j)) + g);
    }
    const mg: f32 = centered ? sumG / <f32>c : 0;
    const mgx = sumGX / <f32>c;
    const xo = at(gx, r * c);
    for (let j = 0; j < c; j++) {
      const xh = (load<f32>(at(xr, j)) - mu) * rs;
      const g = load<f32>(at(gr, j));
      const gh = w ? g * load<f32>(at(w, j)) : g;
      store<f32>(at(xo, j), rs * (gh - mg - xh * mgx));
    }
  }
}

/**
 * Per-row cross-entropy with label smoothing eps; targets equal to ignoreIndex give 0.
 * Returns the first out-of-range target found, or ignoreIndex if all are valid.
 */
export function crossEntropyForward(
  logits: usize, targets: usize, loss: usize, lse: usize, rows: i32, c: i32, ignoreIndex: i32, eps: f32,
): i32 {
  for (let r = 0; r < rows; r++) {
    const xr = at(logits, r * c);
    const l = rowLse(xr, c);
    store<f32>(at(lse, r), l);
    const t = load<i32>(at(targets, r));
    if (t == ignoreIndex) {
      store<f32>(at(loss, r), 0);
      continue;
    }
    if (t < 0 || t >= c) return t;
    let v = (<f32>1 - eps) * (l - load<f32>(at(xr, t)));
    if (eps > 0) {
      let mean: f32 = 0;
      for (let j = 0; j < c; j++) mean += load<f32>(at(xr, j));
      v += eps * (l - mean / <f32>c);
    }
    store<f32>(at(loss, r), v);
  }
  return ignoreIndex;
}

export function crossEntropyBackward(
  logits: usize, targets: usize, lse: usize, gLoss: usize, gx: usize, rows: i32, c: i32, ignoreIndex: i32, eps: f32,
): void {
  for (let r = 0; r < rows; r++) {
    const xr = at(logits, r * c);
    const gr = at(gx, r * c);
    const t = load<i32>(at(targets, r));
    if (t == ignoreIndex) {
      memory.fill(gr, 0, <usize>c << 2);
      continue;
    }
    const g = load<f32>(at(gLoss, r));
    const l = load<f32>(at(lse, r));
    const base = eps / <f32>c;
    // g * (p - eps / c - (1 - eps) [j == t]), p = exp(x - lse)
    expShifted(xr, gr, c, l);
    const gv = f32x4.splat(g);
    const bv = f32x4.splat(base);
    let j = 0;
    for (; j + 4 <= c; j += 4) v128.store(at(gr, j), f32x4.mul(gv, f32x4.sub(v128.load(at(gr, j)), bv)));
    for (; j < c; j++) store<f32>(at(gr, j), g * (load<f32>(at(gr, j)) - base));
    const pt = f32x4.extract_lane(expv(f32x4.splat(load<f32>(at(xr, t)) - l)), 0);
    store<f32>(at(gr, t), g * (pt - base - (<f32>1 - eps)));
  }
}
