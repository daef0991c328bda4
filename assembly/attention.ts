// Exact attention without the [Tq, Tk] score matrix (FlashAttention, Dao et al. 2022; the
// backward as in FlashAttention-2, Dao 2023): scores are computed per block of keys, the softmax
// is accumulated online (running max m and normaliser l per query row), and the backward
// recomputes each score from the saved log-sum-exp instead of storing probabilities.
//
// Layouts (contiguous f32): q [B, Hq, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv],
// out [B, Hq, Tq, Dv], lse [B, Hq, Tq]. Query head h reads KV head h / (Hq / Hkv) (GQA/MQA).
// Query row i sits at absolute position i + (Tk - Tq) (so a decode step's single query is the
// last position). Masks: causal (key j <= position), sliding window (|position - j| < window;
// with causal only the past side matters),
// and an optional additive bias read through element strides (0 on broadcast axes).

const BC: i32 = 64; // keys per block

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

function dot(a: usize, b: usize, n: i32): f32 {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    acc0 = madd(v128.load(a + o), v128.load(b + o), acc0);
    acc1 = madd(v128.load(a + o, 16), v128.load(b + o, 16), acc1);
  }
  let s = hsum(f32x4.add(acc0, acc1));
  for (; i < n; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

// y += alpha * x over n floats
function axpy(y: usize, x: usize, alpha: f32, n: i32): void {
  const av = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, madd(av, v128.load(x + o), v128.load(y + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) + alpha * load<f32>(x + o));
  }
}

function scale(y: usize, alpha: f32, n: i32): void {
  const av = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.mul(av, v128.load(y + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) * alpha);
  }
}

/** Keys [jStart, jEnd) that query position `pos` may attend (before the bias). */
// @ts-ignore: decorator
@inline function keyStart(pos: i32, window: i32): i32 {
  return window > 0 ? max(0, pos - window + 1) : 0;
}
// @ts-ignore: decorator
@inline function keyEnd(pos: i32, tk: i32, causal: i32, window: i32): i32 {
  if (causal) return min(tk, pos + 1);
  return window > 0 ? min(tk, pos + window) : tk;
}

/**
 * Forward for work items [itemStart, itemEnd); item = (b, h, i) for one query row.
 * bias: 0 for none, else pointer with element strides sb, sh, si, sj. Keys/values of (b, KV head
 * hk) start at element b * ksb + hk * ksh (vsb, vsh) with contiguous rows, so a KV cache's
 * preallocated buffer is read in place (contiguous: ksb = Hkv * Tk * D, ksh = Tk * D).
 */
export function attnForward(
  q: usize, k: usize, v: usize, out: usize, lse: usize,
  hq: i32, hkv: i32, tq: i32, tk: i32, d: i32, dv: i32, sc: f32, causal: i32, window: i32,
  bias: usize, sb: i32, sh: i32, si: i32, sj: i32,
  ksb: i32, ksh: i32, vsb: i32, vsh: i32,
  itemStart: i32, itemEnd: i32, work: usize, stats: usize,
): void {
  const s = work; // BC scores
  const group = hq / hkv;
  const offs = tk - tq;
  for (let item = itemStart; item < itemEnd; item++) {
    const i = item % tq;
    const bh = item / tq;
    const h = bh % hq;
    const b = bh / hq;
    const hk = h / group;
    const qi = q + (<usize>(item * d) << 2);
    const kb = k + (<usize>(b * ksb + hk * ksh) << 2);
    const vb = v + (<usize>(b * vsb + hk * vsh) << 2);
    const o = out + (<usize>(item * dv) << 2);
    const biasRow = bias + (<usize>(b * sb + h * sh + i * si) << 2);
    memory.fill(o, 0, <usize>dv << 2);
    const pos = i + offs;
    const j0 = keyStart(pos, window);
    const j1 = keyEnd(pos, tk, causal, window);
    let m: f32 = -Infinity;
    let l: f32 = 0;
    let ps: f32 = 0; // sum of exp(s - m) * s, rescaled with l (for the row entropy)
    for (let jb = j0; jb < j1; jb += BC) {
      const je = min(jb + BC, j1);
      let bm: f32 = -Infinity;
      for (let j = jb; j < je; j++) {
        let x = dot(qi, kb + (<usize>(j * d) << 2), d) * sc;
        if (bias) x += load<f32>(biasRow + (<usize>(j * sj) << 2));
        store<f32>(s + (<usize>(j - jb) << 2), x);
        bm = max(bm, x);
      }
      const mNew = max(m, bm);
      if (mNew == -Infinity) continue; // everything so far is masked
      if (mNew > m) {
        const alpha = m == -Infinity ? <f32>0 : Mathf.exp(m - mNew);
        // sum p (s - mNew) = alpha (sum p (s - m) + (m - mNew) l); nothing before the first key
        ps = m == -Infinity ? <f32>0 : alpha * (ps + (m - mNew) * l);
        l *= alpha;
        scale(o, alpha, dv);
        m = mNew;
      }
      for (let j = jb; j < je; j++) {
        const x = load<f32>(s + (<usize>(j - jb) << 2));
        const p = Mathf.exp(x - m);
        if (p == 0) continue;
        l += p;
        if (stats) ps += p * (x - m);
        axpy(o, vb + (<usize>(j * dv) << 2), p, dv);
      }
    }
    // l == 0 (a fully masked row) gives NaN, as softmax over all -inf does in PyTorch
    scale(o, <f32>1 / l, dv);
    const logL = Mathf.log(l);
    store<f32>(lse + (<usize>item << 2), m + logL);
    if (stats) {
      // max_j p_j = exp(m - lse) = 1 / l; entropy -sum p log p = log l - sum p (s - m)
      // a fully masked row has no weights: NaN for both, as its softmax is NaN
      const st = stats + (<usize>item << 3);
      store<f32>(st, l == 0 ? NaN : <f32>1 / l);
      store<f32>(st, l == 0 ? NaN : logL - ps / l, 4);
    }
  }
}

/**
 * Backward for work items [itemStart, itemEnd); item = (b, hk): one KV head and the query heads
 * that read it, so no two threads write the same dK/dV/dQ rows. Recomputes p = exp(s - lse).
 * gq, gk, gv must be zeroed by the caller; delta[B*Hq*Tq] is scratch for rowsum(dO * O).
 */
export function attnBackward(
  q: usize, k: usize, v: usize, out: usize, lse: usize, gout: usize,
  gq: usize, gk: usize, gv: usize, delta: usize,
  hq: i32, hkv: i32, tq: i32, tk: i32, d: i32, dv: i32, sc: f32, causal: i32, window: i32,
  bias: usize, sb: i32, sh: i32, si: i32, sj: i32,
  itemStart: i32, itemEnd: i32,
): void {
  const group = hq / hkv;
  const offs = tk - tq;
  for (let item = itemStart; item < itemEnd; item++) {
    const hk = item % hkv;
    const b = item / hkv;
    const kb = k + (<usize>((b * hkv + hk) * tk * d) << 2);
    const vb = v + (<usize>((b * hkv + hk) * tk * dv) << 2);
    const gkb = gk + (<usize>((b * hkv + hk) * tk * d) << 2);
    const gvb = gv + (<usize>((b * hkv + hk) * tk * dv) << 2);
    for (let h = hk * group; h < (hk + 1) * group; h++) {
      for (let i = 0; i < tq; i++) {
        const row = (b * hq + h) * tq + i;
        const qi = q + (<usize>(row * d) << 2);
        const gqi = gq + (<usize>(row * d) << 2);
        const doi = gout + (<usize>(row * dv) << 2);
        const di = dot(doi, out + (<usize>(row * dv) << 2), dv);
        store<f32>(delta + (<usize>row << 2), di);
        const li = load<f32>(lse + (<usize>row << 2));
        if (li == -Infinity) continue; // fully masked row: no gradient flows (outputs were NaN)
        const biasRow = bias + (<usize>(b * sb + h * sh + i * si) << 2);
        const pos = i + offs;
        const j1 = keyEnd(pos, tk, causal, window);
        for (let j = keyStart(pos, window); j < j1; j++) {
          const kj = kb + (<usize>(j * d) << 2);
          const vj = vb + (<usize>(j * dv) << 2);
          let x = dot(qi, kj, d) * sc;
          if (bias) x += load<f32>(biasRow + (<usize>(j * sj) << 2));
          const p = Mathf.exp(x - li);
          if (p == 0) continue;
          axpy(gvb + (<usize>(j * dv) << 2), doi, p, dv);
          const ds = p * (dot(doi, vj, dv) - di) * sc;
          axpy(gqi, kj, ds, d);
          axpy(gkb + (<usize>(j * d) << 2), qi, ds, d);
        }
      }
    }
  }
}
