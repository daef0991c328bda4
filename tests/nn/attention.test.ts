/**
 * Attention building blocks: masks (causal, bidirectional, sliding window), repeat_kv and GQA/MQA,
 * RoPE in both layouts. Model-level agreement with PyTorch is in tests/models/families.test.ts;
 * these pin the pieces' semantics with exact values and invariants.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Generator, MultiHeadAttention, RotaryEmbedding, applyRope, attentionMask, concat, fromTypedArray, indexSelect,
  randn, repeatKv, ropeAngles, sum, mul, tensor, noGrad,
} from '../../src/index.js';
import { assertClose } from '../helpers.js';

const TOL = { atol: 1e-5, rtol: 1e-5 };

describe('attention masks', () => {
  it('causal with a sliding window of 3: query i sees keys i-2..i', () => {
    const m = attentionMask(5, 5, { causal: true, window: 3 });
    assert.deepEqual(m.toArray(), [
      [1, 0, 0, 0, 0],
      [1, 1, 0, 0, 0],
      [1, 1, 1, 0, 0],
      [0, 1, 1, 1, 0],
      [0, 0, 1, 1, 1],
    ]);
  });

  it('causal queries are aligned to the end of the keys (cached prefix); bidirectional windows are symmetric', () => {
    assert.deepEqual(attentionMask(2, 4, { causal: true }).toArray(), [[1, 1, 1, 0], [1, 1, 1, 1]]);
    assert.deepEqual(attentionMask(3, 3).toArray(), [[1, 1, 1], [1, 1, 1], [1, 1, 1]]);
    assert.deepEqual(attentionMask(4, 4, { window: 2 }).toArray(), [[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]]);
    assert.throws(() => new MultiHeadAttention({ hiddenSize: 8, numHeads: 2, kind: 'bidirectional', slidingWindow: 2 }), /sliding window needs causal attention/);
  });
});

describe('grouped-query attention', () => {
  it('repeatKv repeats each key/value head in place: query head h reads kv head floor(h / nRep)', () => {
    const kv = fromTypedArray(Float32Array.from([10, 11, 20, 21]), [1, 2, 1, 2]); // [B=1, nkv=2, T=1, hd=2]
    assert.deepEqual(repeatKv(kv, 3).toArray(), [[[[10, 11]], [[10, 11]], [[10, 11]], [[20, 21]], [[20, 21]], [[20, 21]]]]);
  });

  for (const nkv of [2, 1]) {
    it(`${nkv === 1 ? 'MQA' : 'GQA'} (4 query heads, ${nkv} kv heads) equals MHA whose k/v projections repeat the shared heads`, () => {
      const g = new Generator(5);
      const hd = 4;
      const gqa = new MultiHeadAttention({ hiddenSize: 16, numHeads: 4, numKeyValueHeads: nkv, qkvBias: true, generator: g });
      const mha = new MultiHeadAttention({ hiddenSize: 16, numHeads: 4, numKeyValueHeads: 4, qkvBias: true, generator: g });
      assert.deepEqual([...gqa.kProj.weight.shape], [nkv * hd, 16]);
      // Row block of MHA kv head h = row block of GQA kv head floor(h / nRep).
      const rows = Int32Array.from({ length: 4 * hd }, (_, r) => Math.floor(Math.floor(r / hd) / (4 / nkv)) * hd + (r % hd));
      const idx = fromTypedArray(rows, [rows.length]);
      const state = new Map(gqa.stateDict());
      for (const p of ['k_proj', 'v_proj']) {
        state.set(`${p}.weight`, indexSelect(state.get(`${p}.weight`)!, 0, idx));
        state.set(`${p}.bias`, indexSelect(state.get(`${p}.bias`)!, 0, idx));
      }
      mha.loadStateDict(state);
      const x = randn([2, 5, 16], { generator: g });
      noGrad(() => assertClose(mha.forward(x), gqa.forward(x).toTypedArray(), TOL, 'GQA vs expanded MHA'));
    });
  }

  it('refuses head counts that do not group', () => {
    assert.throws(() => new MultiHeadAttention({ hiddenSize: 12, numHeads: 6, numKeyValueHeads: 4 }), /6 query heads cannot be grouped over 4 key\/value heads/);
  });
});

describe('rotary position embedding', () => {
  it('rotates a channel pair by position x inv_freq (d = 2: (1, 0) at position p -> (cos p, sin p))', () => {
    const x = fromTypedArray(Float32Array.from([1, 0, 1, 0, 1, 0]), [3, 2]);
    const y = applyRope(x, ropeAngles([0, 1, 2], { dim: 2 }), 'half');
    assertClose(y, [1, 0, Math.cos(1), Math.sin(1), Math.cos(2), Math.sin(2)], TOL, 'rope d=2');
    // d = 4, base 100: the second pair turns at 1/100^(2/4) = 0.1 rad per position.
    const z = applyRope(tensor([[0, 0, 0, 0], [0, 1, 0, 0]]), ropeAngles([0, 3], { dim: 4, base: 100 }), 'half');
    assertClose(z.slice(0, 1, 2).reshape(4), [0, Math.cos(0.3), 0, Math.sin(0.3)], TOL, 'rope d=4 half layout pairs (1, 3)');
  });

  it('interleaved pairs (2i, 2i+1) are the half-split layout under a channel permutation', () => {
    const g = new Generator(2);
    const x = randn([2, 3, 5, 8], { generator: g }); // [B, nh, T, hd]
    const angles = ropeAngles([0, 1, 2, 7, 20], { dim: 8, base: 10000 });
    const perm = fromTypedArray(Int32Array.from([0, 2, 4, 6, 1, 3, 5, 7]), [8]); // evens then odds
    const viaHalf = applyRope(indexSelect(x, 3, perm), angles, 'half');
    const viaInterleaved = indexSelect(applyRope(x, angles, 'interleaved'), 3, perm);
    assertClose(viaInterleaved, viaHalf.toTypedArray(), TOL, 'interleaved vs permuted half');
  });

  for (const layout of ['half', 'interleaved'] as const) {
    it(`${layout}: q.k depends only on the position difference, and norms are preserved`, () => {
      const g = new Generator(3);
      const rope = new RotaryEmbedding({ dim: 8, layout });
      const q = randn([1, 8], { generator: g });
      const k = randn([1, 8], { generator: g });
      const dot = (m: number, n: number) => sum(mul(rope.apply(q, rope.angles([m])), rope.apply(k, rope.angles([n])))).item();
      assert.ok(Math.abs(dot(5, 2) - dot(13, 10)) < 1e-4, `${dot(5, 2)} vs ${dot(13, 10)}`);
      assert.ok(Math.abs(dot(5, 2) - dot(2, 5)) > 1e-3, 'the rotation is not symmetric in m and n');
      const rotated = rope.apply(concat([q, q], 0), rope.angles([0, 9]));
      assertClose(rotated.slice(0, 0, 1), q.toTypedArray(), TOL, 'position 0 is the identity');
      assert.ok(Math.abs(sum(mul(rotated, rotated)).item() - 2 * sum(mul(q, q)).item()) < 1e-4);
    });
  }
});
