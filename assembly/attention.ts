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

import { expv, hmax, hsum, hsum4, madd } from './simd';

const BC: i32 = 64; // keys per block

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
 * Scores of query row qi against keys [j0, j1) of kb (rows of d floats) into s: dot * sc, plus
 * the bias row (element stride sj) when there is one. Four keys at a time; returns their max.
 */
function blockScores(qi: usize, kb: usize, d: i32, j0: i32, j1: i32, sc: f32, bias: usize, biasRow: usize, sj: i32, s: usize): f32 {
  const scv = f32x4.splat(sc);
  const rowBytes = <usize>d << 2;
  let mv = f32x4.splat(-Infinity);
  let j = j0;
  for (; j + 4 <= j1; j += 4) {
    const k0 = kb + (<usize>(j * d) << 2);
    const k1 = k0 + rowBytes;
    const k2 = k1 + rowBytes;
    const k3 = k2 + rowBytes;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let c = 0;
    for (; c + 4 <= d; c += 4) {
      const o = <usize>c << 2;
      const qv = v128.load(qi + o);
      a0 = madd(qv, v128.load(k0 + o), a0);
      a1 = madd(qv, v128.load(k1 + o), a1);
      a2 = madd(qv, v128.load(k2 + o), a2);
      a3 = madd(qv, v128.load(k3 + o), a3);
    }
    let dots = hsum4(a0, a1, a2, a3);
    if (c < d) {
      let t0: f32 = 0, t1: f32 = 0, t2: f32 = 0, t3: f32 = 0;
      for (; c < d; c++) {
        const o = <usize>c << 2;
        const qc = load<f32>(qi + o);
        t0 += qc * load<f32>(k0 + o);
        t1 += qc * load<f32>(k1 + o);
        t2 += qc * load<f32>(k2 + o);
        t3 += qc * load<f32>(k3 + o);
      }
      dots = f32x4.add(dots, f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(t0), 1, t1), 2, t2), 3, t3));
    }
    let x = f32x4.mul(dots, scv);
    if (bias) {
      const b0 = biasRow + (<usize>(j * sj) << 2);
      const bs = <usize>sj << 2;
      const bv = f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(
        f32x4.splat(load<f32>(b0)), 1, load<f32>(b0 + bs)), 2, load<f32>(b0 + 2 * bs)), 3, load<f32>(b0 + 3 * bs));
      x = f32x4.add(x, bv);
    }
    v128.store(s + (<usize>(j - j0) << 2), x);
    mv = f32x4.max(mv, x);
  }
  let m = hmax(mv);
  for (; j < j1; j++) {
    let x = dot(qi, kb + (<usize>(j * d) << 2), d) * sc;
    if (bias) x += load<f32>(biasRow + (<usize>(j * sj) << 2));
    store<f32>(s + (<usize>(j - j0) << 2), x);
    m = max(m, x);
  }
  return m;
}

/**
 * o += sum_j p[j] * v[j] over n keys (rows of dv floats from vb); keys with p = 0 (masked) are
 * skipped four at a time, or one at a time in the tail.
 */
function accumulate(o: usize, p: usize, vb: usize, n: i32, dv: i32): void {
  const rowBytes = <usize>dv << 2;
  let t = 0;
  for (; t + 4 <= n; t += 4) {
    const pv = v128.load(p + (<usize>t << 2));
    if (!v128.any_true(pv)) continue; // probabilities are >= 0: all four are zero
    const p0 = i32x4.shuffle(pv, pv, 0, 0, 0, 0);
    const p1 = i32x4.shuffle(pv, pv, 1, 1, 1, 1);
    const p2 = i32x4.shuffle(pv, pv, 2, 2, 2, 2);
    const p3 = i32x4.shuffle(pv, pv, 3, 3, 3, 3);
    const v0 = vb + (<usize>t) * rowBytes;
    const v1 = v0 + rowBytes;
    const v2 = v1 + rowBytes;
    const v3 = v2 + rowBytes;
    let c = 0;
    for (; c + 4 <= dv; c += 4) {
      const off = <usize>c << 2;
      let acc = v128.load(o + off);
      acc = madd(p0, v128.load(v0 + off), acc);
      acc = madd(p1, v128.load(v1 + off), acc);
      acc = madd(p2, v128.load(v2 + off), acc);
      acc = madd(p3, v128.load(v3 + off), acc);
      v128.store(o + off, acc);
    }
    for (; c < dv; c++) {
      const off = <usize>c << 2;
      store<f32>(o + off, load<f32>(o + off) + f32x4.extract_lane(p0, 0) * load<f32>(v0 + off) + f32x4.extract_lane(p1, 0) * load<f32>(v1 + off)
        + f32x4.extract_lane(p2, 0) * load<f32>(v2 + off) + f32x4.extract_lane(p3, 0) * load<f32>(v3 + off));
    }
  }
  for (; t < n; t++) {
    const pt = load<f32>(p + (<usize>t << 2));
    if (pt != 0) axpy(o, vb + (<usize>t) * rowBytes, pt, dv);
  }
}

/**
 * Forward for work items [itemStart, itemEnd); item = (b, hk, i): query row i of every query
 * head that reads KV head hk (the GQA group). The group's heads walk the keys together, block
 * by block, so each block of K and V is read from memory once per group and then from L1
 * (per head it would be read `group` times). bias: 0 for none, else pointer with element
 * strides sb, sh, si, sj. Keys/values of (b, KV head hk) start at element b * ksb + hk * ksh
 * (vsb, vsh) with contiguous rows, so a KV cache's preallocated buffer is read in place
 * (contiguous: ksb = Hkv * Tk * D, ksh = Tk * D). work: BC scores, then 3 floats per group head.
 */
export function attnForward(
  q: usize, k: usize, v: usize, out: usize, lse: usize,
  hq: i32, hkv: i32, tq: i32, tk: i32, d: i32, dv: i32, sc: f32, causal: i32, window: i32,
  bias: usize, sb: i32, sh: i32, si: i32, sj: i32,
  ksb: i32, ksh: i32, vsb: i32, vsh: i32,
  itemStart: i32, itemEnd: i32, work: usize, stats: usize,
): void {
  const s = work; // BC scores
  const state = work + (<usize>BC << 2); // per group head: running max m, normaliser l, ps
  const group = hq / hkv;
  const offs = tk - tq;
  for (let item = itemStart; item < itemEnd; item++) {
    const i = item % tq;
    const bk = item / tq;
    const hk = bk % hkv;
    const b = bk / hkv;
    const kb = k + (<usize>(b * ksb + hk * ksh) << 2);
    const vb = v + (<usize>(b * vsb + hk * vsh) << 2);
    const pos = i + offs;
    const j0 = keyStart(pos, window);
    const j1 = keyEnd(pos, tk, causal, window);
    for (let g = 0; g < group; g++) {
      const row = (b * hq + hk * group + g) * tq + i;
      memory.fill(out + (<usize>(row * dv) << 2), 0, <usize>dv << 2);
      const st = state + <usize>(g * 12);
      store<f32>(st, -Infinity); // m
      store<f32>(st, 0, 4); // l
      store<f32>(st, 0, 8); // ps: sum of exp(s - m) * s, rescaled with l (for the row entropy)
    }
    for (let jb = j0; jb < j1; jb += BC) {
      const je = min(jb + BC, j1);
      for (let g = 0; g < group; g++) {
        const h = hk * group + g;
        const row = (b * hq + h) * tq + i;
        const st = state + <usize>(g * 12);
        let m = load<f32>(st);
        let l = load<f32>(st, 4);
        let ps = load<f32>(st, 8);
        const o = out + (<usize>(row * dv) << 2);
        const bm = blockScores(q + (<usize>(row * d) << 2), kb, d, jb, je, sc, bias, bias + (<usize>(b * sb + h * sh + i * si) << 2), sj, s);
        const mNew = max(m, bm);
        if (mNew == -Infinity) continue; // everything so far is masked
        if (mNew > m) {
          const alpha = m == -Infinity ? <f32>0 : f32x4.extract_lane(expv(f32x4.splat(m - mNew)), 0);
          // sum p (s - mNew) = alpha (sum p (s - m) + (m - mNew) l); nothing before the first key
          ps = m == -Infinity ? <f32>0 : alpha * (ps + (m - mNew) * l);
          l *= alpha;
          scale(o, alpha, dv);
          m = mNew;
        }
        // p = exp(s - m) in place; l += sum p; ps += sum p (s - m) over keys with p > 0
        const nb = je - jb;
        const mv = f32x4.splat(m);
        const zero = f32x4.splat(0);
        let lv = zero;
        let pv = zero;
        let t = 0;
        for (; t + 4 <= nb; t += 4) {
          const at = s + (<usize>t << 2);
          const x = f32x4.sub(v128.load(at), mv);
          const p = expv(x);
          v128.store(at, p);
          lv = f32x4.add(lv, p);
          if (stats) pv = f32x4.add(pv, v128.and(f32x4.mul(p, x), f32x4.ne(p, zero)));
        }
        l += hsum(lv);
        ps += hsum(pv);
        for (; t < nb; t++) {
          const at = s + (<usize>t << 2);
          const x = load<f32>(at) - m;
          const p = f32x4.extract_lane(expv(f32x4.splat(x)), 0);
          store<f32>(at, p);
          if (p == 0) continue;
          l += p;
          if (stats) ps += p * x;
        }
        accumulate(o, s, vb + (<usize>(jb * dv) << 2), nb, dv);
        store<f32>(st, m);
        store<f32>(st, l, 4);
        store<f32>(st, ps, 8);
      }
    }
    for (let g = 0; g < group; g++) {
      const row = (b * hq + hk * group + g) * tq + i;
      const st = state + <usize>(g * 12);
      const m = load<f32>(st);
      const l = load<f32>(st, 4);
      const ps = load<f32>(st, 8);
      // l == 0 (a fully masked row) gives NaN, as softmax over all -inf does in PyTorch
      scale(out + (<usize>(row * dv) << 2), <f32>1 / l, dv);
      const logL = Mathf.log(l);
      store<f32>(lse + (<usize>row << 2), m + logL);
      if (stats) {
        // max_j p_j = exp(m - lse) = 1 / l; entropy -sum p log p = log l - sum p (s - m)
        // a fully masked row has no weights: NaN for both, as its softmax is NaN
        const sp = stats + (<usize>row << 3);
        store<f32>(sp, l == 0 ? NaN : <f32>1 / l);
        store<f32>(sp, l == 0 ? NaN : logL - ps / l, 4);
      }
    }
  }
}

/**
 * Backward for work items [itemStart, itemEnd); item = (b, hk): one KV head and the query heads
 * that read it, so no two threads write the same dK/dV/dQ rows. Recomputes p = exp(s - lse).
 * gq, gk, gv must be zeroed by the caller; delta[B*Hq*Tq] is scratch for rowsum(dO * O);
 * work: the thread's buffer, BC floats (a block's scores, then probabilities).
 */
export function attnBackward(
  q: usize, k: usize, v: usize, out: usize, lse: usize, gout: usize,
  gq: usize, gk: usize, gv: usize, delta: usize,
  hq: i32, hkv: i32, tq: i32, tk: i32, d: i32, dv: i32, sc: f32, causal: i32, window: i32,
  bias: usize, sb: i32, sh: i32, si: i32, sj: i32,
  itemStart: i32, itemEnd: i32, work: usize,
): void {
  const s = work; // BC scores, then their probabilities
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
        // a block of keys at a time: the scores as the forward computed them (blockScores),
        // then p = exp(s - lse) four at a time
        const lv = f32x4.splat(li);
        for (let jb = keyStart(pos, window); jb < j1; jb += BC) {
          const je = min(jb + BC, j1);
          const nb = je - jb;
          blockScores(qi, kb, d, jb, je, sc, bias, biasRow, sj, s);
          let t = 0;
          for (; t + 4 <= nb; t += 4) v128.store(s + (<usize>t << 2), expv(f32x4.sub(v128.load(s + (<usize>t << 2)), lv)));
          for (; t < nb; t++) store<f32>(s + (<usize>t << 2), f32x4.extract_lane(expv(f32x4.splat(load<f32>(s + (<usize>t << 2)) - li)), 0));
          for (t = 0; t < nb; t++) {
            const p = load<f32>(s + (<usize>t << 2));
            if (p == 0) continue;
            const j = jb + t;
            const kj = kb + (<usize>(j * d) << 2);
            const vj = vb + (<usize>(j * dv) << 2);
            axpy(gvb + (<usize>(j * dv) << 2), doi, p, dv);
            const ds = p * (dot(doi, vj, dv) - di) * sc;
            axpy(gqi, kj, ds, d);
            axpy(gkb + (<usize>(j * d) << 2), qi, ds, d);
          }
        }
      }
    }
  }
}
