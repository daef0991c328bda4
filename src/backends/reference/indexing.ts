/** Structural kernels: pad, concat, gather, scatter-add, index-select, index-add. */
import { AttnError, allocate, contiguousStrides, sizeOf, type Shape, type TypedArray, type View } from '../../tensor/index.js';
import { contiguousData, offsetsOf } from './strided.js';

/** Splits a shape at `axis` into (outer, mid, inner) extents. */
function split3(shape: Shape, axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis]!, sizeOf(shape.slice(axis + 1))];
}

export function pad(x: View, axis: number, before: number, after: number): TypedArray {
  const [outer, mid, inner] = split3(x.shape, axis);
  const total = mid + before + after;
  const out = allocate(x.dtype, outer * total * inner);
  const src = contiguousData(x);
  for (let o = 0; o < outer; o++) {
    for (let m = 0; m < mid; m++) {
      const s = (o * mid + m) * inner;
      const t = (o * total + m + before) * inner;
      for (let r = 0; r < inner; r++) out[t + r] = src[s + r]!;
    }
  }
  return out;
}

export function concat(xs: readonly View[], axis: number, outShape: Shape): TypedArray {
  const [outer, total, inner] = split3(outShape, axis);
  const out = allocate(xs[0]!.dtype, sizeOf(outShape), false);
  let at = 0;
  for (const x of xs) {
    const mid = x.shape[axis]!;
    const src = contiguousData(x);
    for (let o = 0; o < outer; o++) {
      const s = o * mid * inner;
      const t = (o * total + at) * inner;
      for (let r = 0; r < mid * inner; r++) out[t + r] = src[s + r]!;
    }
    at += mid;
  }
  return out;
}

function checkedIndex(op: string, v: number, size: number, axis: number): number {
  if (v < 0 || v >= size) throw new AttnError(op, `index ${v} is out of range for dimension ${axis} of size ${size}`);
  return v;
}

/**
 * Visits every position of `shape` in row-major order, passing the storage offset into x of the
 * same multi-index with `axis` left out (the caller adds the indexed position along `axis`).
 */
function forEachPosition(shape: Shape, xStrides: readonly number[], axis: number, fn: (p: number, xBase: number) => void): void {
  const n = sizeOf(shape);
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  let xBase = 0;
  for (let p = 0; p < n; p++) {
    fn(p, xBase);
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]!++;
      if (d !== axis) xBase += xStrides[d]!;
      if (idx[d]! < shape[d]!) break;
      if (d !== axis) xBase -= xStrides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

export function gather(x: View, axis: number, index: View): TypedArray {
  const out = allocate(x.dtype, sizeOf(index.shape), false);
  const io = offsetsOf(index);
  const size = x.shape[axis]!;
  const stride = x.strides[axis]!;
  forEachPosition(index.shape, x.strides, axis, (p, xBase) => {
    const j = checkedIndex('gather', index.data[io ? io[p]! : index.offset + p]!, size, axis);
    out[p] = x.data[x.offset + xBase + j * stride]!;
  });
  return out;
}

export function scatterAdd(x: View, axis: number, index: View, src: View): TypedArray {
  const out = allocate(x.dtype, sizeOf(x.shape), false);
  out.set(contiguousData(x) as ArrayLike<number>);
  const io = offsetsOf(index);
  const so = offsetsOf(src);
  const outStrides = contiguousStrides(x.shape);
  const size = x.shape[axis]!;
  forEachPosition(index.shape, outStrides, axis, (p, base) => {
    const j = checkedIndex('scatterAdd', index.data[io ? io[p]! : index.offset + p]!, size, axis);
    out[base + j * outStrides[axis]!] += src.data[so ? so[p]! : src.offset + p]!;
  });
  return out;
}

export function indexSelect(x: View, axis: number, index: View): TypedArray {
  const [outer, mid, inner] = split3(x.shape, axis);
  const idx = contiguousData(index);
  const len = idx.length;
  const out = allocate(x.dtype, outer * len * inner, false);
  const src = contiguousData(x);
  for (let j = 0; j < len; j++) checkedIndex('indexSelect', idx[j]!, mid, axis);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < len; j++) {
      const s = (o * mid + idx[j]!) * inner;
      const t = (o * len + j) * inner;
      for (let r = 0; r < inner; r++) out[t + r] = src[s + r]!;
    }
  }
  return out;
}

export function indexAdd(x: View, axis: number, index: View, src: View): TypedArray {
  const [outer, mid, inner] = split3(x.shape, axis);
  const idx = contiguousData(index);
  const len = idx.length;
  const out = allocate(x.dtype, sizeOf(x.shape), false);
  out.set(contiguousData(x) as ArrayLike<number>);
  const s = contiguousData(src);
  for (let j = 0; j < len; j++) checkedIndex('indexAdd', idx[j]!, mid, axis);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < len; j++) {
      const t = (o * mid + idx[j]!) * inner;
      const f = (o * len + j) * inner;
      for (let r = 0; r < inner; r++) out[t + r] += s[f + r]!;
    }
  }
  return out;
}
