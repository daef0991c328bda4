/**
 * Each cache policy keeps exactly the positions it promises, and attention through it equals a
 * brute-force float64 attention over exactly those positions. A stream of 23 random key/value
 * positions (batch 2, 4 query heads over 2 KV heads) is fed in uneven chunks (prefill-like and
 * single-token steps); after every chunk the kept positions are compared with the policy's
 * definition and the attention output with the reference, which attends query p to the keys the
 * definition allows:
 *   dense            k <= p
 *   sliding window   p - W < k <= p
 *   sinks + window   k <= p and (k < S or p - R < k)
 *   heavy hitters    k <= p among the keys kept before the chunk plus the chunk itself; the kept
 *                    set is simulated independently (float64 softmax mass, R newest + H heaviest)
 * plus int8 rows within half a quantisation step, nbytes, trim, state round trips and errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DenseKVCache, Generator, HeavyHitterKVCache, SinkKVCache, SlidingWindowKVCache, attentionWithCache, noGrad, randn, tidy,
  type KVCache, type Tensor,
} from '../../src/index.js';

const B = 2;
const HQ = 4;
const HKV = 2;
const D = 8;
const N = 23;
const CHUNKS = [5, 1, 1, 3, 1, 1, 1, 7, 1, 1, 1];

interface Stream {
  q: Float32Array; // [B, HQ, N, D]
  k: Float32Array; // [B, HKV, N, D]
  v: Float32Array;
  qt: Tensor;
  kt: Tensor;
  vt: Tensor;
}

/** Random q, k, v; `sharpness` scales q, so attention concentrates on the keys that best match. */
function stream(seed: number, sharpness = 1): Stream {
  const g = new Generator(seed);
  const qt = randn([B, HQ, N, D], { generator: g }).mul(sharpness);
  const kt = randn([B, HKV, N, D], { generator: g });
  const vt = randn([B, HKV, N, D], { generator: g });
  return { q: qt.toTypedArray() as Float32Array, k: kt.toTypedArray() as Float32Array, v: vt.toTypedArray() as Float32Array, qt, kt, vt };
}

/** out[b, h, i, :] for query position p attending `allowed(b, kvHead, p)` keys, float64. */
function reference(s: Stream, start: number, t: number, allowed: (b: number, hk: number, p: number) => number[]): Float64Array {
  const out = new Float64Array(B * HQ * t * D);
  const scale = 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < HQ; h++) {
      const hk = Math.floor(h / (HQ / HKV));
      for (let i = 0; i < t; i++) {
        const p = start + i;
        const keys = allowed(b, hk, p);
        const scores = keys.map((j) => {
          let dot = 0;
          for (let c = 0; c < D; c++) dot += s.q[((b * HQ + h) * N + p) * D + c]! * s.k[((b * HKV + hk) * N + j) * D + c]!;
          return dot * scale;
        });
        const m = Math.max(...scores);
        const w = scores.map((x) => Math.exp(x - m));
        const z = w.reduce((a, x) => a + x, 0);
        keys.forEach((j, n) => {
          for (let c = 0; c < D; c++) out[((b * HQ + h) * t + i) * D + c]! += (w[n]! / z) * s.v[((b * HKV + hk) * N + j) * D + c]!;
        });
      }
    }
  }
  return out;
}

/** Feeds the stream chunk by chunk; calls check after each with the chunk's start, length and attention output. */
function run(s: Stream, cache: KVCache, check: (start: number, t: number, out: Float32Array) => void): void {
  let start = 0;
  for (const t of CHUNKS) {
    const out = noGrad(() => tidy(() => {
      const sl = (x: Tensor) => x.narrow(2, start, t);
      return attentionWithCache(sl(s.qt), sl(s.kt), sl(s.vt), cache, { causal: true }).toTypedArray() as Float32Array;
    }));
    check(start, t, out);
    start += t;
  }
  assert.equal(start, N);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const upTo = (p: number) => Array.from({ length: p + 1 }, (_, j) => j);

describe('KV cache policies keep exactly the positions they promise', () => {
  const s = stream(7);

  it('dense: every position, attention == causal reference', () => {
    const cache = new DenseKVCache({ step: 4 });
    run(s, cache, (start, t, out) => {
      assert.ok(maxDiff(out, reference(s, start, t, (_b, _h, p) => upTo(p))) < 1e-5);
      assert.deepEqual(cache.keptPositions(), upTo(start + t - 1));
    });
    assert.equal(cache.length, N);
    assert.equal(cache.nbytes, 2 * B * HKV * 24 * D * 4, 'capacity grows in steps of 4: 24 slots');
  });

  it('sliding window W=4: positions offset-4..offset-1 after every chunk, attention == windowed reference', () => {
    const w = 4;
    const cache = new SlidingWindowKVCache({ window: w });
    run(s, cache, (start, t, out) => {
      const diff = maxDiff(out, reference(s, start, t, (_b, _h, p) => upTo(p).filter((k) => p - k < w)));
      assert.ok(diff < 1e-5, `chunk at ${start}: ${diff}`);
      const end = start + t;
      assert.deepEqual(cache.keptPositions(), Array.from({ length: Math.min(end, w) }, (_, i) => end - Math.min(end, w) + i));
    });
    assert.equal(cache.nbytes, 2 * B * HKV * w * D * 4, 'a ring of exactly W slots');
  });

  it('sinks S=2 + window R=5: positions 0..1 and the 5 newest, attention == sinks-or-window reference', () => {
    const [sinks, r] = [2, 5];
    const cache = new SinkKVCache({ sinks, window: r });
    run(s, cache, (start, t, out) => {
      const diff = maxDiff(out, reference(s, start, t, (_b, _h, p) => upTo(p).filter((k) => k < sinks || p - k < r)));
      assert.ok(diff < 1e-5, `chunk at ${start}: ${diff}`);
      const end = start + t;
      const expected = end <= sinks + r ? upTo(end - 1) : [...upTo(sinks - 1), ...Array.from({ length: r }, (_, i) => end - r + i)];
      assert.deepEqual(cache.keptPositions(), expected);
    });
  });

  it('heavy hitters H=3 + recent R=4: the recent 4 and the 3 heaviest older keys per row, attention == reference over the kept keys', () => {
    const [heavy, recent] = [3, 4];
    const s = stream(7, 4); // peaky attention: which keys become heavy depends on their content
    const cache = new HeavyHitterKVCache({ heavy, recent, step: 4 });
    // independent simulation: per (b, kv head) row, the kept positions and their float64 mass
    const rows = B * HKV;
    let kept: number[][] = Array.from({ length: rows }, () => []);
    const mass: Map<number, number>[] = Array.from({ length: rows }, () => new Map());
    run(s, cache, (start, t, out) => {
      const before = kept.map((k) => [...k]);
      const allowed = (b: number, hk: number, p: number) => [...before[b * HKV + hk]!, ...Array.from({ length: t }, (_, i) => start + i)].filter((k) => k <= p);
      const diff = maxDiff(out, reference(s, start, t, allowed));
      assert.ok(diff < 1e-5, `chunk at ${start}: ${diff}`);
      // accumulate the softmax mass each query head gives each key of its row
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < HQ; h++) {
          const hk = Math.floor(h / (HQ / HKV));
          const row = b * HKV + hk;
          for (let i = 0; i < t; i++) {
            const p = start + i;
            const keys = allowed(b, hk, p);
            const sc = keys.map((j) => {
              let dot = 0;
              for (let c = 0; c < D; c++) dot += s.q[((b * HQ + h) * N + p) * D + c]! * s.k[((b * HKV + hk) * N + j) * D + c]!;
              return dot / Math.sqrt(D);
            });
            const m = Math.max(...sc);
            const z = sc.reduce((a, x) => a + Math.exp(x - m), 0);
            keys.forEach((j, n) => mass[row]!.set(j, (mass[row]!.get(j) ?? 0) + Math.exp(sc[n]! - m) / z));
          }
        }
      }
      const end = start + t;
      kept = kept.map((k, row) => {
        const all = [...k, ...Array.from({ length: t }, (_, i) => start + i)];
        if (all.length <= heavy + recent) return all;
        const older = all.filter((p) => p < end - recent);
        const top = [...older].sort((a, b) => mass[row]!.get(b)! - mass[row]!.get(a)! || a - b).slice(0, heavy);
        return [...top.sort((a, b) => a - b), ...all.filter((p) => p >= end - recent)];
      });
      for (let row = 0; row < rows; row++) assert.deepEqual(cache.keptPositions(row), kept[row], `row ${row} after chunk at ${start}`);
    });
    assert.ok(new Set(kept.map((k) => k.join())).size > 1, 'rows choose independently');
    console.log(`# H2O kept per row after ${N} positions: ${kept.map((k) => `[${k.join(' ')}]`).join(' ')}`);
  });
});

describe('int8 K/V rows', () => {
  it('dequantised keys and values are within half a step (absmax/127/2) of the originals, per token and head', () => {
    const s = stream(11);
    const cache = new DenseKVCache({ dtype: 'int8', step: 8 });
    const fetched = noGrad(() => tidy(() => {
      const f = cache.updateAndFetch(s.kt, s.vt);
      return [f.keys.toTypedArray(), f.values.toTypedArray()];
    }));
    let worstRatio = 0;
    for (const [orig, got] of [[s.k, fetched[0]!], [s.v, fetched[1]!]] as const) {
      for (let row = 0; row < B * HKV * N; row++) {
        let absmax = 0;
        for (let c = 0; c < D; c++) absmax = Math.max(absmax, Math.abs(orig[row * D + c]!));
        const half = absmax / 127 / 2;
        for (let c = 0; c < D; c++) {
          const err = Math.abs(orig[row * D + c]! - got[row * D + c]!);
          assert.ok(err <= half * (1 + 1e-5) + 1e-7, `row ${row}: error ${err} > ${half}`);
          worstRatio = Math.max(worstRatio, err / half);
        }
      }
    }
    assert.ok(worstRatio > 0.5, `errors use the quantisation step (worst ${worstRatio} of the bound)`);
    assert.equal(cache.nbytes, 2 * B * HKV * 24 * (D + 4), 'one byte per element plus a float32 scale per token and head');
  });

  it('every policy runs in int8 and stays close to its float32 attention', () => {
    const s = stream(3);
    const make = [
      (dtype: 'float32' | 'int8') => new DenseKVCache({ dtype }),
      (dtype: 'float32' | 'int8') => new SlidingWindowKVCache({ window: 5, dtype }),
      (dtype: 'float32' | 'int8') => new SinkKVCache({ sinks: 1, window: 4, dtype }),
    ];
    for (const m of make) {
      const outs: Float32Array[][] = [[], []];
      (['float32', 'int8'] as const).forEach((dtype, i) => run(s, m(dtype), (_s, _t, out) => outs[i]!.push(out)));
      const worst = Math.max(...outs[0]!.map((o, i) => maxDiff(o, outs[1]![i]!)));
      assert.ok(worst > 0 && worst < 0.05, `${m('float32').kind}: int8 vs float32 attention max |diff| ${worst}`);
    }
  });
});

describe('trim, state and errors', () => {
  it('dense trim drops the newest positions and decoding continues as if they had never been added', () => {
    const s = stream(5);
    const a = new DenseKVCache();
    const b = new DenseKVCache();
    const at = (x: Tensor, from: number, n: number) => x.narrow(2, from, n);
    noGrad(() => tidy(() => {
      a.updateAndFetch(at(s.kt, 0, 10), at(s.vt, 0, 10));
      assert.equal(a.trim(4), 4);
      assert.equal(a.offset, 6);
      b.updateAndFetch(at(s.kt, 0, 6), at(s.vt, 0, 6));
      const fa = a.updateAndFetch(at(s.kt, 10, 2), at(s.vt, 10, 2));
      const fb = b.updateAndFetch(at(s.kt, 10, 2), at(s.vt, 10, 2));
      assert.deepEqual([...fa.keys.toTypedArray()], [...fb.keys.toTypedArray()]);
    }));
  });

  it('a ring buffer can trim only before it wraps', () => {
    const s = stream(5);
    const c = new SlidingWindowKVCache({ window: 4 });
    noGrad(() => tidy(() => c.updateAndFetch(s.kt.narrow(2, 0, 3), s.vt.narrow(2, 0, 3))));
    assert.ok(c.isTrimmable());
    assert.equal(c.trim(1), 1);
    noGrad(() => tidy(() => c.updateAndFetch(s.kt.narrow(2, 0, 5), s.vt.narrow(2, 0, 5))));
    assert.equal(c.isTrimmable(), false);
    assert.equal(c.trim(1), 0);
    assert.equal(c.offset, 7);
  });

  it('state() then setState() on a fresh cache continues identically, for every policy and dtype', () => {
    const s = stream(9);
    const makers: (() => KVCache)[] = [
      () => new DenseKVCache({ dtype: 'int8' }),
      () => new SlidingWindowKVCache({ window: 4 }),
      () => new SinkKVCache({ sinks: 2, window: 3 }),
      () => new HeavyHitterKVCache({ heavy: 2, recent: 3 }),
    ];
    for (const make of makers) {
      const a = make();
      const feed = (c: KVCache, from: number, n: number) => noGrad(() => tidy(() => {
        const sl = (x: Tensor) => x.narrow(2, from, n);
        return attentionWithCache(sl(s.qt), sl(s.kt), sl(s.vt), c, { causal: true }).toTypedArray();
      }));
      feed(a, 0, 9);
      feed(a, 9, 1);
      const b = make();
      b.setState(a.state());
      assert.equal(b.offset, a.offset);
      assert.deepEqual(b.keptPositions(1), a.keptPositions(1));
      const oa = feed(a, 10, 1);
      const ob = feed(b, 10, 1);
      assert.deepEqual([...ob], [...oa], `${a.kind}: same output after restore`);
      assert.deepEqual(b.keptPositions(3), a.keptPositions(3));
    }
  });

  it('errors name what was wrong', () => {
    const s = stream(1);
    const c = new DenseKVCache();
    noGrad(() => tidy(() => c.updateAndFetch(s.kt.narrow(2, 0, 2), s.vt.narrow(2, 0, 2))));
    assert.throws(() => c.updateAndFetch(s.qt.narrow(2, 0, 1), s.qt.narrow(2, 0, 1)), /got rows of \[2, 4, T, 8\] but the cache holds \[2, 2, T, 8\]/);
    assert.throws(() => c.updateAndFetch(s.kt.narrow(2, 0, 1), s.vt.narrow(3, 0, 4).narrow(2, 0, 2)), /keys \[2,2,1,8\] and values \[2,2,2,4\] must be \[B, Hkv, T, D\]/);
    const h = new HeavyHitterKVCache({ heavy: 1, recent: 1 });
    noGrad(() => tidy(() => h.updateAndFetch(s.kt.narrow(2, 0, 1), s.vt.narrow(2, 0, 1))));
    assert.throws(() => h.updateAndFetch(s.kt.narrow(2, 1, 1), s.vt.narrow(2, 1, 1)), /attention weights were not observed/);
    assert.throws(() => new SlidingWindowKVCache({ window: 0 }), /window must be a positive integer, got 0/);
    assert.throws(() => new DenseKVCache({ dtype: 'float16' as 'int8' }), /K\/V dtype must be float32 or int8, got 'float16'/);
  });
});
