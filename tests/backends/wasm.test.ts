import { after } from 'node:test';
import { createWasmBackend } from '../../src/backends/wasm/index.js';
import { conformanceSuite } from './conformance.js';

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
