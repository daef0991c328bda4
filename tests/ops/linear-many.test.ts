/**
 * linearMany (one kernel pass over several weights of one input, as decode's q/k/v and gate/up
 * projections) gives exactly the outputs of linear() per weight: every weight format, both
 * activation modes, 1 and 3 input rows, with biases, on the threaded wasm backend, where the
 * pass splits the matrices' rows across threads end to end (a thread's share crosses matrix
 * boundaries). Prefill-sized inputs and gradients take the loop.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Generator, Linear, createWasmBackend, getBackend, linear, linearLayers, linearMany, noGrad, quantizeInt4, quantizeInt8, randn,
  setBackend, type Tensor,
} from '../../src/index.js';

const K = 128;
const ROWS = [72, 40, 56]; // uneven, so thread shares start and end inside matrices

function weightsOf(format: string, g: Generator): Tensor[] {
  return ROWS.map((n) => {
    const w = randn([n, K], { generator: g });
    switch (format) {
      case 'float32': return w;
      case 'float16': return w.to('float16');
      case 'bfloat16': return w.to('bfloat16');
      case 'int8': return quantizeInt8(w, { blockSize: 32 });
      default: return quantizeInt4(w, { blockSize: 32 });
    }
  });
}

describe('linearMany', () => {
  const prev = getBackend();
  const backend = createWasmBackend({ threads: 2 });

  it('equals linear() per weight for every format, activation mode and row count', () => {
    setBackend(backend);
    // count the passes the kernel really ran (not the per-weight loop)
    const kernel = backend.fused.linear!;
    const many = kernel.forwardMany!.bind(kernel);
    let ran = 0;
    kernel.forwardMany = (...a) => {
      const r = many(...a);
      if (r) ran++;
      return r;
    };
    try {
      noGrad(() => {
        for (const format of ['float32', 'float16', 'bfloat16', 'int8', 'int4']) {
          for (const activations of ['float32', 'q8_0'] as const) {
            for (const m of [1, 3]) {
              const g = new Generator(m * 7 + format.length);
              const ws = weightsOf(format, g);
              const biases = ws.map((w, i) => (i === 1 ? null : randn([w.shape[0]!], { generator: g })));
              const x = randn([1, m, K], { generator: g });
              const outs = linearMany(x, ws, biases, { activations });
              assert.equal(outs.length, ws.length);
              ws.forEach((w, i) => {
                const one = linear(x, w, biases[i], { activations });
                assert.deepEqual(outs[i]!.shape, [1, m, w.shape[0]!]);
                assert.deepEqual([...outs[i]!.toTypedArray()], [...one.toTypedArray()], `${format} ${activations} m=${m} weight ${i}`);
              });
            }
          }
        }
      });
      assert.equal(ran, 5 * 2 * 2, 'every case ran as one kernel pass');
    } finally {
      kernel.forwardMany = many;
      setBackend(prev);
    }
  });

  it('f16 weights of which only some are finite: the pass keeps the Inf/NaN check for all of them', () => {
    setBackend(backend);
    try {
      noGrad(() => {
        const g = new Generator(11);
        const ws = weightsOf('float16', g);
        // weight 1 gets a NaN (row 3) and an Inf (row 20); weights 0 and 2 stay finite
        const bits = ws[1]!.storage.data as Uint16Array;
        bits[3 * K + 5] = 0x7e00;
        bits[20 * K + 100] = 0x7c00;
        ws[1]!.storage.markModified();
        const x = randn([1, 1, K], { generator: g });
        const outs = linearMany(x, ws);
        const y1 = outs[1]!.toTypedArray();
        assert.ok(Number.isNaN(y1[3]!) && !Number.isFinite(y1[20]!), 'the NaN and Inf weights reach their outputs');
        // rows next to a special one are redone on the exact conversion too, and which rows share
        // a pass differs between linear and linearMany: equal up to rounding, specials in place
        ws.forEach((w, i) => {
          const want = linear(x, w).toTypedArray();
          outs[i]!.toTypedArray().forEach((v, j) => {
            const e = want[j]!;
            if (!Number.isFinite(e)) assert.ok(Object.is(v, e) || (Number.isNaN(v) && Number.isNaN(e)), `weight ${i} row ${j}: ${v} vs ${e}`);
            else assert.ok(Math.abs(v - e) <= 1e-5 * (1 + Math.abs(e)), `weight ${i} row ${j}: ${v} vs ${e}`);
          });
        });
      });
    } finally {
      setBackend(prev);
    }
  });

  it('linearLayers matches each layer, and gradients still flow through float weights', () => {
    setBackend(backend);
    try {
      const g = new Generator(3);
      const layers = ROWS.map((n) => new Linear(K, n, { generator: g }));
      const x = randn([2, 1, K], { generator: g });
      const outs = noGrad(() => linearLayers(x, layers));
      layers.forEach((l, i) => assert.deepEqual([...outs[i]!.toTypedArray()], [...noGrad(() => l.forward(x)).toTypedArray()]));
      // with autograd on, float32 parameters go through matmul (the loop) and get gradients
      const ys = linearLayers(x, layers);
      ys[0]!.sum().backward();
      assert.ok(layers[0]!.weight.grad !== null && layers[0]!.weight.grad !== undefined);
    } finally {
      setBackend(prev);
    }
  });

  it('refuses mismatched inputs by name', () => {
    const w = randn([4, K]);
    assert.throws(() => linearMany(randn([1, K]), []), /linearMany: needs at least one weight/);
    assert.throws(() => linearMany(randn([1, K + 1]), [w, w]), /linear: input \[1,129\] does not end in the weight's input size 128/);
  });
});
