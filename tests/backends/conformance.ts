/**
 * Backend conformance suite (as llama.cpp's test-backend-ops, candle's test_device!): every
 * primitive kernel of a backend is checked against a brute-force oracle that walks
 * multi-indices, on randomised shapes with awkward sizes (1, 3, 17, 127, 1000) and
 * non-contiguous, offset and broadcast layouts; fused kernels are checked against the composed
 * ops. Errors are measured as NMSE (normalised mean squared error) with per-op tolerances.
 *
 * Usage from a test file: `conformanceSuite(myBackend)`.
 */
import { describe, it as itTest } from 'node:test';
import assert from 'node:assert/strict';
import * as A from '../../src/index.js';
import {
  BINARY_OPS, COMPARE_OPS, Generator, UNARY_OPS, contiguousStrides, getBackend, setBackend, sizeOf, withoutFused,
  type Backend, type ComputeDType, type Shape, type TypedArray, type View,
} from '../../src/index.js';

const AWKWARD = [1, 3, 17, 127];

export function nmse(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (e === a) {
      den += e * e;
      continue;
    }
    num += (a - e) ** 2;
    den += e * e;
  }
  return den === 0 ? num : num / den;
}

function assertNmse(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const e = nmse(actual, expected);
  assert.ok(e <= tol, `${what}: NMSE ${e.toExponential(2)} > ${tol}`);
}

// ---- oracle helpers ------------------------------------------------------------------------

function* multiIndices(shape: Shape): IterableIterator<number[]> {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let p = 0; p < n; p++) {
    yield idx.slice();
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
}

function at(v: View, idx: readonly number[]): number {
  let o = v.offset;
  for (let i = 0; i < idx.length; i++) o += idx[i]! * v.strides[i]!;
  return v.data[o]!;
}

type Layout = 'contiguous' | 'permuted' | 'strided' | 'broadcast';

/** The backend whose test is running: inputs live where it allocates (e.g. wasm memory). */
let active: Backend | null = null;
function newData(dtype: ComputeDType, n: number): TypedArray {
  return active?.allocate?.(dtype, n, false) ?? A.newTypedArray(dtype, n);
}
const LAYOUTS: Layout[] = ['contiguous', 'permuted', 'strided', 'broadcast'];

/**
 * A view of `shape` with the given memory layout over fresh random data:
 * permuted (transposed strides), strided (padded rows and a leading offset), or broadcast
 * (size-1 dims get stride 0 and are expanded to the sizes in `expandTo`).
 */
function makeView(shape: Shape, layout: Layout, g: Generator, dtype: ComputeDType = 'float32', gen?: (g: Generator) => number): View {
  const sample = gen ?? ((r: Generator) => r.normal());
  const nd = shape.length;
  if (layout === 'broadcast' && nd > 0) {
    const base = shape.map((d, i) => (i % 2 === 0 ? 1 : d));
    const inner = makeView(base, 'contiguous', g, dtype, gen);
    return { ...inner, shape, strides: inner.strides.map((s, i) => (base[i] === 1 && shape[i] !== 1 ? 0 : s)) };
  }
  if (layout === 'permuted' && nd >= 2) {
    const perm = Array.from({ length: nd }, (_, i) => nd - 1 - i); // reversed axes
    const stored = perm.map((p) => shape[p]!);
    const st = contiguousStrides(stored);
    const strides = new Array<number>(nd);
    perm.forEach((p, i) => (strides[p] = st[i]!));
    const data = newData(dtype, sizeOf(shape));
    for (let i = 0; i < data.length; i++) data[i] = sample(g);
    return { data, dtype, shape, strides, offset: 0 };
  }
  if (layout === 'strided' && nd >= 1) {
    const padded = [...shape];
    padded[nd - 1] = shape[nd - 1]! + 2;
    const strides = contiguousStrides(padded);
    const offset = 3;
    const data = newData(dtype, sizeOf(padded) + offset);
    for (let i = 0; i < data.length; i++) data[i] = sample(g);
    return { data, dtype, shape, strides, offset };
  }
  const data = newData(dtype, sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = sample(g);
  return { data, dtype, shape, strides: contiguousStrides(shape), offset: 0 };
}

function randomShape(g: Generator, nd: number): number[] {
  return Array.from({ length: nd }, () => AWKWARD[g.randint(AWKWARD.length)]!).map((d, i, a) => {
    // keep total size moderate: at most one 127 per shape
    return d === 127 && a.indexOf(127) !== i ? 3 : d;
  });
}

const UNARY_REF: Record<(typeof UNARY_OPS)[number], (x: number) => number> = {
  neg: (x) => -x, exp: Math.exp, log: Math.log, sqrt: Math.sqrt, abs: Math.abs, tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)), sin: Math.sin, cos: Math.cos, sign: Math.sign,
  erf: (x) => {
    // Simpson integration of 2/sqrt(pi) exp(-t^2) on [0, x]: independent of the kernel's series
    const n = 2000;
    const h = x / n;
    let s = 1 + Math.exp(-x * x);
    for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
    return ((s * h) / 3) * (2 / Math.sqrt(Math.PI));
  },
};

const BINARY_REF: Record<(typeof BINARY_OPS)[number], (a: number, b: number) => number> = {
  add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b,
  pow: (a, b) => Math.pow(a, b), maximum: Math.max, minimum: Math.min,
};

const COMPARE_REF: Record<(typeof COMPARE_OPS)[number], (a: number, b: number) => boolean> = {
  eq: (a, b) => a === b, ne: (a, b) => a !== b, lt: (a, b) => a < b, le: (a, b) => a <= b, gt: (a, b) => a > b, ge: (a, b) => a >= b,
};

function round32(xs: ArrayLike<number>): Float32Array {
  return Float32Array.from(xs as ArrayLike<number>);
}

// ---- the suite -------------------------------------------------------------------------------

export function conformanceSuite(backend: Backend): void {
  // Every test runs with inputs allocated by the backend under test (half of them: also plain
  // typed arrays, so both the in-place and the staging paths are covered).
  const it = (name: string, fn: () => void) =>
    itTest(name, () => {
      for (const resident of [true, false]) {
        active = resident ? backend : null;
        try {
          fn();
        } finally {
          active = null;
        }
      }
    });
  describe(`backend conformance: ${backend.name}`, () => {
    const g = new Generator(20261123);

    it('unary ops on every layout', () => {
      for (const op of UNARY_OPS) {
        for (const layout of LAYOUTS.filter((l) => l !== 'broadcast')) {
          const shape = randomShape(g, 1 + g.randint(3));
          const positive = op === 'log' || op === 'sqrt';
          const x = makeView(shape, layout, g, 'float32', positive ? (r) => r.random() * 4 + 0.01 : undefined);
          const out = backend.unary(op, x, 'float32');
          const exp = [...multiIndices(shape)].map((i) => UNARY_REF[op](at(x, i)));
          assertNmse(out, round32(exp), op === 'erf' ? 1e-10 : 1e-12, `${op} ${layout} ${A.formatShape(shape)}`);
        }
      }
      const big = makeView([1000], 'contiguous', g);
      assertNmse(backend.unary('tanh', big, 'float32'), round32(Array.from(big.data, Math.tanh)), 1e-12, 'tanh [1000]');
    });

    it('binary and comparison ops with broadcasting and strides', () => {
      for (const op of BINARY_OPS) {
        for (const la of LAYOUTS) {
          const shape = randomShape(g, 2 + g.randint(2));
          const lb = LAYOUTS[g.randint(LAYOUTS.length)]!;
          const gen = op === 'pow' ? (r: Generator) => r.random() * 2 + 0.1 : undefined;
          const a = makeView(shape, la, g, 'float32', gen);
          const b = makeView(shape, lb, g, 'float32', op === 'div' ? (r) => r.random() + 0.5 : undefined);
          const out = backend.binary(op, a, b, shape, 'float32');
          const exp = [...multiIndices(shape)].map((i) => BINARY_REF[op](at(a, i), at(b, i)));
          assertNmse(out, round32(exp), 1e-12, `${op} ${la}/${lb} ${A.formatShape(shape)}`);
        }
      }
      for (const op of COMPARE_OPS) {
        const shape = randomShape(g, 3);
        const a = makeView(shape, 'permuted', g, 'float32', (r) => r.randint(3));
        const b = makeView(shape, 'broadcast', g, 'float32', (r) => r.randint(3));
        const out = backend.compare(op, a, b, shape);
        const exp = [...multiIndices(shape)].map((i) => (COMPARE_REF[op](at(a, i), at(b, i)) ? 1 : 0));
        assert.deepEqual([...out], exp, `${op}`);
      }
    });

    it('where selects elementwise across layouts', () => {
      for (const layout of LAYOUTS) {
        const shape = randomShape(g, 3);
        const c = makeView(shape, layout, g, 'bool', (r) => (r.random() < 0.5 ? 1 : 0));
        const a = makeView(shape, 'strided', g);
        const b = makeView(shape, 'broadcast', g);
        const out = backend.where(c, a, b, shape, 'float32');
        const exp = [...multiIndices(shape)].map((i) => (at(c, i) ? at(a, i) : at(b, i)));
        assertNmse(out, round32(exp), 0, `where ${layout}`);
      }
    });

    it('reductions over any subset of axes', () => {
      for (let trial = 0; trial < 12; trial++) {
        const nd = 1 + g.randint(3);
        const shape = randomShape(g, nd);
        const layout = LAYOUTS[trial % 3]!;
        const x = makeView(shape, layout, g);
        let axes = Array.from({ length: nd }, (_, i) => i).filter(() => g.random() < 0.5);
        if (axes.length === 0) axes = [nd - 1];
        const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
        const sums = new Float64Array(sizeOf(outShape));
        const best = new Float64Array(sizeOf(outShape)).fill(-Infinity);
        const bestAt = new Int32Array(sizeOf(outShape));
        const seen = new Int32Array(sizeOf(outShape));
        const ost = contiguousStrides(outShape);
        for (const idx of multiIndices(shape)) {
          const o = idx.reduce((acc, v, i) => acc + (axes.includes(i) ? 0 : v * ost[i]!), 0);
          const v = at(x, idx);
          sums[o] += v;
          // position within the reduced axes, row-major over those axes
          const inner = axes.reduce((acc, ax) => acc * shape[ax]! + idx[ax]!, 0);
          if (v > best[o]!) {
            best[o] = v;
            bestAt[o] = inner;
          }
          seen[o]!++;
        }
        assertNmse(backend.reduce('sum', x, axes, 'float32'), round32(sums), 1e-12, `sum axes ${axes} of ${A.formatShape(shape)} ${layout}`);
        assert.deepEqual([...backend.reduce('argmax', x, axes, 'int32')], [...bestAt], `argmax axes ${axes}`);
      }
    });

    it('matmul: batched, broadcast, transposed operands', () => {
      const dims = [[1, 1, 1], [3, 17, 1], [17, 3, 127], [127, 17, 3], [5, 64, 33]];
      for (const [m, k, n] of dims as [number, number, number][]) {
        for (const [la, lb] of [['contiguous', 'contiguous'], ['permuted', 'contiguous'], ['contiguous', 'permuted'], ['strided', 'permuted']] as Layout[][]) {
          const batch = g.random() < 0.5 ? [2] : [];
          const a = makeView([...batch, m, k], la!, g);
          const b0 = makeView([k, n], lb!, g);
          // b is shared across the batch: stride 0 on the batch axis
          const b: View = batch.length ? { ...b0, shape: [...batch, k, n], strides: [0, ...b0.strides] } : b0;
          const out = backend.matmul(a, b, 'float32');
          const exp: number[] = [];
          for (const bi of multiIndices(batch)) {
            for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
              let s = 0;
              for (let p = 0; p < k; p++) s += at(a, [...bi, i, p]) * at(b, [...bi, p, j]);
              exp.push(s);
            }
          }
          assertNmse(out, round32(exp), 1e-10, `matmul ${m}x${k}x${n} ${la}/${lb} batch ${batch}`);
        }
      }
    });

    it('matmul: large enough for blocked kernels and threads (edge tiles, sliced and transposed operands)', () => {
      const cases: [number[], number[], Layout, Layout][] = [
        [[130, 300], [300, 77], 'contiguous', 'permuted'],
        [[3, 61, 257], [257, 45], 'strided', 'contiguous'],
        [[1, 1000], [1000, 129], 'contiguous', 'permuted'],
        [[257, 1], [1, 33], 'permuted', 'contiguous'],
        [[4, 2, 37, 64], [4, 2, 64, 37], 'contiguous', 'permuted'],
        // single matrices with many rows, split into row blocks across threads (several K blocks)
        [[257, 100], [100, 70], 'permuted', 'contiguous'],
        [[300, 513], [513, 41], 'strided', 'permuted'],
      ];
      for (const [sa, sb, la, lb] of cases) {
        const a = makeView(sa, la, g);
        const b0 = makeView(sb, lb, g);
        const nd = Math.max(sa.length, sb.length);
        const batch = sa.slice(0, -2);
        // broadcast b's batch if it has none
        const b: View = sb.length < nd ? { ...b0, shape: [...batch, ...sb], strides: [...batch.map(() => 0), ...b0.strides] } : b0;
        const [m, k] = sa.slice(-2) as [number, number];
        const n = sb[sb.length - 1]!;
        const out = backend.matmul(a, b, 'float32');
        const exp = new Float64Array(sizeOf(batch) * m * n);
        let o = 0;
        for (const bi of multiIndices(batch)) {
          for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
            let s = 0;
            for (let p = 0; p < k; p++) s += at(a, [...bi, i, p]) * at(b, [...bi, p, j]);
            exp[o++] = s;
          }
        }
        assertNmse(out, round32(exp), 1e-10, `matmul ${A.formatShape(sa)} @ ${A.formatShape(sb)} ${la}/${lb}`);
      }
    });

    it('copy converts between compute dtypes', () => {
      const x = makeView([3, 17], 'permuted', g, 'float32', (r) => (r.random() - 0.5) * 10);
      const exp = [...multiIndices([3, 17])].map((i) => at(x, i));
      assertNmse(backend.copy(x, 'float64'), exp, 1e-14, 'copy float64');
      assert.deepEqual([...backend.copy(x, 'int32')], exp.map((v) => Math.trunc(v) | 0), 'copy int32 truncates');
      assert.deepEqual([...backend.copy(x, 'bool')], exp.map((v) => (v !== 0 ? 1 : 0)), 'copy bool');
    });

    it('pad and concat', () => {
      const shape = [3, 17, 2];
      const x = makeView(shape, 'permuted', g);
      const out = backend.pad(x, 1, 2, 1);
      const outShape = [3, 20, 2];
      const exp = [...multiIndices(outShape)].map(([i, j, k]) => (j! >= 2 && j! < 19 ? at(x, [i!, j! - 2, k!]) : 0));
      assertNmse(out, round32(exp), 0, 'pad');
      const y = makeView([3, 4, 2], 'strided', g);
      const cat = backend.concat([x, y], 1, [3, 21, 2]);
      const expCat = [...multiIndices([3, 21, 2])].map(([i, j, k]) => (j! < 17 ? at(x, [i!, j!, k!]) : at(y, [i!, j! - 17, k!])));
      assertNmse(cat, round32(expCat), 0, 'concat');
    });

    it('gather, scatterAdd, indexSelect, indexAdd', () => {
      const x = makeView([4, 17, 3], 'permuted', g);
      for (const axis of [0, 1, 2]) {
        const ishape = [4, 17, 3].map((d, i) => (i === axis ? 5 : Math.max(1, d - 1)));
        const index = makeView(ishape, 'contiguous', g, 'int32', (r) => r.randint([4, 17, 3][axis]!));
        const out = backend.gather(x, axis, index);
        const exp = [...multiIndices(ishape)].map((i) => {
          const j = [...i];
          j[axis] = at(index, i);
          return at(x, j);
        });
        assertNmse(out, round32(exp), 0, `gather axis ${axis}`);
        const src = makeView(ishape, 'strided', g);
        const sc = backend.scatterAdd(x, axis, index, src);
        const expSc = [...multiIndices([4, 17, 3])].map((i) => at(x, i));
        const st = contiguousStrides([4, 17, 3]);
        for (const i of multiIndices(ishape)) {
          const j = [...i];
          j[axis] = at(index, i);
          expSc[j.reduce((acc: number, v: number, d: number) => acc + v * st[d]!, 0)] += at(src, i);
        }
        assertNmse(sc, round32(expSc), 1e-14, `scatterAdd axis ${axis}`);
        const idx1 = makeView([6], 'strided', g, 'int32', (r) => r.randint([4, 17, 3][axis]!));
        const sel = backend.indexSelect(x, axis, idx1);
        const selShape = [4, 17, 3].map((d, i) => (i === axis ? 6 : d));
        const expSel = [...multiIndices(selShape)].map((i) => {
          const j = [...i];
          j[axis] = at(idx1, [i[axis]!]);
          return at(x, j);
        });
        assertNmse(sel, round32(expSel), 0, `indexSelect axis ${axis}`);
        const src2 = makeView(selShape, 'permuted', g);
        const added = backend.indexAdd(x, axis, idx1, src2);
        const expAdd = [...multiIndices([4, 17, 3])].map((i) => at(x, i));
        for (const i of multiIndices(selShape)) {
          const j = [...i];
          j[axis] = at(idx1, [i[axis]!]);
          expAdd[j.reduce((acc: number, v: number, d: number) => acc + v * st[d]!, 0)] += at(src2, i);
        }
        assertNmse(added, round32(expAdd), 1e-14, `indexAdd axis ${axis}`);
      }
    });

    it('fused kernels equal their composed versions, forward and backward', () => {
      const prev = getBackend();
      setBackend(backend);
      try {
        const cases: [string, (x: A.Tensor, w: A.Tensor, b: A.Tensor, t: A.Tensor) => A.Tensor][] = [
          ['softmax', (x) => A.softmax(x)],
          ['logSoftmax', (x) => A.logSoftmax(x)],
          ['layerNorm', (x, w, b) => A.layerNorm(x, { weight: w, bias: b })],
          ['rmsNorm', (x, w) => A.rmsNorm(x, { weight: w })],
          ['crossEntropy', (x, _w, _b, t) => A.crossEntropy(x, t, { labelSmoothing: 0.1, ignoreIndex: 2 })],
          ['gelu', (x) => A.gelu(A.mul(x, 3))],
          ['gelu-tanh', (x) => A.gelu(A.mul(x, 3), 'tanh')],
          ['swiglu', (x, w) => A.swiglu(A.mul(x, 3), A.mul(x, w))],
        ];
        for (const [name, fn] of cases) {
          for (const [c, dtype] of [[1, 'float64'], [17, 'float64'], [1000, 'float64'], [13, 'float32'], [17, 'float32'], [1000, 'float32']] as const) {
            const rowsN = 3;
            const run = (): number[][] => {
              const gg = new Generator(c);
              // float64 tests semantics rather than rounding; float32 reaches float32-only kernels
              const f64 = { generator: gg, dtype } as const;
              const x = A.randn([rowsN, c], f64).requiresGrad_();
              const w = A.randn([c], f64).requiresGrad_();
              const b = A.randn([c], f64).requiresGrad_();
              const t = A.randint(0, c, [rowsN], { generator: gg });
              const y = fn(x, w, b, t);
              const up = A.randn(y.shape, f64);
              A.backward(y, up);
              return [y, x.grad, name.includes('Norm') || name === 'swiglu' ? w.grad : null].filter((v): v is A.Tensor => v !== null).map((v) => [...v.toTypedArray()]);
            };
            const fused = run();
            const composed = withoutFused(run);
            fused.forEach((f, i) => assertNmse(f, composed[i]!, dtype === 'float64' ? 1e-10 : 1e-9, `${name} C=${c} ${dtype} tensor ${i}`));
          }
        }
      } finally {
        setBackend(prev);
      }
    });

    it('embedding-shaped indexSelect / indexAdd (contiguous [V, D] table, axis 0, repeated ids)', () => {
      for (const [v, d, n] of [[7, 1, 5], [50, 17, 33], [1000, 64, 3]] as [number, number, number][]) {
        const table = makeView([v, d], 'contiguous', g);
        const ids = makeView([n], 'contiguous', g, 'int32', (r) => r.randint(Math.min(v, 5)));
        const sel = backend.indexSelect(table, 0, ids);
        const exp = [...multiIndices([n, d])].map(([i, j]) => at(table, [at(ids, [i!]), j!]));
        assertNmse(sel, round32(exp), 0, `embedding lookup ${v}x${d}, ${n} ids`);
        const src = makeView([n, d], 'contiguous', g);
        const added = backend.indexAdd(table, 0, ids, src);
        const expAdd = [...multiIndices([v, d])].map((i) => at(table, i));
        for (const [i, j] of multiIndices([n, d])) expAdd[at(ids, [i!]) * d + j!] += at(src, [i!, j!]);
        assertNmse(added, round32(expAdd), 1e-14, `embedding gradient ${v}x${d}, ${n} ids`);
      }
      const table = makeView([4, 3], 'contiguous', g);
      const bad = makeView([2], 'contiguous', g, 'int32', () => 4);
      assert.throws(() => backend.indexSelect(table, 0, bad), /indexSelect: index 4 is out of range for dimension 0 of size 4/);
    });

    it('fused linear (decode matvec) equals dequantise-then-matmul for every weight format (f32, f16, bf16, int8/q8_0, int4/q4_0)', () => {
      if (!backend.fused.linear) return;
      const prev = getBackend();
      setBackend(backend);
      try {
        // m >= 16 takes the prefill path (dequantised chunks of W through the GEMM kernel); the
        // [16, 64, 16500] weights span two chunks of 4 MB
        for (const [m, k, n] of [[1, 96, 17], [3, 1000, 127], [8, 64, 1], [2, 40, 300], [17, 96, 40], [33, 1000, 31], [16, 64, 16500]] as [number, number, number][]) {
          const gg = new Generator(m * k + n);
          const x = A.randn([m, k], { generator: gg });
          const w = A.randn([n, k], { generator: gg });
          // int4 (q4_0): blocks of 32 take the SIMD path, other even block sizes the scalar one
          for (const fmt of ['float32', 'float16', 'bfloat16', 'int8', 'int4', 'q8_0-per-channel'] as const) {
            const blockSize = k % 32 === 0 ? 32 : k / 5;
            const wq = fmt === 'int8' ? A.quantizeInt8(w, { blockSize })
              : fmt === 'int4' ? A.quantizeInt4(w, { blockSize })
              : fmt === 'q8_0-per-channel' ? A.quantizeInt8(w, { blockSize: k })
              : w.to(fmt);
            const fused = A.linear(x, wq).toTypedArray();
            const composed = withoutFused(() => A.linear(x, wq).toTypedArray());
            assertNmse(fused, composed, 1e-12, `linear ${fmt} m=${m} k=${k} n=${n}`);
          }
          // half-float specials take the exact conversion path: Inf, NaN, subnormals, +-0
          if (k >= 32) {
            // 12 rows: the kernel takes four rows at once from the four quarters (rows r, r+3,
            // r+6, r+9), so the specials sit in the first, second, third and fourth of them
            const special = A.randn([12, k], { generator: gg });
            const d = special.storage.data;
            d[5] = 1e6; // overflows to Inf in float16
            d[k + 7] = NaN;
            d[7 * k + k - 1] = -1e6;
            d[11 * k + 16] = NaN;
            for (let j = 0; j < 16; j++) d[2 * k + j] = (j % 2 ? -1 : 1) * 3e-7 * j; // subnormals and zero
            const h = special.to('float16');
            const fused = A.linear(x, h).toTypedArray();
            const composed = withoutFused(() => A.linear(x, h).toTypedArray());
            assertNmse(fused, composed, 1e-12, `linear float16 specials k=${k}`);
            for (let r = 0; r < m; r++) {
              const y = (j: number): number => fused[r * 12 + j]!;
              assert.ok(!Number.isFinite(y(0)) && Number.isNaN(y(1)) && !Number.isFinite(y(7)) && Number.isNaN(y(11)), 'Inf and NaN weights propagate');
              assert.ok([2, 3, 4, 5, 6, 8, 9, 10].every((j) => Number.isFinite(y(j))), 'rows without specials stay finite');
            }
            // ops.linear tells the kernel an f16 storage is finite (scanned once per version), and
            // the kernel then skips its Inf/NaN check: an Inf written in place afterwards, with
            // markModified (as Module.loadStateDict does), must reach the output again
            const hw = w.to('float16');
            assert.ok(A.linear(x, hw).toTypedArray().every(Number.isFinite));
            (hw.storage.data as Uint16Array)[2 * k + 3] = 0x7c00; // +Inf in row 2
            hw.storage.markModified();
            const afterWrite = A.linear(x, hw).toTypedArray();
            assertNmse(afterWrite, withoutFused(() => A.linear(x, hw).toTypedArray()), 1e-12, `linear float16 Inf written after a finite call k=${k}`);
            if (n > 2) for (let r = 0; r < m; r++) assert.ok(!Number.isFinite(afterWrite[r * n + 2]!), 'the written Inf propagates');
            // activations at the edge of the fast half path (it scales x by 2^112): just under
            // 2^16 it applies, from 2^16 the exact path takes over
            for (const big of [65535.5, 65536, 3e38]) {
              const xb = x.clone();
              xb.storage.data[k - 1] = big;
              xb.storage.data[3] = -big / 2;
              for (const fmt of ['float16', 'bfloat16'] as const) {
                const wh = w.to(fmt);
                const fusedB = A.linear(xb, wh).toTypedArray();
                assertNmse(fusedB, withoutFused(() => A.linear(xb, wh).toTypedArray()), 1e-12, `linear ${fmt} with |x| up to ${big}`);
              }
            }
          }
          // int8/int4 against float x: the kernel sums q * 2^24 and scales back at the end; with
          // |x| = 1e30 those sums overflow (the exact ones do not), so the row is redone exactly;
          // 1e20 stays on the fast path; a NaN in x makes every output of its row NaN
          if (k % 32 === 0) {
            for (const big of [1e20, 1e30, NaN]) {
              const xb = x.clone();
              xb.storage.data[k - 1] = big;
              xb.storage.data[3] = -big / 2;
              for (const wq of [A.quantizeInt8(w, { blockSize: 32 }), A.quantizeInt4(w, { blockSize: 32 })]) {
                const fusedB = A.linear(xb, wq).toTypedArray();
                const composedB = withoutFused(() => A.linear(xb, wq).toTypedArray());
                if (Number.isNaN(big)) {
                  assert.ok(fusedB.slice(0, n).every(Number.isNaN), `linear ${wq.dtype}: NaN in x gives NaN in its row`);
                  assertNmse(fusedB.slice(n), composedB.slice(n), 1e-12, `linear ${wq.dtype}, rows after a NaN row`);
                } else {
                  assert.ok(fusedB.every(Number.isFinite), `linear ${wq.dtype} with |x| up to ${big} stays finite`);
                  assertNmse(fusedB, composedB, 1e-12, `linear ${wq.dtype} with |x| up to ${big}`);
                }
              }
            }
          }
          // a row slice of a quantised matrix (offset into data and scales)
          for (const wq of [A.quantizeInt8(w.reshape(n, k), { blockSize: k % 32 === 0 ? 32 : k / 5 }), A.quantizeInt4(w.reshape(n, k), { blockSize: k % 32 === 0 ? 32 : k / 5 })]) {
            if (n > 2) {
              const part = wq.slice(0, 1, 3);
              assertNmse(A.linear(x, part).toTypedArray(), withoutFused(() => A.linear(x, part).toTypedArray()), 1e-12, `linear ${wq.dtype} rows 1..3 of ${n}`);
            }
          }
        }
      } finally {
        setBackend(prev);
      }
    });

    it('fused rope equals the composed rotation, both layouts, forward and backward', () => {
      if (!backend.fused.rope) return;
      const prev = getBackend();
      setBackend(backend);
      try {
        for (const layout of ['half', 'interleaved'] as const) {
          for (const [b, h, t, d] of [[1, 1, 1, 2], [2, 3, 17, 8], [1, 2, 5, 64], [1, 1, 3, 6]] as [number, number, number, number][]) {
            const run = () => {
              const gg = new Generator(t * d);
              const x = A.randn([b, h, t, d], { generator: gg }).requiresGrad_();
              const ang = A.randn([t, d / 2], { generator: gg });
              const y = A.rope(x, A.cos(ang), A.sin(ang), layout);
              A.backward(y, A.randn(y.shape, { generator: gg }));
              return [[...y.toTypedArray()], [...x.grad!.toTypedArray()]];
            };
            const fused = run();
            const composed = withoutFused(run);
            fused.forEach((f, i) => assertNmse(f, composed[i]!, 1e-12, `rope ${layout} [${b},${h},${t},${d}] tensor ${i}`));
          }
        }
      } finally {
        setBackend(prev);
      }
    });

    it('kernels return fresh contiguous buffers of the right length', () => {
      const x = makeView([3, 17], 'strided', g);
      const outs: [string, TypedArray, number][] = [
        ['unary', backend.unary('exp', x, 'float32'), 51],
        ['reduce', backend.reduce('sum', x, [1], 'float32'), 3],
        ['copy', backend.copy(x, 'float32'), 51],
      ];
      for (const [n, o, len] of outs) {
        assert.equal(o.length, len, n);
        assert.notEqual(o, x.data, `${n} must not alias its input`);
      }
    });
  });
}
