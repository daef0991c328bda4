/**
 * Elementwise ops on the wasm kernels for float32 tensors resident in wasm memory, in the
 * layouts that dominate transformer code (same shape, scalar, row broadcast). Other layouts,
 * dtypes and non-resident inputs use the reference kernels.
 */
import {
  isContiguous, sizeOf, type Backend, type BinaryOp, type ComputeDType, type Shape, type TypedArray, type UnaryOp,
  type View,
} from '../../tensor/index.js';
import { output, type OutputAlloc, type WasmRuntime } from './runtime.js';

const UNARY: Partial<Record<UnaryOp, number>> = { neg: 0, exp: 1, log: 2, sqrt: 3, abs: 4, tanh: 5, sigmoid: 6, sin: 7, cos: 8, sign: 9 };
const BINARY: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5, pow: 6 };
const SAME = 0, B_SCALAR = 1, A_SCALAR = 2, B_ROW = 3, A_ROW = 4;
/** Below this many elements the JS loop is as fast as crossing into wasm. */
const MIN_ELEMENTS = 64;

/** Elements per repeated row if `v` is a row of `inner` contiguous elements broadcast over leading axes, else 0. */
function rowBroadcast(v: View): number {
  let i = v.shape.length;
  let inner = 1;
  while (i > 0 && v.strides[i - 1] === inner) inner *= v.shape[--i]!;
  for (let j = 0; j < i; j++) if (v.strides[j] !== 0 && v.shape[j] !== 1) return 0;
  return inner;
}

function allZero(v: View): boolean {
  return v.strides.every((s, i) => s === 0 || v.shape[i] === 1);
}

export function wasmElementwise(rt: WasmRuntime, ref: Backend, alloc: OutputAlloc): Pick<Backend, 'unary' | 'binary'> {
  return {
    unary(op: UnaryOp, x: View, outDtype: ComputeDType): TypedArray {
      const code = UNARY[op];
      const n = sizeOf(x.shape);
      const xp = rt.addressOf(x.data, x.offset, 4);
      if (code === undefined || x.dtype !== 'float32' || outDtype !== 'float32' || n < MIN_ELEMENTS || xp < 0 || !isContiguous(x.shape, x.strides)) {
        return ref.unary(op, x, outDtype);
      }
      const out = output(alloc, 'float32', n, false);
      const yp = rt.addressOf(out, 0, 4);
      if (yp < 0) return ref.unary(op, x, outDtype);
      rt.exports.unaryF32(code, xp, yp, n);
      return out;
    },

    binary(op: BinaryOp, a: View, b: View, outShape: Shape, outDtype: ComputeDType): TypedArray {
      const n = sizeOf(outShape);
      const fallback = () => ref.binary(op, a, b, outShape, outDtype);
      if (a.dtype !== 'float32' || b.dtype !== 'float32' || outDtype !== 'float32' || n < MIN_ELEMENTS) return fallback();
      const ap = rt.addressOf(a.data, a.offset, 4);
      const bp = rt.addressOf(b.data, b.offset, 4);
      if (ap < 0 || bp < 0) return fallback();
      const aDense = isContiguous(a.shape, a.strides);
      const bDense = isContiguous(b.shape, b.strides);
      let layout: number;
      let inner = 0;
      if (aDense && bDense) layout = SAME;
      else if (aDense && allZero(b)) layout = B_SCALAR;
      else if (bDense && allZero(a)) layout = A_SCALAR;
      else if (aDense && (inner = rowBroadcast(b)) > 0) layout = B_ROW;
      else if (bDense && (inner = rowBroadcast(a)) > 0) layout = A_ROW;
      else return fallback();
      const out = output(alloc, 'float32', n, false);
      const yp = rt.addressOf(out, 0, 4);
      if (yp < 0) return fallback();
      rt.exports.binaryF32(BINARY[op], ap, bp, yp, n, layout, inner);
      return out;
    },
  };
}
