/**
 * linear(..., { activations: 'q8_0' }): llama.cpp's arithmetic for Q8_0 / Q4_0 weights.
 * - The activation quantizer follows ggml-cpu's quantize_row_q8_0 (x86) rule on worked cases:
 *   d = half(amax / 127), q = round-half-even(x * 127 / amax), an all-zero block stays zero.
 * - The wasm kernel (integer dot products for decode, dequantized q8 blocks through the GEMM
 *   for prefill) equals the composed oracle (quantizeActivationsQ8, then the float product with
 *   the dequantized weights) and a float64 sum of d_w d_x sum(q_w q_x) per block, for int8
 *   blocks of 32, per-channel int8 and int4, 1..40 rows, threaded and not.
 * - At the integer extremes (weights -128 and 127, int4 nibbles 0 and 15, activations +-127, the
 *   largest pair sums the relaxed dot product's i16 lanes must hold) both builds, relaxed SIMD
 *   and plain SIMD, threaded and not, give the exact integer sums.
 * - A model with these layers gives the same logits cached and uncached (within float32 sum
 *   order), and bad input names the problem.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Generator, Linear, createWasmBackend, quantizedTensor, setBackend, LlamaConfig, LlamaForCausalLM, createKVCache, fromTypedArray, getBackend, linear, noGrad, quantizeActivationsQ8, quantizeInt4,
  quantizeInt8, quantizeModel, randn, tensor, withoutFused, type Tensor,
} from '../../src/index.js';

/** Composed path: the fused kernel switched off. */
function composed(x: Tensor, w: Tensor): Float32Array {
  return withoutFused(() => linear(x, w, null, { activations: 'q8_0' }).toTypedArray() as Float32Array);
}

/** Float64 sum over blocks of d_w * d_x * sum(q_w q_x), from the stored weight and the quantized input. */
function float64Oracle(x: Tensor, w: Tensor): Float64Array {
  const [n, k] = w.shape as [number, number];
  const m = x.size / k;
  const xq = quantizeActivationsQ8(x).toTypedArray() as Float32Array; // d_x * q_x
  const wf = w.to('float32').toTypedArray() as Float32Array; // d_w * q_w
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += xq[i * k + j]! * wf[r * k + j]!;
      y[i * n + r] = s;
    }
  }
  return y;
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, scale: number, what: string): void {
  assert.equal(got.length, want.length, what);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  assert.ok(worst <= 2e-6 * scale, `${what}: max |diff| ${worst} > ${2e-6 * scale}`);
}

describe('q8_0 activations (llama.cpp arithmetic for quantized weights)', () => {
  it('quantizes blocks as ggml quantize_row_q8_0: ties to even, half-precision d, zero blocks', () => {
    // block 1: amax 127 -> d = 1, id = 1: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, 0.4 -> 0, -126.6 -> -127
    const b1 = [127, 2.5, 3.5, -2.5, 0.4, -126.6, ...new Array<number>(26).fill(1.5)];
    // block 2: all zero
    const b2 = new Array<number>(32).fill(0);
    // block 3: amax 1 -> d = half(1/127) = 0.0078735351..., q = round(x * 127)
    const b3 = [1, -1, 0.5, 0.25, ...new Array<number>(28).fill(-0.1)];
    const out = quantizeActivationsQ8(tensor([...b1, ...b2, ...b3])).toArray() as number[];
    assert.deepEqual(out.slice(0, 6), [127, 2, 4, -2, 0, -127]);
    assert.deepEqual(out.slice(6, 32), new Array<number>(26).fill(2)); // 1.5 -> 2 (even)
    assert.deepEqual(out.slice(32, 64), new Array<number>(32).fill(0));
    const d = 0.00787353515625; // the half nearest 1/127
    const want3 = [127, -127, 64, 32].map((q) => Math.fround(d * q)); // 0.5*127 = 63.5 -> 64, 0.25*127 = 31.75 -> 32
    assert.deepEqual(out.slice(64, 68), want3);
    assert.equal(out[68], Math.fround(d * -13)); // -12.7 -> -13
  });

  it('the fused kernel equals the composed oracle and a float64 block sum', () => {
    assert.ok(getBackend().fused?.linear, `backend ${getBackend().name} has no fused linear kernel`);
    const g = new Generator(7);
    const cases: { m: number; n: number; k: number; kind: 'q8_0' | 'int8-channel' | 'q4_0' }[] = [
      { m: 1, n: 5, k: 32, kind: 'q8_0' }, { m: 3, n: 70, k: 96, kind: 'q8_0' }, { m: 1, n: 300, k: 256, kind: 'q8_0' },
      { m: 8, n: 33, k: 64, kind: 'int8-channel' }, { m: 2, n: 300, k: 256, kind: 'q4_0' }, { m: 1, n: 7, k: 160, kind: 'q4_0' },
      { m: 17, n: 40, k: 128, kind: 'q8_0' }, { m: 40, n: 64, k: 96, kind: 'q4_0' },
      // prefill sizes (the integer GEMM): rows not a multiple of its 6, columns not of its 8
      { m: 16, n: 5, k: 32, kind: 'q8_0' }, { m: 23, n: 70, k: 96, kind: 'q8_0' }, { m: 19, n: 13, k: 160, kind: 'q4_0' },
      { m: 20, n: 33, k: 64, kind: 'int8-channel' }, { m: 64, n: 300, k: 256, kind: 'q8_0' },
    ];
    for (const c of cases) {
      const w = randn([c.n, c.k], { generator: g });
      const wq = c.kind === 'q4_0' ? quantizeInt4(w, { blockSize: 32, scaleFormat: 'float16' })
        : quantizeInt8(w, c.kind === 'q8_0' ? { blockSize: 32, scaleFormat: 'float16' } : { blockSize: c.k });
      const x = randn([c.m, c.k], { generator: g }).mul(3);
      const fused = noGrad(() => linear(x, wq, null, { activations: 'q8_0' }).toTypedArray());
      const scale = Math.sqrt(c.k) * 3 * 4;
      const what = `${c.kind} m=${c.m} n=${c.n} k=${c.k}`;
      assertClose(fused, float64Oracle(x, wq), scale, `${what} fused vs float64`);
      assertClose(composed(x, wq), float64Oracle(x, wq), scale, `${what} composed vs float64`);
      // and it is a different product from the float-activation one (the mode is really on)
      const exact = noGrad(() => linear(x, wq).toTypedArray());
      let differs = 0;
      for (let i = 0; i < exact.length; i++) differs = Math.max(differs, Math.abs(exact[i]! - fused[i]!));
      assert.ok(differs > 1e-4, `${what}: q8_0 activations gave the float-activation result`);
    }
  });

  it('integer extremes give exact sums on the relaxed and the plain SIMD build', () => {
    const builds = [createWasmBackend({ threads: 2 }), createWasmBackend({ threads: 1, simd: 'simd' })];
    const prev = getBackend();
    const g = new Generator(11);
    const k = 256;
    const n = 300; // n * k above the threading threshold
    try {
      for (const int4 of [false, true]) {
        // weights at the ends of their range, with a random minority in between
        const wv = new Int32Array(n * k);
        for (let i = 0; i < wv.length; i++) {
          const u = g.random();
          wv[i] = int4 ? (u < 0.4 ? -8 : u < 0.8 ? 7 : Math.floor(g.random() * 16) - 8) : u < 0.4 ? -128 : u < 0.8 ? 127 : Math.floor(g.random() * 256) - 128;
        }
        let data: Int8Array | Uint8Array;
        if (int4) {
          data = new Uint8Array((n * k) / 2);
          for (let b = 0; b < (n * k) / 32; b++) {
            for (let j = 0; j < 16; j++) data[b * 16 + j] = (wv[b * 32 + j]! + 8) | ((wv[b * 32 + j + 16]! + 8) << 4);
          }
        } else {
          data = Int8Array.from(wv);
        }
        for (const m of [1, 3, 20]) {
          // activations +-127 (every block's amax is 127, so d_x = 1 and q = x), mostly of the
          // weight's sign so the pair sums reach 2 * 128 * 127
          const xv = new Float32Array(m * k);
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < k; j++) {
              const u = g.random();
              xv[i * k + j] = j % 32 === 0 ? 127 : u < 0.45 ? -127 : u < 0.9 ? 127 : Math.round(g.random() * 254) - 127;
            }
          }
          const want = new Float64Array(m * n);
          for (let i = 0; i < m; i++) {
            for (let r = 0; r < n; r++) {
              let s = 0;
              for (let j = 0; j < k; j++) s += xv[i * k + j]! * wv[r * k + j]!;
              want[i * n + r] = s;
            }
          }
          for (const backend of builds) {
            setBackend(backend);
            const w = quantizedTensor(int4 ? 'int4' : 'int8', data, new Float32Array((n * k) / 32).fill(1), 32, [n, k]);
            const got = noGrad(() => linear(fromTypedArray(xv.slice(), [m, k]), w, null, { activations: 'q8_0' }).toTypedArray());
            for (let i = 0; i < want.length; i++) {
              if (got[i] !== want[i]) assert.fail(`${backend.name} ${int4 ? 'int4' : 'int8'} m=${m}: y[${i}] = ${got[i]}, exact ${want[i]}`);
            }
          }
        }
      }
    } finally {
      setBackend(prev);
      for (const b of builds) b.close();
    }
  });

  it('a model with q8_0 activations: cached logits equal uncached ones', () => {
    const config = LlamaConfig.fromDict({ vocab_size: 64, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 });
    const model = new LlamaForCausalLM(config, { generator: new Generator(3) });
    const report = quantizeModel(model, { scheme: 'q8_0', activations: 'q8_0' });
    assert.ok(report.quantized.length > 0);
    for (const [, m] of model.namedModules()) if (m instanceof Linear) assert.equal(m.activations, 'q8_0');
    const ids = [5, 9, 2, 33, 17, 8, 1, 40, 12, 61, 3, 0, 7, 19, 22, 45, 30, 11];
    noGrad(() => {
      const full = model.forward(fromTypedArray(Int32Array.from(ids), [1, ids.length])).toTypedArray();
      // token by token through a cache (decode rows: integer kernel; the full pass: 18 rows, GEMM)
      const caches = [createKVCache({ kind: 'dense' }), createKVCache({ kind: 'dense' })];
      for (let t = 0; t < ids.length; t++) {
        const step = model.forward(fromTypedArray(Int32Array.from([ids[t]!]), [1, 1]), { cache: caches }).toTypedArray();
        assertClose(step, full.subarray(t * 64, (t + 1) * 64), 50, `position ${t}`);
      }
    });
  });

  it('bad input names the problem', () => {
    const w = quantizeInt8(randn([4, 48], { generator: new Generator(1) }), { blockSize: 16 });
    assert.throws(() => linear(randn([1, 48]), w, null, { activations: 'q8_0' }), /multiples of 32 \(input 48, block 16\)/);
    const w32 = quantizeInt8(randn([4, 64], { generator: new Generator(1) }), { blockSize: 32 });
    assert.throws(() => linear(randn([1, 64]).requiresGrad_(), w32, null, { activations: 'q8_0' }), /for inference/);
    assert.throws(() => linear(randn([1, 64]), w32, null, { activations: 'q4' as never }), /activations must be 'float32' or 'q8_0', got 'q4'/);
    assert.throws(() => quantizeActivationsQ8(randn([2, 40])), /\(40\) must be a multiple of 32/);
    // int4 blocks of 64 pair elements j and j + 32 in a byte: not the Q4_0 layout the integer kernel reads
    const w64 = quantizeInt4(randn([4, 128], { generator: new Generator(2) }), { blockSize: 64 });
    for (const fused of [true, false]) {
      const f = () => linear(randn([1, 128]), w64, null, { activations: 'q8_0' });
      assert.throws(fused ? f : () => withoutFused(f), /int4 weights in blocks of 32 \(Q4_0\), got blocks of 64/);
    }
  });
});
