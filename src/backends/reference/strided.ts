/** Walking strided views in row-major order. */
import { isContiguous, sizeOf, type View } from '../../tensor/index.js';

/**
 * Storage offsets of every element of `v` in row-major order, or null when the view is
 * contiguous (element i is then at `v.offset + i`).
 */
export function offsetsOf(v: View): Int32Array | null {
  if (isContiguous(v.shape, v.strides)) return null;
  const { shape, strides } = v;
  const n = sizeOf(shape);
  const out = new Int32Array(n);
  const nd = shape.length;
  if (n === 0) return out;
  const inner = shape[nd - 1]!;
  const innerStride = strides[nd - 1]!;
  const outer = n / inner;
  const idx = new Array<number>(nd).fill(0);
  let base = v.offset;
  let p = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) out[p++] = base + i * innerStride;
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]!++;
      base += strides[d]!;
      if (idx[d]! < shape[d]!) break;
      base -= strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/** Row-major values of a view as a plain contiguous read: data[at(i)]. */
export function reader(v: View): (i: number) => number {
  const offs = offsetsOf(v);
  const data = v.data;
  if (!offs) {
    const o = v.offset;
    return (i) => data[o + i]!;
  }
  return (i) => data[offs[i]!]!;
}

/** A contiguous array with the view's values (the buffer itself when already contiguous from 0). */
export function contiguousData(v: View): ArrayLike<number> {
  const n = sizeOf(v.shape);
  if (isContiguous(v.shape, v.strides) && v.offset === 0 && v.data.length === n) return v.data;
  const offs = offsetsOf(v);
  const out = new Float64Array(n);
  if (!offs) for (let i = 0; i < n; i++) out[i] = v.data[v.offset + i]!;
  else for (let i = 0; i < n; i++) out[i] = v.data[offs[i]!]!;
  return out;
}
