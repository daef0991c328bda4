/**
 * ALiBi against tests/fixtures/alibi.json (scripts/reference/alibi.py): slopes equal to BLOOM's
 * build_alibi_tensor (float32; bit-exact where the slopes are powers of two) for powers of two and not, the bias layout, and causal
 * attention with the bias as scaledDotProductAttention's additive mask vs torch within 1e-5.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { alibiBias, alibiSlopes, fromTypedArray, scaledDotProductAttention } from '../../src/index.js';
import { assertClose, loadFixture } from '../helpers.js';

interface AlibiCase {
  shape: [number, number, number, number, number];
  q: number[];
  k: number[];
  v: number[];
  out: number[];
}

const doc = loadFixture<AlibiCase>('alibi.json') as ReturnType<typeof loadFixture<AlibiCase>> & { slopes: Record<string, number[]> };

describe(`ALiBi vs ${doc.generator}, torch ${doc.versions.torch}`, () => {
  // torch's float32 pow is itself only 1-ulp accurate and not consistent (torch.pow(2^-0.5, 13) on a
  // one-element tensor and on arange(1, 17) differ in the last bit), so 2 ulp (rtol 2.5e-7); slopes
  // that are powers of two (n = 1, 2, 4, 8 and their extensions) are exact below.
  it('slopes equal BLOOM build_alibi_tensor (float32, within 2 ulp) for every head count in the fixture', () => {
    for (const [n, expected] of Object.entries(doc.slopes)) {
      assertClose(alibiSlopes(Number(n)), expected, { atol: 0, rtol: 2.5e-7 }, `${n} heads`);
    }
    for (const n of ['1', '2', '3', '4', '5', '6', '8', '12']) assert.deepEqual([...alibiSlopes(Number(n))], doc.slopes[n], `${n} heads exactly`);
  });

  it('the paper\'s sequences: 8 heads 1/2 .. 1/256; 6 heads = 4-head slopes then 8-head slopes 1 and 3', () => {
    assert.deepEqual([...alibiSlopes(8)], [1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256]);
    assert.deepEqual([...alibiSlopes(6)], [1 / 4, 1 / 16, 1 / 64, 1 / 256, 1 / 2, 1 / 8]);
    assert.throws(() => alibiSlopes(0), /numHeads must be a positive integer/);
  });

  it('bias [1, H, Tq, Tk] is slope * (j - query position), queries aligned to the end of the keys', () => {
    const b = alibiBias(2, 2, 3);
    assert.deepEqual([...b.shape], [1, 2, 2, 3]);
    // 2 heads: slopes 2^-4, 2^-8; query rows sit at positions 1 and 2
    assert.deepEqual(b.toArray(), [[
      [[-1 / 16, 0, 1 / 16], [-2 / 16, -1 / 16, 0]],
      [[-1 / 256, 0, 1 / 256], [-2 / 256, -1 / 256, 0]],
    ]]);
    assert.throws(() => alibiBias(2, 4, 3), /need 0 < tq <= tk/);
  });

  for (const c of doc.cases) {
    const [b, h, tq, tk, d] = c.shape;
    it(`causal attention with the ALiBi mask matches torch (B ${b}, H ${h}, Tq ${tq}, Tk ${tk}, D ${d})`, () => {
      const q = fromTypedArray(Float32Array.from(c.q), [b, h, tq, d]);
      const k = fromTypedArray(Float32Array.from(c.k), [b, h, tk, d]);
      const v = fromTypedArray(Float32Array.from(c.v), [b, h, tk, d]);
      const out = scaledDotProductAttention(q, k, v, { causal: true, mask: alibiBias(h, tq, tk) });
      assertClose(out, c.out, { atol: 1e-5, rtol: 1e-5 }, 'alibi attention', [b, h, tq, d]);
      // and the bias matters: plain causal attention is far from the reference
      const plain = scaledDotProductAttention(q, k, v, { causal: true }).toTypedArray();
      assert.ok(plain.some((x, i) => Math.abs(x - c.out[i]!) > 1e-3), 'ALiBi changes the output');
    });
  }
});
