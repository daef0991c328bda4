import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmBackend } from '../../src/backends/wasm/index.js';
import { allocate } from '../../src/tensor/storage.js';
import { Generator, getBackend, linear, linearMany, matmul, quantizeInt8, randn, referenceBackend, scaledDotProductAttention, setBackend, sum, tensor } from '../../src/index.js';
import { conformanceSuite } from './conformance.js';
import { assertClose } from '../helpers.js';

// The default build (relaxed SIMD where available) with two threads, and the plain SIMD128
// fallback on one thread (what a browser without cross-origin isolation gets).
const threaded = createWasmBackend({ threads: 2 });
const single = createWasmBackend({ threads: 1, simd: 'simd' });
conformanceSuite(threaded);
conformanceSuite(single);
after(() => {
  threaded.close();
  single.close();
});

describe('wasm memory limits', () => {
  it('when the wasm heap is full, tensors fall back to ordinary memory and kernels keep working', () => {
    const small = createWasmBackend({ threads: 2, maxMemoryMiB: 32 });
    const prev = getBackend();
    try {
      setBackend(small);
      const g = new Generator(3);
      const a = randn([1024, 2048], { generator: g }); // 8 MiB each: the fourth does not fit
      const b = randn([2048, 1024], { generator: g });
      const c = randn([1024, 2048], { generator: g });
      const d = randn([2048, 2048], { generator: g });
      assert.ok(a.storage.data.buffer instanceof SharedArrayBuffer, 'the first tensors are in wasm memory');
      assert.ok(!(d.storage.data.buffer instanceof SharedArrayBuffer), 'the overflow tensor is an ordinary array');
      const y = matmul(d, b); // operands that cannot be staged: the reference kernel computes it
      setBackend(referenceBackend);
      const expected = matmul(d, b).toTypedArray();
      assertClose(y, expected, { atol: 1e-3, rtol: 1e-4 }, 'matmul with an overflowed operand');
      assert.ok(Number.isFinite(sum(a).item() + sum(c).item()));
    } finally {
      setBackend(prev);
      small.close();
    }
    assert.throws(() => createWasmBackend({ maxMemoryMiB: 8192 }), /wasm: maxMemoryMiB must be an integer in \[16, 4096\], got 8192/);
  });

  it('the fused linear and attention kernels fall back to the composed path when their scratch does not fit', () => {
    const small = createWasmBackend({ threads: 2, maxMemoryMiB: 32 });
    const prev = getBackend();
    try {
      setBackend(small);
      const g = new Generator(4);
      // int8 weights resident in wasm memory, then the heap filled so no call can stage its input
      const w = quantizeInt8(randn([1024, 1024], { generator: g }), { blockSize: 32 });
      const q = randn([1, 2, 64, 32], { generator: g });
      const kv = randn([1, 2, 64, 32], { generator: g });
      const fill: ReturnType<typeof randn>[] = [];
      for (const size of [1 << 20, 1 << 14, 1 << 8]) {
        for (;;) {
          const t = randn([size], { generator: g });
          fill.push(t);
          if (!(t.storage.data.buffer instanceof SharedArrayBuffer)) break;
        }
      }
      assert.ok(fill.length > 3);
      const x = randn([4, 1024], { generator: g }); // not resident: must be staged
      const y = linear(x, w, null, { activations: 'q8_0' }).toTypedArray();
      const o = scaledDotProductAttention(q, kv, kv, { causal: true }).toTypedArray();
      setBackend(referenceBackend);
      assertClose(y, linear(x, w, null, { activations: 'q8_0' }).toTypedArray(), { atol: 1e-4, rtol: 1e-5 }, 'linear with no room for scratch');
      assertClose(o, scaledDotProductAttention(q, kv, kv, { causal: true }).toTypedArray(), { atol: 1e-5, rtol: 1e-5 }, 'attention with no room for scratch');
    } finally {
      setBackend(prev);
      small.close();
    }
  });
});

describe('wasm memory from 2 GiB up', () => {
  it('kernels take addresses at and above 2^31 (they read back negative from the Int32Array job block)', () => {
    const big = createWasmBackend({ threads: 2 });
    const prev = getBackend();
    try {
      setBackend(big);
      // 2 GiB of untouched heap below everything else (fresh wasm pages: no memory is written)
      const filler = allocate('float32', 2 ** 29, false);
      assert.ok(filler.buffer instanceof SharedArrayBuffer, 'the filler is in wasm memory');
      const g = new Generator(6);
      const x = randn([2, 96], { generator: g });
      const ws = [randn([40, 96], { generator: g }), randn([24, 96], { generator: g })];
      const formats = [ws.map((w) => w.to('float16')), ws.map((w) => quantizeInt8(w, { blockSize: 32 }))];
      assert.ok(x.storage.data.byteOffset >= 2 ** 31 && formats[1]![1]!.storage.data.byteOffset >= 2 ** 31, 'operands above 2 GiB');
      // the decode kernels (several weights: the (w, scales, y) table is read in JS), and the probe
      const got = formats.map((f) => linearMany(x, f).map((y) => y.toTypedArray()));
      const values = Array.from({ length: 1000 }, (_, i) => (i % 7) - 3);
      const t = tensor(values).mul(1);
      assert.equal(big.readBandwidthProbe(t.storage.data as Float32Array), values.reduce((a, b) => a + b, 0), 'probe sum above 2 GiB');
      setBackend(referenceBackend);
      formats.forEach((f, i) => f.forEach((w, j) => assertClose(got[i]![j]!, linear(x, w).toTypedArray(), { atol: 1e-4, rtol: 1e-5 }, `${w.dtype} weight ${j} above 2 GiB`)));
    } finally {
      setBackend(prev);
      big.close();
    }
  });
});

describe('the bandwidth probe (the matvec benchmark\'s yardstick)', () => {
  it('sums a resident buffer exactly: four streams per thread, every tail element counted', () => {
    for (const backend of [threaded, single]) {
      const prev = getBackend();
      try {
        setBackend(backend);
        for (const n of [1, 17, 63, 64, 65, 1000, 4096 + 5, 100_003]) {
          // small integers: every order of summation gives the exact total
          const values = Array.from({ length: n }, (_, i) => ((i * 37) % 9) - 4 + (i === n - 1 ? 100 : 0));
          const t = tensor(values).mul(1); // an op's output: allocated in the backend's memory
          const want = values.reduce((a, b) => a + b, 0);
          assert.equal(backend.readBandwidthProbe(t.storage.data as Float32Array), want, `${backend.name} n=${n}`);
        }
      } finally {
        setBackend(prev);
      }
    }
  });
});

describe('the vector exp (softmax, attention, sigmoid, cross-entropy)', () => {
  it('is within 2 ulp of the correctly rounded e^x over the whole float range, subnormals and specials included', () => {
    const f = new Float32Array(1);
    const bits = new Int32Array(f.buffer);
    // floats in ulp order: the distance in representable values between two results
    const order = (v: number): number => {
      f[0] = v;
      return bits[0]! < 0 ? -(bits[0]! & 0x7fffffff) : bits[0]!;
    };
    const n = 200_003;
    const xs = new Float32Array(n);
    for (let i = 0; i < n; i++) xs[i] = -110 + (205 * i) / n; // overflow, normal range, subnormal results, underflow
    xs.set([0, -0, 88.72283, 88.7229, -87.33654, -103.27893, -104, -150, 1e-30, -1e-30, Infinity, -Infinity, NaN, 0.3465736, 2.5 * Math.LN2]);
    for (const backend of [threaded, single]) {
      const prev = getBackend();
      try {
        setBackend(backend);
        const x = tensor(xs).mul(1); // an op's output: resident in the backend's memory, so exp runs in wasm
        const y = x.exp().toTypedArray();
        let worst = 0;
        for (let i = 0; i < n; i++) {
          const want = Math.fround(Math.exp(xs[i]!));
          if (Number.isNaN(want)) {
            assert.ok(Number.isNaN(y[i]!), `${backend.name}: exp(NaN) = ${y[i]}`);
            continue;
          }
          worst = Math.max(worst, Math.abs(order(y[i]!) - order(want)));
          assert.ok(worst <= 2, `${backend.name}: exp(${xs[i]}) = ${y[i]}, want ${want}`);
        }
      } finally {
        setBackend(prev);
      }
    }
  });
});
