/** Elementwise kernels: unary, binary, comparison, where, copy/cast. */
import {
  allocate, sizeOf, type BinaryOp, type CompareOp, type ComputeDType, type Shape, type TypedArray, type UnaryOp, type View,
} from '../../tensor/index.js';
import { offsetsOf } from './strided.js';
import { erf } from './special.js';

const UNARY: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  abs: Math.abs,
  tanh: Math.tanh,
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  erf,
  sin: Math.sin,
  cos: Math.cos,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN),
};

const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  maximum: (a, b) => (a !== a || b !== b ? NaN : a > b ? a : b),
  minimum: (a, b) => (a !== a || b !== b ? NaN : a < b ? a : b),
};

const COMPARE: Record<CompareOp, (a: number, b: number) => boolean> = {
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
};

export function unary(op: UnaryOp, x: View, outDtype: ComputeDType): TypedArray {
  const f = UNARY[op];
  const n = sizeOf(x.shape);
  const out = allocate(outDtype, n, false);
  const offs = offsetsOf(x);
  const d = x.data;
  if (!offs) for (let i = 0, o = x.offset; i < n; i++) out[i] = f(d[o + i]!);
  else for (let i = 0; i < n; i++) out[i] = f(d[offs[i]!]!);
  return out;
}

function binaryLoop(out: TypedArray, a: View, b: View, n: number, f: (a: number, b: number) => number): void {
  const ao = offsetsOf(a);
  const bo = offsetsOf(b);
  const ad = a.data;
  const bd = b.data;
  if (!ao && !bo) {
    for (let i = 0, x = a.offset, y = b.offset; i < n; i++) out[i] = f(ad[x + i]!, bd[y + i]!);
  } else if (!ao) {
    for (let i = 0, x = a.offset; i < n; i++) out[i] = f(ad[x + i]!, bd[bo![i]!]!);
  } else if (!bo) {
    for (let i = 0, y = b.offset; i < n; i++) out[i] = f(ad[ao[i]!]!, bd[y + i]!);
  } else {
    for (let i = 0; i < n; i++) out[i] = f(ad[ao[i]!]!, bd[bo[i]!]!);
  }
}

export function binary(op: BinaryOp, a: View, b: View, outShape: Shape, outDtype: ComputeDType): TypedArray {
  const n = sizeOf(outShape);
  const out = allocate(outDtype, n, false);
  binaryLoop(out, a, b, n, BINARY[op]);
  return out;
}

export function compare(op: CompareOp, a: View, b: View, outShape: Shape): Uint8Array {
  const n = sizeOf(outShape);
  const out = allocate('bool', n, false) as Uint8Array;
  const f = COMPARE[op];
  binaryLoop(out, a, b, n, (x, y) => (f(x, y) ? 1 : 0));
  return out;
}

export function where(cond: View, a: View, b: View, outShape: Shape, outDtype: ComputeDType): TypedArray {
  const n = sizeOf(outShape);
  const out = allocate(outDtype, n, false);
  const co = offsetsOf(cond);
  const ao = offsetsOf(a);
  const bo = offsetsOf(b);
  for (let i = 0; i < n; i++) {
    const c = cond.data[co ? co[i]! : cond.offset + i]!;
    out[i] = c ? a.data[ao ? ao[i]! : a.offset + i]! : b.data[bo ? bo[i]! : b.offset + i]!;
  }
  return out;
}

/** Contiguous copy with conversion: to bool tests != 0, to int32 truncates toward zero. */
export function copy(x: View, outDtype: ComputeDType): TypedArray {
  const n = sizeOf(x.shape);
  const out = allocate(outDtype, n, false);
  const offs = offsetsOf(x);
  const d = x.data;
  if (outDtype === 'bool') {
    for (let i = 0; i < n; i++) out[i] = d[offs ? offs[i]! : x.offset + i] ? 1 : 0;
  } else if (!offs) {
    if (x.dtype === outDtype || outDtype !== 'int32') out.set(d.subarray(x.offset, x.offset + n));
    else for (let i = 0; i < n; i++) out[i] = d[x.offset + i]!;
  } else {
    for (let i = 0; i < n; i++) out[i] = d[offs[i]!]!;
  }
  return out;
}
