// Row-wise fused kernels over the last axis of contiguous f32 tensors: softmax / log-softmax,
// LayerNorm / RMSNorm and cross-entropy, forward and backward. Same semantics as the reference
// backend's fused kernels (src/backends/reference/fused.ts), which are their oracle.

import { expShifted, expSum, expv, hmax, hsum } from './simd';

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

// Sum of (x[j] - mu)^p over c floats, p = 1 or 2: four vector accumulators (sixteen partial
// sums), so the adds do not wait on one another.
// @ts-ignore: decorator
@inline function rowMoment(x: usize, c: i32, mu: f32, square: bool): f32 {
  const mv = f32x4.splat(mu);
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let j = 0;
  for (; j + 16 <= c; j += 16) {
    const p = at(x, j);
    const d0 = f32x4.sub(v128.load(p), mv), d1 = f32x4.sub(v128.load(p, 16), mv);
    const d2 = f32x4.sub(v128.load(p, 32), mv), d3 = f32x4.sub(v128.load(p, 48), mv);
    a0 = f32x4.add(a0, square ? f32x4.mul(d0, d0) : d0);
    a1 = f32x4.add(a1, square ? f32x4.mul(d1, d1) : d1);
    a2 = f32x4.add(a2, square ? f32x4.mul(d2, d2) : d2);
    a3 = f32x4.add(a3, square ? f32x4.mul(d3, d3) : d3);
  }
  for (; j + 4 <= c; j += 4) {
    const d = f32x4.sub(v128.load(at(x, j)), mv);
    a0 = f32x4.add(a0, square ? f32x4.mul(d, d) : d);
  }
  let t = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  for (; j < c; j++) {
    const d = load<f32>(at(x, j)) - mu;
    t += square ? d * d : d;
  }
  return t;
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
      s = rowMoment(gr, c, 0, false);
      // gx = g - exp(y) * s
      expShifted(yr, xr, c, 0);
      const sv = f32x4.splat(s);
      let j = 0;
      for (; j + 4 <= c; j += 4) v128.store(at(xr, j), f32x4.sub(v128.load(at(gr, j)), f32x4.mul(v128.load(at(xr, j)), sv)));
      for (; j < c; j++) store<f32>(at(xr, j), load<f32>(at(gr, j)) - load<f32>(at(xr, j)) * s);
    } else {
      // gx = y * (g - sum(y g))
      let a0 = f32x4.splat(0), a1 = a0;
      let j = 0;
      for (; j + 8 <= c; j += 8) {
        a0 = f32x4.add(a0, f32x4.mul(v128.load(at(yr, j)), v128.load(at(gr, j))));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(at(yr, j), 16), v128.load(at(gr, j), 16)));
      }
      for (; j + 4 <= c; j += 4) a0 = f32x4.add(a0, f32x4.mul(v128.load(at(yr, j)), v128.load(at(gr, j))));
      s = hsum(f32x4.add(a0, a1));
      for (; j < c; j++) s += load<f32>(at(yr, j)) * load<f32>(at(gr, j));
      const sv = f32x4.splat(s);
      j = 0;
      for (; j + 4 <= c; j += 4) v128.store(at(xr, j), f32x4.mul(v128.load(at(yr, j)), f32x4.sub(v128.load(at(gr, j)), sv)));
      for (; j < c; j++) store<f32>(at(xr, j), load<f32>(at(yr, j)) * (load<f32>(at(gr, j)) - s));
    }
  }
}

/** LayerNorm (centered = 1) or RMSNorm (0); w, b may be 0; mean may be 0 for RMSNorm. */
export function normForward(
  x: usize, w: usize, b: usize, y: usize, mean: usize, rstd: usize, rows: i32, c: i32, eps: f32, centered: i32,
): void {
  const one = f32x4.splat(1);
  for (let r = 0; r < rows; r++) {
    const xr = at(x, r * c);
    const yr = at(y, r * c);
    let mu: f32 = 0;
    if (centered) {
      mu = rowMoment(xr, c, 0, false) / <f32>c;
      store<f32>(at(mean, r), mu);
    }
    const rs = <f32>1 / Mathf.sqrt(rowMoment(xr, c, mu, true) / <f32>c + eps);
    store<f32>(at(rstd, r), rs);
    const mv = f32x4.splat(mu), rv = f32x4.splat(rs);
    let j = 0;
    for (; j + 4 <= c; j += 4) {
      let t = f32x4.mul(f32x4.sub(v128.load(at(xr, j)), mv), rv);
      t = f32x4.mul(t, w ? v128.load(at(w, j)) : one);
      if (b) t = f32x4.add(t, v128.load(at(b, j)));
      v128.store(at(yr, j), t);
    }
    for (; j < c; j++) {
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
  const one = f32x4.splat(1);
  const c4 = c & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = at(x, r * c);
    const gr = at(gy, r * c);
    const mu: f32 = centered ? load<f32>(at(mean, r)) : 0;
    const rs = load<f32>(at(rstd, r));
    const mv = f32x4.splat(mu), rv = f32x4.splat(rs);
    // sums of gh = g w and of gh xh over the row (two vector accumulators each), and the
    // weight and bias gradients, four columns at a time
    let sg0 = f32x4.splat(0), sg1 = sg0, sx0 = sg0, sx1 = sg0;
    let j = 0;
    for (; j + 8 <= c4; j += 8) {
      const xa = f32x4.mul(f32x4.sub(v128.load(at(xr, j)), mv), rv), xb = f32x4.mul(f32x4.sub(v128.load(at(xr, j), 16), mv), rv);
      const ga = v128.load(at(gr, j)), gb8 = v128.load(at(gr, j), 16);
      const ha = f32x4.mul(ga, w ? v128.load(at(w, j)) : one), hb = f32x4.mul(gb8, w ? v128.load(at(w, j), 16) : one);
      sg0 = f32x4.add(sg0, ha);
      sg1 = f32x4.add(sg1, hb);
      sx0 = f32x4.add(sx0, f32x4.mul(ha, xa));
      sx1 = f32x4.add(sx1, f32x4.mul(hb, xb));
      if (gw) {
        v128.store(at(gw, j), f32x4.add(v128.load(at(gw, j)), f32x4.mul(ga, xa)));
        v128.store(at(gw, j), f32x4.add(v128.load(at(gw, j), 16), f32x4.mul(gb8, xb)), 16);
      }
      if (gb) {
        v128.store(at(gb, j), f32x4.add(v128.load(at(gb, j)), ga));
        v128.store(at(gb, j), f32x4.add(v128.load(at(gb, j), 16), gb8), 16);
      }
    }
    for (; j < c4; j += 4) {
      const xa = f32x4.mul(f32x4.sub(v128.load(at(xr, j)), mv), rv);
      const ga = v128.load(at(gr, j));
      const ha = f32x4.mul(ga, w ? v128.load(at(w, j)) : one);
      sg0 = f32x4.add(sg0, ha);
      sx0 = f32x4.add(sx0, f32x4.mul(ha, xa));
      if (gw) v128.store(at(gw, j), f32x4.add(v128.load(at(gw, j)), f32x4.mul(ga, xa)));
      if (gb) v128.store(at(gb, j), f32x4.add(v128.load(at(gb, j)), ga));
    }
    let sumG = hsum(f32x4.add(sg0, sg1));
    let sumGX = hsum(f32x4.add(sx0, sx1));
    for (; j < c; j++) {
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
    const mgv = f32x4.splat(mg), mgxv = f32x4.splat(mgx);
    j = 0;
    for (; j < c4; j += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(at(xr, j)), mv), rv);
      const gh = f32x4.mul(v128.load(at(gr, j)), w ? v128.load(at(w, j)) : one);
      v128.store(at(xo, j), f32x4.mul(rv, f32x4.sub(f32x4.sub(gh, mgv), f32x4.mul(xh, mgxv))));
    }
    for (; j < c; j++) {
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
      v += eps * (l - rowMoment(xr, c, 0, false) / <f32>c);
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
