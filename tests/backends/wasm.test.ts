import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmBackend } from '../../src/backends/wasm/index.js';
import { Generator, getBackend, matmul, randn, referenceBackend, setBackend, sum } from '../../src/index.js';
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
});
