import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBFloat16Bits, float32ToFloat16Bits,
  quantizeInt8, randn, tensor, add, Generator, arange, div, Linear, Tensor, getBackend, setBackend, referenceBackend,
} from '../../src/index.js';
import { newStorage } from '../../src/tensor/storage.js';

describe('dtypes', () => {
  it('float16 encodes known bit patterns (IEEE 754 binary16)', () => {
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [0.5, 0x3800], [2 ** -24, 0x0001], [2 ** -14, 0x0400],
      [0, 0x0000], [Infinity, 0x7c00], [1e6, 0x7c00], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
    ];
    for (const [v, bits] of cases) assert.equal(float32ToFloat16Bits(v), bits, `f16(${v})`);
    assert.ok(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN))));
    for (let h = 0; h < 0x7c00; h += 97) assert.equal(float32ToFloat16Bits(float16BitsToFloat32(h)), h);
  });

  for (const [label, backend] of [['the default (wasm) backend', null], ['the reference backend (the JS scan)', referenceBackend]] as const) {
    it(`Storage.halfFinite finds Inf/NaN halves anywhere (vector body, tail, odd offsets) and rescans after markModified, on ${label}`, () => {
      const prev = getBackend();
      if (backend) setBackend(backend);
      try {
        for (const n of [18, 1000]) {
          const h = randn([n], { generator: new Generator(n) }).to('float16');
          const data = h.storage.data as Uint16Array;
          assert.equal(h.storage.halfFinite(), true);
          for (const [at, bits] of [[0, 0x7c00], [1, 0xfc00], [8, 0x7e00], [n - 9, 0xfc01], [n - 1, 0x7c00], [500 % n, 0xffff]] as const) {
            const saved = data[at]!;
            data[at] = bits;
            assert.equal(h.storage.halfFinite(), true, 'cached until markModified');
            h.storage.markModified();
            assert.equal(h.storage.halfFinite(), false, `n=${n}: special 0x${bits.toString(16)} at ${at}`);
            data[at] = saved;
            h.storage.markModified();
            assert.equal(h.storage.halfFinite(), true);
          }
          // the largest finite halves and subnormals are finite; a storage at an odd half offset
          const odd = new Tensor(newStorage(new Uint16Array(data.buffer, data.byteOffset + 2, 5), 'float16', false), [5]);
          (odd.storage.data as Uint16Array).set([0x7bff, 0xfbff, 0x0001, 0x8001, 0x3c00]);
          assert.equal(odd.storage.halfFinite(), true);
          (odd.storage.data as Uint16Array)[4] = 0x7c00;
          odd.storage.markModified();
          assert.equal(odd.storage.halfFinite(), false, 'the last element of an odd-length, odd-offset storage');
        }
        // empty storages, at a 4-byte boundary and 2 bytes past one
        for (const at of [0, 2]) assert.equal(new Tensor(newStorage(new Uint16Array(new ArrayBuffer(8), at, 0), 'float16', false), [0]).storage.halfFinite(), true);
        assert.throws(() => randn([2]).storage.halfFinite(), /needs float16 storage, got float32/);
      } finally {
        setBackend(prev);
      }
    });
  }

  it('Module.loadStateDict marks the storages it writes as modified', () => {
    const lin = new Linear(4, 3);
    const before = lin.weight.storage.version;
    lin.loadStateDict(new Map(lin.stateDict()));
    assert.equal(lin.weight.storage.version, before + 1);
  });

  it('bfloat16 rounds to nearest even', () => {
    assert.equal(float32ToBFloat16Bits(1), 0x3f80);
    assert.equal(float32ToBFloat16Bits(-1.5), 0xbfc0);
    assert.equal(bfloat16BitsToFloat32(0x3f80), 1);
    assert.equal(float32ToBFloat16Bits(1 + 2 ** -8), 0x3f80); // tie -> even
    assert.equal(float32ToBFloat16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie -> even (up)
  });

  it('.to() converts float32 <-> float16/bfloat16 with bounded error, views included', () => {
    const x = randn([4, 8], { generator: new Generator(1) });
    for (const [d, rel] of [['float16', 2 ** -11], ['bfloat16', 2 ** -8]] as const) {
      const h = x.to(d);
      assert.equal(h.dtype, d);
      assert.equal(h.storage.nbytes, 64);
      const back = h.to('float32').toTypedArray();
      const orig = x.toTypedArray();
      orig.forEach((v, i) => assert.ok(Math.abs(back[i]! - v) <= Math.abs(v) * rel + 1e-7, `${d} ${v} -> ${back[i]}`));
      assert.deepEqual(h.mT.to('float32').toArray(), h.to('float32').mT.toArray());
    }
  });

  it('int8 with per-block scales: error <= scale / 2 per element', () => {
    const x = randn([3, 64], { generator: new Generator(2) });
    const q = quantizeInt8(x, { blockSize: 32 });
    assert.equal(q.dtype, 'int8');
    assert.equal(q.storage.quant!.scales.length, 6);
    const back = q.to('float32').toTypedArray();
    const orig = x.toTypedArray();
    const scales = q.storage.quant!.scales;
    orig.forEach((v, i) => assert.ok(Math.abs(back[i]! - v) <= scales[Math.floor(i / 32)]! / 2 + 1e-7));
    assert.equal(x.to('int8').storage.quant!.blockSize, 32);
    assert.throws(() => quantizeInt8(x, { blockSize: 5 }), /quantizeInt8: block size 5 must divide the last dimension of \[3,64\]/);
  });

  it('storage formats refuse arithmetic with a clear message', () => {
    const h = tensor([1, 2]).to('float16');
    assert.throws(() => add(h, 1), /add: dtype float16 is a storage format; convert with .to\('float32'\) first/);
    assert.throws(() => h.toArray(), /read: dtype float16 must be converted/);
  });

  it('type promotion follows PyTorch', () => {
    const i = arange(3);
    assert.equal(i.dtype, 'int32');
    assert.equal(add(i, 1).dtype, 'int32');
    assert.equal(add(i, 1.5).dtype, 'float32');
    assert.equal(div(i, 2).dtype, 'float32');
    assert.deepEqual(div(i, 2).toArray(), [0, 0.5, 1]);
    assert.equal(add(tensor([1], { dtype: 'float64' }), tensor([1])).dtype, 'float64');
    assert.equal(add(tensor([1], { dtype: 'float32' }), 1e-300).dtype, 'float32');
    assert.deepEqual(tensor([1.7, -1.7, 2.5]).to('int32').toArray(), [1, -1, 2]);
    assert.deepEqual(tensor([0, 0.1, -2]).to('bool').toArray(), [0, 1, 1]);
  });
});
