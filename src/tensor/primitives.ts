/**
 * The primitive ops. Each one checks its operands (errors name the op and the shapes), runs
 * the backend kernel, and records exactly one gradient rule. Everything else in attn (softmax,
 * norms, losses, attention) is composed from these, or is a fused kernel whose composed
 * version stays as fallback and test oracle (src/ops).
 *
 * Views (reshape, permute, expand, slice) share storage and cost no kernel.
 */
import {
  floatResult, isComputeDType, isFloat, promoteTypes,
  type ComputeDType, type DType, type TypedArray,
} from './dtype.js';
import { fail, formatShape } from './errors.js';
import {
  broadcastShapes, contiguousStrides, normalizeAxes, normalizeAxis, sameShape, sizeOf, type Shape,
} from './shape.js';
import { allocate, newStorage } from './storage.js';
import { getBackend, type BinaryOp, type CompareOp, type UnaryOp, type View } from './backend.js';
import { recordOp, setEngineOps } from './autograd.js';
import { Tensor, type TensorLike } from './tensor.js';

// ---------------------------------------------------------------------------------------------
// helpers

/** Wraps a fresh kernel output buffer as a contiguous tensor. */
export function fromBuffer(data: TypedArray, dtype: DType, shape: Shape): Tensor {
  return new Tensor(newStorage(data, dtype, true), shape);
}

export function computeDType(op: string, t: Tensor): ComputeDType {
  if (!isComputeDType(t.dtype)) {
    fail(op, `dtype ${t.dtype} is a storage format; convert with .to('float32') first`);
  }
  return t.dtype;
}

/** Turns a JS number into a 0-d tensor that does not promote the other operand (as PyTorch). */
function operand(op: string, x: TensorLike, other: Tensor): Tensor {
  if (typeof x !== 'number') {
    if (!(x instanceof Tensor)) fail(op, `expected a Tensor or a number, got ${typeof x}`);
    return x;
  }
  const od = computeDType(op, other);
  const dtype: ComputeDType = isFloat(od) ? od : Number.isInteger(x) && od === 'int32' ? 'int32' : 'float32';
  const buf = allocate(dtype, 1, false);
  buf[0] = x;
  return fromBuffer(buf, dtype, []);
}

/** A view of `t` broadcast to `shape` (stride 0 on the broadcast axes). */
function broadcastView(op: string, t: Tensor, shape: Shape): View {
  const v = t.view(op);
  if (sameShape(t.shape, shape)) return v;
  const lead = shape.length - t.ndim;
  const strides = shape.map((d, i) => {
    const j = i - lead;
    if (j < 0) return 0;
    return t.shape[j] === 1 && d !== 1 ? 0 : t.strides[j]!;
  });
  return { ...v, shape, strides };
}

/** Sums a broadcast gradient back to the shape of the operand it flows to. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? sum(g, axes, true) : g;
  return reshape(s, shape);
}

// ---------------------------------------------------------------------------------------------
// views

function inferShape(op: string, t: Tensor, shape: readonly number[]): number[] {
  const out = [...shape];
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1) fail(op, `only one dimension can be -1, got ${formatShape(shape)}`);
  for (const d of out) {
    if (!Number.isInteger(d) || d < -1) fail(op, `invalid target shape ${formatShape(shape)}`);
  }
  if (neg === 1) {
    const known = out.reduce((a, d) => (d === -1 ? a : a * d), 1);
    const i = out.indexOf(-1);
    if (known === 0 || t.size % known !== 0) {
      fail(op, `cannot reshape ${formatShape(t.shape)} (${t.size} elements) to ${formatShape(shape)}`);
    }
    out[i] = t.size / known;
  }
  if (sizeOf(out) !== t.size) {
    fail(op, `cannot reshape ${formatShape(t.shape)} (${t.size} elements) to ${formatShape(shape)} (${sizeOf(out)} elements)`);
  }
  return out;
}

/**
 * Strides for viewing `t` as `shape` without a copy, or null when the memory layout does not
 * allow it. This is ATen's computeStride: walk both shapes from the right in chunks of
 * dimensions that are contiguous with each other.
 */
function viewStrides(t: Tensor, shape: readonly number[]): number[] | null {
  if (t.isContiguous || t.ndim === 0 || t.size === 0) return contiguousStrides(shape);
  const oldShape = t.shape;
  const oldStrides = t.strides;
  const newStrides = new Array<number>(shape.length).fill(0);
  let viewD = shape.length - 1;
  let chunkBaseStride = oldStrides[oldStrides.length - 1]!;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = oldShape.length - 1; d >= 0; d--) {
    tensorNumel *= oldShape[d]!;
    const chunkEnds = d === 0 || (oldShape[d - 1] !== 1 && oldStrides[d - 1] !== tensorNumel * chunkBaseStride);
    if (!chunkEnds) continue;
    while (viewD >= 0 && (viewNumel < tensorNumel || shape[viewD] === 1)) {
      newStrides[viewD] = viewNumel * chunkBaseStride;
      viewNumel *= shape[viewD]!;
      viewD--;
    }
    if (viewNumel !== tensorNumel) return null;
    if (d > 0) {
      chunkBaseStride = oldStrides[d - 1]!;
      tensorNumel = 1;
      viewNumel = 1;
    }
  }
  return viewD === -1 ? newStrides : null;
}

export function reshape(t: Tensor, shape: readonly number[], viewOnly = false): Tensor {
  const op = viewOnly ? 'view' : 'reshape';
  const target = inferShape(op, t, shape);
  if (sameShape(target, t.shape)) return t;
  let strides = viewStrides(t, target);
  let src = t;
  if (!strides) {
    if (viewOnly) fail(op, `cannot view ${formatShape(t.shape)} with strides ${formatShape(t.strides)} as ${formatShape(target)}; use reshape() (copies)`);
    src = contiguous(t);
    strides = contiguousStrides(target);
  }
  const out = new Tensor(src.storage, target, strides, src.offset);
  return recordOp(out, op, [src], (g) => [reshape(g, src.shape)]);
}

export function permute(t: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== t.ndim) fail('permute', `got ${dims.length} dims ${formatShape(dims)} for a tensor of shape ${formatShape(t.shape)}`);
  const d = dims.map((a) => normalizeAxis('permute', a, t.ndim));
  if (new Set(d).size !== d.length) fail('permute', `dims ${formatShape(dims)} repeat an axis`);
  const out = new Tensor(t.storage, d.map((i) => t.shape[i]!), d.map((i) => t.strides[i]!), t.offset);
  const inverse = new Array<number>(d.length);
  d.forEach((a, i) => (inverse[a] = i));
  return recordOp(out, 'permute', [t], (g) => [permute(g, inverse)]);
}

export function transpose(t: Tensor, a: number, b: number): Tensor {
  const dims = Array.from({ length: t.ndim }, (_, i) => i);
  const x = normalizeAxis('transpose', a, t.ndim);
  const y = normalizeAxis('transpose', b, t.ndim);
  [dims[x], dims[y]] = [dims[y]!, dims[x]!];
  return permute(t, dims);
}

export function expand(t: Tensor, shape: readonly number[]): Tensor {
  if (shape.length < t.ndim) fail('expand', `cannot expand ${formatShape(t.shape)} to fewer dimensions ${formatShape(shape)}`);
  const lead = shape.length - t.ndim;
  const target = shape.map((d, i) => (d === -1 && i >= lead ? t.shape[i - lead]! : d));
  target.forEach((d, i) => {
    const src = i >= lead ? t.shape[i - lead]! : 1;
    if (src !== d && src !== 1) fail('expand', `cannot expand ${formatShape(t.shape)} to ${formatShape(shape)} (dimension ${i}: ${src} vs ${d})`);
  });
  if (sameShape(target, t.shape)) return t;
  const v = broadcastView('expand', t, target);
  const out = new Tensor(t.storage, target, v.strides, t.offset);
  return recordOp(out, 'expand', [t], (g) => [sumToShape(g, t.shape)]);
}

export function slice(t: Tensor, dim: number, start: number, end?: number): Tensor {
  const d = normalizeAxis('slice', dim, t.ndim);
  const n = t.shape[d]!;
  let s = start < 0 ? start + n : start;
  let e = end === undefined ? n : end < 0 ? end + n : end;
  if (!Number.isInteger(s) || !Number.isInteger(e)) fail('slice', `start and end must be integers, got ${start}, ${end}`);
  s = Math.min(Math.max(s, 0), n);
  e = Math.min(Math.max(e, s), n);
  const shape = [...t.shape];
  shape[d] = e - s;
  const out = new Tensor(t.storage, shape, t.strides, t.offset + s * t.strides[d]!);
  return recordOp(out, 'slice', [t], (g) => [pad(g, d, s, n - e)]);
}

export function unsqueeze(t: Tensor, dim: number): Tensor {
  const d = normalizeAxis('unsqueeze', dim, t.ndim + 1);
  const shape = [...t.shape];
  shape.splice(d, 0, 1);
  return reshape(t, shape);
}

export function squeeze(t: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(t, t.shape.filter((s) => s !== 1));
  const d = normalizeAxis('squeeze', dim, t.ndim);
  if (t.shape[d] !== 1) return t;
  return reshape(t, t.shape.filter((_, i) => i !== d));
}

export function flatten(t: Tensor, startDim = 0, endDim = -1): Tensor {
  if (t.ndim === 0) return reshape(t, [1]);
  const s = normalizeAxis('flatten', startDim, t.ndim);
  const e = normalizeAxis('flatten', endDim, t.ndim);
  if (s > e) fail('flatten', `startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [...t.shape.slice(0, s), sizeOf(t.shape.slice(s, e + 1)), ...t.shape.slice(e + 1)];
  return reshape(t, shape);
}

// ---------------------------------------------------------------------------------------------
// copies and casts

export function contiguous(t: Tensor): Tensor {
  if (t.isContiguous && t.offset === 0 && t.storage.data.length === t.size) return t;
  return clone(t);
}

export function clone(t: Tensor): Tensor {
  const dtype = computeDType('clone', t);
  const out = fromBuffer(getBackend().copy(t.view('clone'), dtype), dtype, t.shape);
  return recordOp(out, 'clone', [t], (g) => [g]);
}

/** Converts between compute dtypes (storage formats go through convert.ts). */
export function cast(t: Tensor, dtype: ComputeDType): Tensor {
  const from = computeDType('cast', t);
  if (from === dtype) return t;
  const out = fromBuffer(getBackend().copy(t.view('cast'), dtype), dtype, t.shape);
  if (!isFloat(dtype)) return out;
  return recordOp(out, 'cast', [t], (g) => [cast(g, from)]);
}

/** Row-major values of any tensor as a fresh buffer. */
export function readContiguous(t: Tensor): TypedArray {
  const v = t.view('read');
  if (!isComputeDType(t.dtype)) fail('read', `dtype ${t.dtype} must be converted with .to('float32') before reading`);
  if (t.isContiguous && t.offset === 0 && v.data.length === t.size) return v.data.slice();
  return getBackend().copy(v, t.dtype).slice();
}

// ---------------------------------------------------------------------------------------------
// elementwise

const FLOAT_ONLY: ReadonlySet<UnaryOp> = new Set(['exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'erf', 'sin', 'cos']);

function unary(op: UnaryOp, t: Tensor, rule: ((g: Tensor, x: Tensor, y: Tensor) => Tensor) | null): Tensor {
  const d = computeDType(op, t);
  const outDtype: ComputeDType = FLOAT_ONLY.has(op) ? floatResult(d) : d === 'bool' ? 'int32' : d;
  const out = fromBuffer(getBackend().unary(op, t.view(op), outDtype), outDtype, t.shape);
  if (!rule) return out;
  return recordOp(out, op, [t], (g) => [rule(g, t, out)]);
}

export const neg = (t: Tensor): Tensor => unary('neg', t, (g) => neg(g));
export const exp = (t: Tensor): Tensor => unary('exp', t, (g, _x, y) => mul(g, y));
export const log = (t: Tensor): Tensor => unary('log', t, (g, x) => div(g, x));
export const sqrt = (t: Tensor): Tensor => unary('sqrt', t, (g, _x, y) => div(g, mul(y, 2)));
export const abs = (t: Tensor): Tensor => unary('abs', t, (g, x) => mul(g, sign(x)));
export const tanh = (t: Tensor): Tensor => unary('tanh', t, (g, _x, y) => mul(g, sub(1, mul(y, y))));
export const sigmoid = (t: Tensor): Tensor => unary('sigmoid', t, (g, _x, y) => mul(g, mul(y, sub(1, y))));
export const erf = (t: Tensor): Tensor =>
  unary('erf', t, (g, x) => mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI))));
export const sin = (t: Tensor): Tensor => unary('sin', t, (g, x) => mul(g, cos(x)));
export const cos = (t: Tensor): Tensor => unary('cos', t, (g, x) => neg(mul(g, sin(x))));
/** sign has a zero gradient everywhere (as PyTorch). */
export const sign = (t: Tensor): Tensor => unary('sign', t, null);

type BinaryRule = (g: Tensor, a: Tensor, b: Tensor, y: Tensor) => [Tensor | null, Tensor | null];

function binary(op: BinaryOp, x: TensorLike, y: TensorLike, rule: BinaryRule): Tensor {
  if (typeof x === 'number' && typeof y === 'number') fail(op, 'at least one operand must be a Tensor');
  const a = typeof x === 'number' ? operand(op, x, y as Tensor) : operand(op, x, x);
  const b = typeof y === 'number' ? operand(op, y, a) : operand(op, y, y);
  let dtype = promoteTypes(computeDType(op, a), computeDType(op, b));
  if ((op === 'div' || op === 'pow') && !isFloat(dtype)) dtype = op === 'pow' && dtype === 'int32' ? 'int32' : 'float32';
  if (dtype === 'bool') dtype = 'int32';
  const shape = broadcastShapes(op, a.shape, b.shape);
  const data = getBackend().binary(op, broadcastView(op, a, shape), broadcastView(op, b, shape), shape, dtype);
  const out = fromBuffer(data, dtype, shape);
  return recordOp(out, op, [a, b], (g) => {
    const [ga, gb] = rule(g, a, b, out);
    return [ga && a.requiresGrad ? sumToShape(ga, a.shape) : null, gb && b.requiresGrad ? sumToShape(gb, b.shape) : null];
  });
}

export const add = (a: TensorLike, b: TensorLike): Tensor => binary('add', a, b, (g) => [g, g]);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary('sub', a, b, (g) => [g, neg(g)]);
export const mul = (a: TensorLike, b: TensorLike): Tensor =>
  binary('mul', a, b, (g, x, y) => [x.requiresGrad ? mul(g, y) : null, y.requiresGrad ? mul(g, x) : null]);
export const div = (a: TensorLike, b: TensorLike): Tensor =>
  binary('div', a, b, (g, _x, y, out) => [div(g, y), y.requiresGrad ? neg(div(mul(g, out), y)) : null]);
export const pow = (a: TensorLike, b: TensorLike): Tensor =>
  binary('pow', a, b, (g, x, y, out) => [
    x.requiresGrad ? mul(g, mul(y, pow(x, sub(y, 1)))) : null,
    // d/dy x^y = x^y log x, taken as 0 where x == 0 and y >= 0 (as PyTorch)
    y.requiresGrad ? mul(g, where(logicalAnd(compare('eq', x, 0), compare('ge', y, 0)), 0, mul(out, log(x)))) : null,
  ]);
/** Ties split the gradient evenly between the operands (as PyTorch). */
export const maximum = (a: TensorLike, b: TensorLike): Tensor =>
  binary('maximum', a, b, (g, x, y) => tieSplit(g, compare('gt', x, y), compare('eq', x, y)));
export const minimum = (a: TensorLike, b: TensorLike): Tensor =>
  binary('minimum', a, b, (g, x, y) => tieSplit(g, compare('lt', x, y), compare('eq', x, y)));

function tieSplit(g: Tensor, firstWins: Tensor, tie: Tensor): [Tensor, Tensor] {
  const wa = add(cast(firstWins, g.dtype as ComputeDType), mul(cast(tie, g.dtype as ComputeDType), 0.5));
  return [mul(g, wa), mul(g, sub(1, wa))];
}

export function compare(op: CompareOp, x: TensorLike, y: TensorLike): Tensor {
  if (typeof x === 'number' && typeof y === 'number') fail(op, 'at least one operand must be a Tensor');
  const a = typeof x === 'number' ? operand(op, x, y as Tensor) : operand(op, x, x);
  const b = typeof y === 'number' ? operand(op, y, a) : operand(op, y, y);
  computeDType(op, a);
  computeDType(op, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  return fromBuffer(getBackend().compare(op, broadcastView(op, a, shape), broadcastView(op, b, shape), shape), 'bool', shape);
}

export function logicalAnd(a: Tensor, b: Tensor): Tensor {
  return compare('ne', mul(cast(a, 'int32'), cast(b, 'int32')), 0);
}

/** Elementwise choice: cond ? a : b, broadcasting all three. */
export function where(cond: Tensor, x: TensorLike, y: TensorLike): Tensor {
  if (cond.dtype !== 'bool') fail('where', `condition must be bool, got ${cond.dtype}`);
  // two numbers: float32 values (as torch.where with Python scalars)
  const like = typeof x === 'number' && typeof y === 'number' ? fromBuffer(allocate('float32', 1, false), 'float32', []) : null;
  const a = typeof x === 'number' ? operand('where', x, like ?? (y as Tensor)) : x;
  const b = typeof y === 'number' ? operand('where', y, a) : y;
  const dtype = promoteTypes(computeDType('where', a), computeDType('where', b));
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, a.shape), b.shape);
  const data = getBackend().where(
    broadcastView('where', cond, shape), broadcastView('where', a, shape), broadcastView('where', b, shape), shape, dtype);
  const out = fromBuffer(data, dtype, shape);
  return recordOp(out, 'where', [a, b], (g) => [
    a.requiresGrad ? sumToShape(where(cond, g, 0), a.shape) : null,
    b.requiresGrad ? sumToShape(where(cond, 0, g), b.shape) : null,
  ]);
}

// ---------------------------------------------------------------------------------------------
// reductions

function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

export function sum(t: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const d = computeDType('sum', t);
  const ax = normalizeAxes('sum', axes, t.ndim);
  const dtype: ComputeDType = d === 'bool' ? 'int32' : d;
  const kept = keptShape(t.shape, ax);
  let out: Tensor;
  if (ax.length === 0) out = cast(t, dtype) === t ? clone(t) : cast(t, dtype);
  else out = fromBuffer(getBackend().reduce('sum', t.view('sum'), ax, dtype), dtype, kept);
  out = recordOp(out, 'sum', [t], (g) => [expand(reshape(g, kept), t.shape)]);
  return keepdim ? out : reshape(out, t.shape.filter((_, i) => !ax.includes(i)));
}

function argReduce(op: 'argmax' | 'argmin', t: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  computeDType(op, t);
  if (dim === undefined) return argReduce(op, reshape(t, [-1]), 0, false);
  const ax = normalizeAxis(op, dim, t.ndim);
  if (t.shape[ax] === 0) fail(op, `cannot reduce an empty dimension ${ax} of shape ${formatShape(t.shape)}`);
  const kept = keptShape(t.shape, [ax]);
  const out = fromBuffer(getBackend().reduce(op, t.view(op), [ax], 'int32'), 'int32', kept);
  return keepdim ? out : reshape(out, t.shape.filter((_, i) => i !== ax));
}

export const argmax = (t: Tensor, dim?: number, keepdim = false): Tensor => argReduce('argmax', t, dim, keepdim);
export const argmin = (t: Tensor, dim?: number, keepdim = false): Tensor => argReduce('argmin', t, dim, keepdim);

// ---------------------------------------------------------------------------------------------
// matmul

/** Matrix product with NumPy/PyTorch semantics: 1-d operands are promoted, batch dims broadcast. */
export function matmul(x: Tensor, y: Tensor): Tensor {
  const dtype = promoteTypes(computeDType('matmul', x), computeDType('matmul', y));
  if (x.ndim === 0 || y.ndim === 0) {
    fail('matmul', `${formatShape(x.shape)} @ ${formatShape(y.shape)}: both operands need at least 1 dimension`);
  }
  if (x.ndim > 2 && y.ndim === 2 && x.shape[x.ndim - 1] === y.shape[0]) {
    // [..., M, K] @ [K, N] (a Linear layer): one [B*M, K] @ [K, N] product instead of B small ones,
    // and the weight's gradient is one [K, B*M] @ [B*M, N] product instead of B products summed
    const lead = x.shape.slice(0, -1);
    return reshape(matmul(reshape(x, [-1, x.shape[x.ndim - 1]!]), y), [...lead, y.shape[1]!]);
  }
  const a = x.ndim === 1 ? unsqueeze(x, 0) : x;
  const b = y.ndim === 1 ? unsqueeze(y, 1) : y;
  const k = a.shape[a.ndim - 1]!;
  if (b.shape[b.ndim - 2] !== k) {
    fail('matmul', `${formatShape(x.shape)} @ ${formatShape(y.shape)}: inner dimensions differ (${k} vs ${b.shape[b.ndim - 2]})`);
  }
  const m = a.shape[a.ndim - 2]!;
  const n = b.shape[b.ndim - 1]!;
  let batch: number[];
  try {
    batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    fail('matmul', `${formatShape(x.shape)} @ ${formatShape(y.shape)}: batch dimensions cannot be broadcast`);
  }
  const av = broadcastView('matmul', a, [...batch, m, k]);
  const bv = broadcastView('matmul', b, [...batch, k, n]);
  const out = fromBuffer(getBackend().matmul(av, bv, dtype), dtype, [...batch, m, n]);
  const rec = recordOp(out, 'matmul', [a, b], (g) => [
    a.requiresGrad ? sumToShape(matmul(g, transpose(b, -2, -1)), a.shape) : null,
    b.requiresGrad ? sumToShape(matmul(transpose(a, -2, -1), g), b.shape) : null,
  ]);
  let result = rec;
  if (x.ndim === 1) result = squeeze(result, -2);
  if (y.ndim === 1) result = squeeze(result, -1);
  return result;
}

// ---------------------------------------------------------------------------------------------
// structure: pad, concat

/** Zero padding of one axis with `before` and `after` elements. */
export function pad(t: Tensor, dim: number, before: number, after: number): Tensor {
  const d = normalizeAxis('pad', dim, t.ndim);
  if (!(Number.isInteger(before) && Number.isInteger(after) && before >= 0 && after >= 0)) {
    fail('pad', `padding must be non-negative integers, got ${before}, ${after}`);
  }
  const dtype = computeDType('pad', t);
  const shape = [...t.shape];
  shape[d] = shape[d]! + before + after;
  const out = fromBuffer(getBackend().pad(t.view('pad'), d, before, after), dtype, shape);
  return recordOp(out, 'pad', [t], (g) => [slice(g, d, before, before + t.shape[d]!)]);
}

export function concat(ts: readonly Tensor[], dim = 0): Tensor {
  if (ts.length === 0) fail('concat', 'needs at least one tensor');
  const first = ts[0]!;
  const d = normalizeAxis('concat', dim, first.ndim);
  let dtype = computeDType('concat', first);
  ts.forEach((t, i) => {
    dtype = promoteTypes(dtype, computeDType('concat', t));
    const ok = t.ndim === first.ndim && t.shape.every((s, j) => j === d || s === first.shape[j]);
    if (!ok) {
      fail('concat', `tensor ${i} has shape ${formatShape(t.shape)}, which does not match ${formatShape(first.shape)} outside dimension ${d}`);
    }
  });
  const inputs = ts.map((t) => cast(t, dtype));
  const shape = [...first.shape];
  shape[d] = inputs.reduce((acc, t) => acc + t.shape[d]!, 0);
  const out = fromBuffer(getBackend().concat(inputs.map((t) => t.view('concat')), d, shape), dtype, shape);
  return recordOp(out, 'concat', inputs, (g) => {
    let off = 0;
    return inputs.map((t) => {
      const part = slice(g, d, off, off + t.shape[d]!);
      off += t.shape[d]!;
      return part;
    });
  });
}

// ---------------------------------------------------------------------------------------------
// indexing

function checkIndex(op: string, index: Tensor): void {
  if (index.dtype !== 'int32') fail(op, `index must be int32, got ${index.dtype}`);
}

/** out[i][j] = x[index[i][j]][j] for dim 0 (and likewise for other dims), as torch.gather. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = normalizeAxis('gather', dim, x.ndim);
  checkIndex('gather', index);
  const dtype = computeDType('gather', x);
  if (index.ndim !== x.ndim || index.shape.some((s, i) => i !== d && s > x.shape[i]!)) {
    fail('gather', `index shape ${formatShape(index.shape)} does not fit input ${formatShape(x.shape)} along dimension ${d}`);
  }
  const out = fromBuffer(getBackend().gather(x.view('gather'), d, index.view('gather')), dtype, index.shape);
  return recordOp(out, 'gather', [x], (g) => [scatterAdd(zerosOf(x.shape, g.dtype), d, index, g)]);
}

/** A copy of x with src added at index positions along dim (torch.scatter_add). */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  const d = normalizeAxis('scatterAdd', dim, x.ndim);
  checkIndex('scatterAdd', index);
  const dtype = promoteTypes(computeDType('scatterAdd', x), computeDType('scatterAdd', src));
  if (index.ndim !== x.ndim || !sameShape(index.shape, src.shape) || index.shape.some((s, i) => i !== d && s > x.shape[i]!)) {
    fail('scatterAdd', `index ${formatShape(index.shape)} and src ${formatShape(src.shape)} do not fit input ${formatShape(x.shape)} along dimension ${d}`);
  }
  const xs = cast(x, dtype);
  const ss = cast(src, dtype);
  const out = fromBuffer(getBackend().scatterAdd(xs.view('scatterAdd'), d, index.view('scatterAdd'), ss.view('scatterAdd')), dtype, x.shape);
  return recordOp(out, 'scatterAdd', [xs, ss], (g) => [g, ss.requiresGrad ? gather(g, d, index) : null]);
}

/** Whole slices of x along dim at a 1-d index (embedding lookup is indexSelect on dim 0). */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = normalizeAxis('indexSelect', dim, x.ndim);
  checkIndex('indexSelect', index);
  if (index.ndim !== 1) fail('indexSelect', `index must be 1-d, got shape ${formatShape(index.shape)}`);
  const dtype = computeDType('indexSelect', x);
  const shape = [...x.shape];
  shape[d] = index.shape[0]!;
  const out = fromBuffer(getBackend().indexSelect(x.view('indexSelect'), d, index.view('indexSelect')), dtype, shape);
  return recordOp(out, 'indexSelect', [x], (g) => [indexAdd(zerosOf(x.shape, g.dtype), d, index, g)]);
}

/** A copy of x with slices of src added at a 1-d index along dim (torch.index_add). */
export function indexAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  const d = normalizeAxis('indexAdd', dim, x.ndim);
  checkIndex('indexAdd', index);
  if (index.ndim !== 1) fail('indexAdd', `index must be 1-d, got shape ${formatShape(index.shape)}`);
  const dtype = promoteTypes(computeDType('indexAdd', x), computeDType('indexAdd', src));
  const want = [...x.shape];
  want[d] = index.shape[0]!;
  if (!sameShape(src.shape, want)) fail('indexAdd', `src has shape ${formatShape(src.shape)}, expected ${formatShape(want)}`);
  const xs = cast(x, dtype);
  const ss = cast(src, dtype);
  const out = fromBuffer(getBackend().indexAdd(xs.view('indexAdd'), d, index.view('indexAdd'), ss.view('indexAdd')), dtype, x.shape);
  return recordOp(out, 'indexAdd', [xs, ss], (g) => [g, ss.requiresGrad ? indexSelect(g, d, index) : null]);
}

function zerosOf(shape: Shape, dtype: DType): Tensor {
  return fromBuffer(allocate(dtype, sizeOf(shape)), dtype, shape);
}

// ---------------------------------------------------------------------------------------------

setEngineOps({
  add: (a, b) => add(a, b),
  onesLike: (t) => {
    const buf = allocate(t.dtype, t.size, false);
    buf.fill(1);
    return fromBuffer(buf, t.dtype, t.shape);
  },
  cloneContiguous: (t) => clone(t),
});

/** The primitive set: every gradient in attn is composed of these rules. */
export const PRIMITIVES = [
  'reshape', 'permute', 'expand', 'slice', 'clone', 'cast',
  'neg', 'exp', 'log', 'sqrt', 'abs', 'tanh', 'sigmoid', 'erf', 'sin', 'cos', 'sign',
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum',
  'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'where',
  'sum', 'argmax', 'argmin', 'matmul', 'pad', 'concat',
  'gather', 'scatterAdd', 'indexSelect', 'indexAdd',
] as const;
