/**
 * Batch padding on a worked example: the mask of two left-padded rows read into positions
 * (cumsum - 1, 0 at padding) and into which keys each query may see (real keys, and a padded
 * query's own column); all ones reads as no padding; bad masks are errors; per-row RoPE angles
 * rotate each row exactly as its own table does.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  RotaryEmbedding, fromTypedArray, paddedPositions, paddingMask, randn, readAttentionMask, Generator,
} from '../../src/index.js';

describe('batch padding', () => {
  // row 0: two pads then 3 tokens; row 1: 5 tokens
  const mask = fromTypedArray(Int32Array.from([0, 0, 1, 1, 1, 1, 1, 1, 1, 1]), [2, 5]);

  it('positions are cumsum(mask) - 1 over the last T columns, 0 at padding', () => {
    const p = readAttentionMask(mask, 2, 5, 'test')!;
    assert.deepEqual([...paddedPositions(p, 5)], [0, 0, 0, 1, 2, 0, 1, 2, 3, 4]);
    assert.deepEqual([...paddedPositions(p, 2)], [1, 2, 3, 4], 'a decode chunk of the last 2 columns');
  });

  it('keys: real ones, plus a padded query its own column', () => {
    const p = readAttentionMask(mask, 2, 5, 'test')!;
    const m = paddingMask(p, [0, 1, 2, 3, 4], 0, 5); // [2, 1, 5, 5]
    assert.deepEqual(m.shape, [2, 1, 5, 5]);
    const v = [...m.toTypedArray()].map(Number);
    assert.deepEqual(v.slice(0, 25), [
      1, 0, 1, 1, 1, // padded query 0: its own column and the real ones (the causal mask, applied
      0, 1, 1, 1, 1, // separately, then leaves it its own column only)
      0, 0, 1, 1, 1,
      0, 0, 1, 1, 1,
      0, 0, 1, 1, 1,
    ]);
    assert.ok(v.slice(25).every((x) => x === 1), 'row 1 has no padding');
    const ring = paddingMask(p, [4, 2, 3], 4, 1); // keys in ring-buffer order, one query at column 4
    assert.deepEqual([...ring.toTypedArray()].map(Number), [1, 1, 1, 1, 1, 1]);
  });

  it('all ones or no mask is no padding; bad shapes and values are errors naming them', () => {
    assert.equal(readAttentionMask(fromTypedArray(new Int32Array(6).fill(1), [2, 3]), 2, 3, 'test'), null);
    assert.equal(readAttentionMask(null, 2, 3, 'test'), null);
    assert.throws(() => readAttentionMask(mask, 2, 6, 'M'), /M: attentionMask must be \[B, past \+ T\] = \[2, 6\]/);
    assert.throws(() => readAttentionMask(fromTypedArray(Float32Array.from([1, 0.5]), [1, 2]), 1, 2, 'M'), /entries must be 0 \(padding\) or 1 \(a token\), got 0.5 at row 0, column 1/);
  });

  it('per-row RoPE angles rotate each row as its own table does (bit for bit)', () => {
    const rope = new RotaryEmbedding({ dim: 8, layout: 'half' });
    const x = randn([2, 3, 4, 8], { generator: new Generator(1) }); // [B, nh, T, hd]
    const positions = Int32Array.from([0, 0, 0, 1, 5, 6, 7, 8]);
    const both = rope.apply(x, rope.anglesPerRow(positions, 2)).toTypedArray();
    const row0 = rope.apply(x.narrow(0, 0, 1), rope.angles([0, 0, 0, 1])).toTypedArray();
    const row1 = rope.apply(x.narrow(0, 1, 1), rope.angles([5, 6, 7, 8])).toTypedArray();
    assert.deepEqual(both, Float32Array.from([...row0, ...row1]));
  });
});
