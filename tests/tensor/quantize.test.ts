/**
 * Block quantization against ggml's reference quantizers: scripts/reference/gguf_files.py
 * quantizes float32 rows with gguf-py's Q8_0 / Q4_0 algorithms (ggml-quants.c's, in numpy) and
 * records the block bytes and dequantized values; attn's quantizeInt8 / quantizeInt4 with
 * half-precision scales must produce the same values and scales, and dequantize to the same floats.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  float16BitsToFloat32, fromTypedArray, Generator, int4At, quantizeInt4, quantizeInt8, quantizedTensor, randn,
} from '../../src/index.js';
import { loadFixture } from '../helpers.js';

interface QuantCase {
  name: string;
  values: number[];
  q8_0: string;
  q4_0: string;
  q8_0_dequant: number[];
  q4_0_dequant: number[];
}

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const doc = loadFixture<QuantCase>('gguf-quants.json');

describe('block quantization (ggml Q8_0 / Q4_0)', () => {
  it('q8_0: int8 values and half-precision scales equal ggml blocks, ties rounded away from zero', () => {
    for (const c of doc.cases) {
      const x = fromTypedArray(Float32Array.from(c.values), [c.values.length]);
      const q = quantizeInt8(x, { blockSize: 32, scaleFormat: 'float16' });
      const blocks = hex(c.q8_0);
      const values = q.storage.data as Int8Array;
      for (let b = 0; b < c.values.length / 32; b++) {
        const o = b * 34;
        assert.equal(q.storage.quant!.scales[b], float16BitsToFloat32(blocks[o]! | (blocks[o + 1]! << 8)), `${c.name}: scale of block ${b}`);
        for (let j = 0; j < 32; j++) assert.equal(values[b * 32 + j], (blocks[o + 2 + j]! << 24) >> 24, `${c.name}: q[${b * 32 + j}]`);
      }
      assert.deepEqual(Array.from(q.to('float32').toTypedArray()), c.q8_0_dequant, `${c.name}: dequantized`);
    }
  });

  it('q4_0: nibbles in ggml order (j low, j + 16 high) and scales d = x_amax / -8 equal ggml blocks', () => {
    for (const c of doc.cases) {
      const x = fromTypedArray(Float32Array.from(c.values), [c.values.length]);
      const q = quantizeInt4(x);
      assert.equal(q.dtype, 'int4');
      assert.equal(q.storage.data.length, c.values.length / 2);
      const blocks = hex(c.q4_0);
      for (let b = 0; b < c.values.length / 32; b++) {
        const o = b * 18;
        assert.equal(q.storage.quant!.scales[b], float16BitsToFloat32(blocks[o]! | (blocks[o + 1]! << 8)), `${c.name}: scale of block ${b}`);
        assert.deepEqual(Array.from(q.storage.data.subarray(b * 16, b * 16 + 16)), Array.from(blocks.subarray(o + 2, o + 18)), `${c.name}: nibbles of block ${b}`);
      }
      assert.deepEqual(Array.from(q.to('float32').toTypedArray()), c.q4_0_dequant, `${c.name}: dequantized`);
    }
  });

  it('int4At reads element j from byte j (low nibble) and element j + 16 from byte j (high nibble)', () => {
    const data = Uint8Array.from({ length: 16 }, (_, j) => (j & 15) | ((15 - j) << 4));
    for (let j = 0; j < 16; j++) {
      assert.equal(int4At(data, j, 32), j - 8);
      assert.equal(int4At(data, 16 + j, 32), 15 - j - 8);
    }
  });

  it('dequantization is exact d * q, also through views (transpose, row slice)', () => {
    const x = randn([4, 64], { generator: new Generator(5) });
    for (const q of [quantizeInt4(x), quantizeInt8(x, { blockSize: 32, scaleFormat: 'float16' })]) {
      const full = q.to('float32').toArray() as number[][];
      const { scales } = q.storage.quant!;
      for (let r = 0; r < 4; r++) {
        for (let c = 0; c < 64; c++) {
          const i = r * 64 + c;
          const v = q.dtype === 'int4' ? int4At(q.storage.data, i, 32) : q.storage.data[i]!;
          assert.equal(full[r]![c], Math.fround(v * scales[Math.floor(i / 32)]!));
        }
      }
      assert.deepEqual(q.mT.to('float32').toArray(), q.to('float32').mT.toArray(), `${q.dtype} transposed`);
      assert.deepEqual(q.slice(0, 1, 3).to('float32').toArray(), full.slice(1, 3), `${q.dtype} rows 1..3`);
    }
  });

  it('int4 storage is half a byte per element plus the scales; quantizedTensor checks its inputs', () => {
    const x = randn([8, 64], { generator: new Generator(6) });
    const q = quantizeInt4(x);
    assert.equal(q.storage.nbytes, 8 * 64 / 2 + 16 * 4);
    assert.equal(x.to('int4').dtype, 'int4');
    assert.throws(() => quantizeInt4(x, { blockSize: 3 }), /quantizeInt4: block size 3 must divide the last dimension of \[8,64\]/);
    assert.throws(() => quantizeInt4(randn([2, 6]), { blockSize: 3 }), /quantizeInt4: block size 3 must be even/);
    assert.throws(() => quantizedTensor('int4', new Uint8Array(10), new Float32Array(1), 32, [1, 32]), /needs 16 int4 bytes, got 10/);
    assert.throws(() => quantizedTensor('int8', new Int8Array(64), new Float32Array(1), 32, [2, 32]), /needs 2 scales, got 1/);
    assert.throws(() => quantizedTensor('int8', new Uint8Array(64), new Float32Array(2), 32, [2, 32]), /int8 data must be an Int8Array/);
  });
});
