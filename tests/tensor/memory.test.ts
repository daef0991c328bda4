import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  pool, tidy, keep, tensor, mul, sum, exp, randn, Generator, getBackend, setBackend, referenceBackend, type Backend,
  fromTypedArray, isBackendBuffer, quantizedTensor, toBackendMemory, Linear, quantizeInt8,
  type WasmBackend,
} from '../../src/index.js';

describe('eager memory release (reference backend: the JS buffer pool)', () => {
  let prev: Backend;
  before(() => {
    prev = getBackend();
    setBackend(referenceBackend);
  });
  after(() => setBackend(prev));

  it('dispose returns the buffer to the pool and the next allocation reuses it', () => {
    const x = randn([1000], { generator: new Generator(1) });
    const y = exp(x);
    const buf = y.storage.data;
    y.dispose();
    assert.equal(y.isDisposed, true);
    const z = exp(x);
    assert.equal(z.storage.data, buf, 'the released buffer was not reused');
  });

  it('a storage is released only when its last view is disposed', () => {
    const x = exp(randn([64], { generator: new Generator(2) }));
    const v = x.reshape(8, 8);
    x.dispose();
    assert.equal(v.storage.released, false);
    assert.equal(v.toTypedArray().length, 64);
    v.dispose();
    assert.equal(v.storage.released, true);
  });

  it('tidy disposes intermediates and keeps returned tensors and gradients', () => {
    const w = tensor([1, 2, 3]).requiresGrad_();
    let inner: ReturnType<typeof mul> | undefined;
    const out = tidy(() => {
      inner = mul(w, w);
      const loss = sum(inner);
      loss.backward();
      return { loss };
    });
    assert.equal(inner!.isDisposed, true);
    assert.equal(out.loss.isDisposed, false);
    assert.equal(out.loss.item(), 14);
    assert.equal(w.grad!.isDisposed, false);
    assert.deepEqual(w.grad!.toArray(), [2, 4, 6]);
    let k: ReturnType<typeof mul> | undefined;
    let dropped: ReturnType<typeof mul> | undefined;
    tidy(() => {
      k = keep(mul(w, 2));
      dropped = mul(w, 3);
      return 0;
    });
    assert.equal(k!.isDisposed, false);
    assert.equal(dropped!.isDisposed, true);
  });

  it('a tidy loop allocates from the pool after the first iteration', () => {
    const x = randn([256], { generator: new Generator(3) }).requiresGrad_();
    const step = () => tidy(() => {
      x.zeroGrad();
      sum(mul(exp(x), x)).backward();
      return 0;
    });
    step();
    const before = pool.stats();
    for (let i = 0; i < 20; i++) step();
    const after = pool.stats();
    const misses = after.misses - before.misses;
    const hits = after.hits - before.hits;
    assert.ok(hits > 0 && misses <= 2, `pool hits ${hits}, misses ${misses}`);
  });
});

describe('eager memory release (wasm backend: tensors live in wasm memory)', () => {
  const wasm = () => getBackend() as WasmBackend;

  it('tensors are allocated in wasm memory and a disposed block is reused at the same address', () => {
    assert.match(wasm().name, /^wasm/);
    const x = randn([1000], { generator: new Generator(1) });
    const y = exp(x);
    assert.ok(typeof SharedArrayBuffer !== 'undefined' && y.storage.data.buffer instanceof SharedArrayBuffer);
    const at = y.storage.data.byteOffset;
    y.dispose();
    assert.equal(exp(x).storage.data.byteOffset, at);
  });

  it('a tidy training-style loop stops growing the wasm heap after the first iteration', () => {
    const w = randn([64, 64], { generator: new Generator(4) }).requiresGrad_();
    const x = randn([32, 64], { generator: new Generator(5) });
    const step = () => tidy(() => {
      w.zeroGrad();
      sum(mul(exp(x.matmul(w).mul(0.01)), 2)).backward();
      return 0;
    });
    step();
    step();
    const before = wasm().memoryStats().heapBytes;
    for (let i = 0; i < 20; i++) step();
    assert.equal(wasm().memoryStats().heapBytes, before);
  });

  it('a sequence growing by a row per step reuses freed memory (merging, splitting, size classes): the heap stays flat', () => {
    const g = new Generator(8);
    const step = (t: number) => tidy(() => {
      const x = randn([t, 64], { generator: g });
      return sum(exp(x.matmul(x.mT).mul(0.01))).item(); // [t, t] scratch and outputs of new sizes every step
    });
    for (let t = 1; t <= 64; t++) step(t);
    const after64 = wasm().memoryStats().heapBytes;
    for (let t = 65; t <= 256; t++) step(t);
    const after256 = wasm().memoryStats().heapBytes;
    // the live set at t = 256 is ~16x the one at 64; exact-size free lists grew the heap with the sum over all steps
    const live256 = 256 * 256 * 4 * 4 + 256 * 64 * 4 * 2;
    assert.ok(after256 - after64 <= 3 * live256, `heap grew ${after256 - after64} bytes for a live set of ~${live256}`);
  });

  it('adjacent free blocks merge and serve a larger request at the same address', () => {
    const a = randn([3000]);
    const b = randn([3000]);
    const guard = randn([10]); // keeps the pair off the top of the heap
    const at = a.storage.data.byteOffset;
    assert.equal(b.storage.data.byteOffset > at, true);
    a.dispose();
    b.dispose();
    const c = randn([5900]);
    assert.equal(c.storage.data.byteOffset, at, 'the merged block was not reused');
    c.dispose();
    guard.dispose();
  });

  it('toBackendMemory copies a plain-array weight (and its block scales) into wasm memory once, values unchanged', () => {
    const values = Int8Array.from({ length: 128 }, (_, i) => ((i * 37) % 255) - 127);
    const scales = Float32Array.from({ length: 4 }, (_, i) => 0.5 + i);
    const plain = quantizedTensor('int8', values, scales, 32, [2, 64]);
    assert.equal(isBackendBuffer(plain.storage.data), false);
    const moved = toBackendMemory(plain);
    assert.equal(isBackendBuffer(moved.storage.data), true);
    assert.equal(isBackendBuffer(moved.storage.quant!.scales), true);
    assert.deepEqual(Array.from(moved.storage.data as Int8Array), Array.from(values));
    assert.deepEqual(Array.from(moved.storage.quant!.scales), Array.from(scales));
    assert.deepEqual(moved.to('float32').toArray(), plain.to('float32').toArray());
    assert.equal(toBackendMemory(moved), moved, 'a resident tensor is returned as it is');
    // a view at an offset: only its own elements and scales are copied
    const row1 = toBackendMemory(plain.narrow(0, 1, 1));
    assert.deepEqual(Array.from(row1.storage.data as Int8Array), Array.from(values.subarray(64)));
    assert.deepEqual(Array.from(row1.storage.quant!.scales), [2.5, 3.5]);
    const f16 = toBackendMemory(fromTypedArray(Uint16Array.from([0x3c00, 0xc000, 0x3800]), [3], { dtype: 'float16' }));
    assert.equal(isBackendBuffer(f16.storage.data), true);
    assert.deepEqual(f16.to('float32').toArray(), [1, -2, 0.5]);
  });

  it('Linear.setWeight with release returns the replaced float32 weight to the wasm heap', () => {
    const layer = new Linear(256, 512);
    const old = layer.weight;
    const free = () => wasm().memoryStats().freeBytes;
    const before = free();
    // (tidy disposes the detached view, the storage's only other holder)
    layer.setWeight(tidy(() => quantizeInt8(old.detach(), { blockSize: 32 })), { release: true });
    assert.equal(old.isDisposed, true);
    assert.ok(free() - before >= 256 * 512 * 4 - 2 * 256 * 512, `freed ${free() - before} bytes`);
    const kept = new Linear(64, 64);
    const w = kept.weight;
    kept.setWeight(quantizeInt8(w.detach(), { blockSize: 32 }));
    assert.equal(w.isDisposed, false, 'without release the old weight is left to its other holders');
  });
});

describe('explicit resource management', () => {
  it('a `using` declaration disposes the tensor at the end of its block', () => {
    let escaped: ReturnType<typeof exp> | undefined;
    {
      using t = exp(tensor([0, 1]));
      escaped = t;
      assert.equal(t.isDisposed, false);
    }
    assert.equal(escaped.isDisposed, true);
  });
});
