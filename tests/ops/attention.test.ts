/**
 * The fused (tiled, online-softmax) attention kernel against the composed oracle, forward and
 * backward, over the cases the seeds care about: MHA/GQA/MQA, causal, decode (Tq < Tk), sliding
 * window, bidirectional local windows, padding masks, additive (ALiBi-style) bias, cross
 * attention with Dv != D, and lengths that cross the kernel's 64-key blocks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as A from '../../src/index.js';
import { Generator, backward, withoutFused, type Tensor } from '../../src/index.js';
import { assertClose } from '../helpers.js';

interface Case {
  name: string;
  b: number; hq: number; hkv: number; tq: number; tk: number; d: number; dv: number;
  opts?: (g: Generator) => A.AttentionOptions;
}

const CASES: Case[] = [
  { name: 'MHA bidirectional', b: 2, hq: 2, hkv: 2, tq: 17, tk: 17, d: 8, dv: 8 },
  { name: 'GQA causal', b: 1, hq: 6, hkv: 2, tq: 70, tk: 70, d: 16, dv: 16, opts: () => ({ causal: true }) },
  { name: 'MQA decode (Tq=1 against 130 cached keys)', b: 2, hq: 4, hkv: 1, tq: 1, tk: 130, d: 8, dv: 8, opts: () => ({ causal: true }) },
  { name: 'decode Tq=3', b: 1, hq: 2, hkv: 2, tq: 3, tk: 127, d: 5, dv: 7, opts: () => ({ causal: true }) },
  { name: 'sliding window 16, causal', b: 1, hq: 2, hkv: 1, tq: 100, tk: 100, d: 8, dv: 8, opts: () => ({ causal: true, window: 16 }) },
  { name: 'local bidirectional window 5', b: 1, hq: 1, hkv: 1, tq: 40, tk: 40, d: 4, dv: 4, opts: () => ({ window: 5 }) },
  { name: 'cross attention Tq != Tk, Dv != D', b: 2, hq: 2, hkv: 2, tq: 9, tk: 150, d: 12, dv: 5 },
  {
    name: 'padding mask [B,1,1,Tk]', b: 2, hq: 2, hkv: 2, tq: 20, tk: 20, d: 8, dv: 8,
    opts: () => ({ mask: A.tensor([...Array(20)].map((_, j) => j < 13).concat([...Array(20)].map(() => true)), { shape: [2, 1, 1, 20] }) }),
  },
  {
    name: 'additive ALiBi-style bias [1,H,Tq,Tk] with causal', b: 1, hq: 3, hkv: 3, tq: 65, tk: 65, d: 8, dv: 8,
    opts: () => {
      const slopes = A.tensor([0.5, 0.25, 0.125]).reshape(1, 3, 1, 1);
      const dist = A.sub(A.arange(65).reshape(1, 65), A.arange(65).reshape(65, 1)).to('float32'); // j - i
      return { causal: true, mask: A.mul(slopes, dist) };
    },
  },
  {
    // a different bias per query head within each GQA group (the kernel runs a group's heads together)
    name: 'GQA with a per-head additive bias [B,Hq,Tq,Tk]', b: 2, hq: 6, hkv: 2, tq: 5, tk: 70, d: 8, dv: 8,
    opts: (g) => ({ causal: true, mask: A.randn([2, 6, 5, 70], { generator: g }).mul(2) }),
  },
  { name: 'single key', b: 1, hq: 1, hkv: 1, tq: 1, tk: 1, d: 3, dv: 3 },
];

function run(c: Case, fused: boolean): number[][] {
  const g = new Generator(c.tq * 31 + c.tk);
  const q = A.randn([c.b, c.hq, c.tq, c.d], { generator: g }).requiresGrad_();
  const k = A.randn([c.b, c.hkv, c.tk, c.d], { generator: g }).requiresGrad_();
  const v = A.randn([c.b, c.hkv, c.tk, c.dv], { generator: g }).requiresGrad_();
  const up = A.randn([c.b, c.hq, c.tq, c.dv], { generator: g });
  const opts = c.opts?.(g) ?? {};
  const f = () => {
    const out = A.scaledDotProductAttention(q, k, v, opts);
    backward(out, up);
    return [out, q.grad!, k.grad!, v.grad!].map((t: Tensor) => [...t.toTypedArray()]);
  };
  return fused ? f() : withoutFused(f);
}

describe('fused attention vs the composed oracle', () => {
  it('the default backend provides a fused attention kernel', () => {
    assert.ok(A.getBackend().fused.attention, `backend ${A.getBackend().name} has no fused attention`);
  });
  for (const c of CASES) {
    it(c.name, () => {
      const fused = run(c, true);
      const composed = run(c, false);
      ['output', 'dq', 'dk', 'dv'].forEach((what, i) => assertClose(fused[i]!, composed[i]!, { atol: 2e-5, rtol: 1e-4 }, `${c.name}: ${what}`));
    });
  }

  it('keys/values read in place from a larger buffer (strided heads, as a KV cache prefix) match the composed oracle, forward and backward', () => {
    const g = new Generator(99);
    // a cache buffer [B, Hkv, capacity 40, D]; attention reads its first 29 rows (a view, not a copy)
    const kBuf = A.randn([2, 2, 40, 8], { generator: g });
    const vBuf = A.randn([2, 2, 40, 6], { generator: g });
    const q = A.randn([2, 4, 3, 8], { generator: g }).requiresGrad_();
    const k = kBuf.narrow(2, 0, 29);
    const v = vBuf.narrow(2, 0, 29);
    assert.equal(k.isContiguous, false);
    const up = A.randn([2, 4, 3, 6], { generator: g });
    const f = () => {
      q.zeroGrad();
      const out = A.scaledDotProductAttention(q, k, v, { causal: true, window: 20 });
      backward(out, up);
      return [out, q.grad!].map((t: Tensor) => [...t.toTypedArray()]);
    };
    const fused = f();
    const composed = withoutFused(f);
    ['output', 'dq'].forEach((what, i) => assertClose(fused[i]!, composed[i]!, { atol: 2e-5, rtol: 1e-4 }, `strided K/V: ${what}`));
  });

  it('a fully masked query row gives NaN on both paths (as PyTorch softmax)', () => {
    const q = A.ones([1, 1, 2, 4]);
    const mask = A.tensor([[false, false], [true, true]]).reshape(1, 1, 2, 2);
    for (const fused of [true, false]) {
      const f = () => A.scaledDotProductAttention(q, A.ones([1, 1, 2, 4]), A.ones([1, 1, 2, 4]), { mask }).toArray<number[][][][]>();
      const out = fused ? f() : withoutFused(f);
      assert.ok(out[0]![0]![0]!.every(Number.isNaN), `fused=${fused}`);
      assert.deepEqual(out[0]![0]![1], [1, 1, 1, 1]);
    }
  });

  it('rejects mismatched heads and shapes with clear messages', () => {
    assert.throws(() => A.scaledDotProductAttention(A.ones([1, 3, 2, 4]), A.ones([1, 2, 2, 4]), A.ones([1, 2, 2, 4])), /attention: query heads \(3\) must be a multiple of key\/value heads \(2, 2\)/);
    assert.throws(() => A.scaledDotProductAttention(A.ones([1, 1, 2, 4]), A.ones([1, 1, 2, 5]), A.ones([1, 1, 2, 4])), /attention: query \[1,1,2,4\] and key \[1,1,2,5\] head dims differ/);
  });
});

describe('attention statistics without the weight matrix (max weight, entropy per row)', () => {
  /** Float64 oracle straight from the definition, over the materialised weights of the composed path. */
  function oracle(q: Tensor, k: Tensor, v: Tensor, opts: A.AttentionOptions): { max: number[]; entropy: number[] } {
    const w = withoutFused(() => {
      // the composed attention of a one-hot value matrix per key returns the weights themselves
      const tk = k.shape[2]!;
      const eye = A.expand(A.eye(tk).reshape(1, 1, tk, tk), [k.shape[0]!, k.shape[1]!, tk, tk]);
      return [...A.scaledDotProductAttention(q.to('float64'), k.to('float64'), eye.to('float64'), { ...opts, ...(opts.mask && opts.mask.dtype !== 'bool' ? { mask: opts.mask.to('float64') } : {}) }).toTypedArray()];
    });
    void v;
    const tk = k.shape[2]!;
    const max: number[] = [];
    const entropy: number[] = [];
    for (let r = 0; r < w.length / tk; r++) {
      const row = w.slice(r * tk, (r + 1) * tk);
      max.push(Math.max(...row));
      entropy.push(-row.reduce((s, p) => s + (p > 0 ? p * Math.log(p) : 0), 0));
    }
    return { max, entropy };
  }

  for (const c of CASES.filter((x) => x.name !== 'single key').concat([CASES.find((x) => x.name === 'single key')!])) {
    it(c.name, () => {
      const g = new Generator(c.tq * 7 + c.tk);
      const q = A.randn([c.b, c.hq, c.tq, c.d], { generator: g }).mul(2);
      const k = A.randn([c.b, c.hkv, c.tk, c.d], { generator: g });
      const v = A.randn([c.b, c.hkv, c.tk, c.dv], { generator: g });
      const opts = c.opts?.(g) ?? {};
      const want = oracle(q, k, v, opts);
      const fused = A.attentionStats(q, k, v, opts);
      const composed = withoutFused(() => A.attentionStats(q, k, v, opts));
      assert.deepEqual(fused.maxWeight.shape, [c.b, c.hq, c.tq]);
      for (const [name, s] of [['fused', fused], ['composed', composed]] as const) {
        assertClose([...s.maxWeight.toTypedArray()], want.max, { atol: 2e-6, rtol: 1e-5 }, `${c.name} ${name}: max weight`);
        assertClose([...s.entropy.toTypedArray()], want.entropy, { atol: 2e-5, rtol: 1e-5 }, `${c.name} ${name}: entropy`);
      }
    });
  }

  it('one key has weight 1 and entropy 0; equal scores give 1/Tk and log Tk', () => {
    const q = A.zeros([1, 1, 3, 4]);
    const k = A.randn([1, 1, 100, 4], { generator: new Generator(1) });
    const s = A.attentionStats(q, k, A.zeros([1, 1, 100, 2]), { causal: true });
    // rows sit at positions 97, 98, 99: zero queries give uniform weights over 98, 99, 100 keys
    assertClose([...s.maxWeight.toTypedArray()], [1 / 98, 1 / 99, 1 / 100], { atol: 1e-7, rtol: 1e-5 }, 'uniform max');
    assertClose([...s.entropy.toTypedArray()], [Math.log(98), Math.log(99), Math.log(100)], { atol: 1e-5, rtol: 1e-6 }, 'uniform entropy');
    const one = A.attentionStats(A.ones([1, 1, 1, 4]), A.ones([1, 1, 1, 4]), A.ones([1, 1, 1, 4]));
    assert.deepEqual([one.maxWeight.item(), one.entropy.item()], [1, 0]);
  });

  it('a fully masked row gives NaN statistics on both paths; the other rows are unaffected', () => {
    const mask = A.tensor([[false, false, false], [true, true, false]]).reshape(1, 1, 2, 3);
    const q = A.randn([1, 1, 2, 4], { generator: new Generator(5) });
    const k = A.randn([1, 1, 3, 4], { generator: new Generator(6) });
    for (const fused of [true, false]) {
      const f = () => {
        const s = A.attentionStats(q, k, A.zeros([1, 1, 3, 2]), { mask });
        return [[...s.maxWeight.toTypedArray()], [...s.entropy.toTypedArray()]];
      };
      const [mx, ent] = fused ? f() : withoutFused(f);
      assert.ok(Number.isNaN(mx![0]) && Number.isNaN(ent![0]), `fused=${fused}: masked row ${mx![0]}, ${ent![0]}`);
      assert.ok(mx![1]! > 0.5 && mx![1]! <= 1 && ent![1]! > 0 && ent![1]! <= Math.log(2) + 1e-6, `fused=${fused}: row 1 ${mx![1]}, ${ent![1]}`);
    }
  });
});
