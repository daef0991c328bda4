/** Reductions over any set of axes (sum, argmax, argmin). */
import { allocate, isContiguous, sizeOf, type ComputeDType, type ReduceOp, type TypedArray, type View } from '../../tensor/index.js';
import { offsetsOf } from './strided.js';

/**
 * Views x with the reduced axes moved last, so that each output element owns a run of
 * `inner` consecutive row-major positions of the permuted view.
 */
function permutedForReduce(x: View, axes: readonly number[]): { view: View; outer: number; inner: number } {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const order = [...kept, ...axes];
  const view: View = {
    ...x,
    shape: order.map((i) => x.shape[i]!),
    strides: order.map((i) => x.strides[i]!),
  };
  const inner = sizeOf(axes.map((i) => x.shape[i]!));
  return { view, outer: sizeOf(kept.map((i) => x.shape[i]!)), inner };
}

/**
 * Sums of a contiguous tensor over a prefix of its axes (bias gradients: [B, T, N] -> [N]) or
 * over a suffix (row sums), with unit-stride inner loops instead of an offsets table.
 */
function contiguousSum(x: View, axes: readonly number[], outDtype: ComputeDType): TypedArray | null {
  if (!isContiguous(x.shape, x.strides)) return null;
  const nd = x.shape.length;
  const prefix = axes.every((a, i) => a === i);
  const suffix = axes.every((a, i) => a === nd - axes.length + i);
  if (!prefix && !suffix) return null;
  const d = x.data;
  const o = x.offset;
  if (prefix) {
    const rows = sizeOf(x.shape.slice(0, axes.length));
    const cols = sizeOf(x.shape.slice(axes.length));
    const acc = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      const base = o + r * cols;
      for (let j = 0; j < cols; j++) acc[j] += d[base + j]!;
    }
    const out = allocate(outDtype, cols, false);
    out.set(acc);
    return out;
  }
  const cols = sizeOf(x.shape.slice(nd - axes.length));
  const rows = sizeOf(x.shape.slice(0, nd - axes.length));
  const out = allocate(outDtype, rows, false);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const base = o + r * cols;
    for (let j = 0; j < cols; j++) s += d[base + j]!;
    out[r] = s;
  }
  return out;
}

export function reduce(op: ReduceOp, x: View, axes: readonly number[], outDtype: ComputeDType): TypedArray {
  if (op === 'sum') {
    const fast = contiguousSum(x, axes, outDtype);
    if (fast) return fast;
  }
  const { view, outer, inner } = permutedForReduce(x, axes);
  const out = allocate(outDtype, outer, false);
  const offs = offsetsOf(view);
  const d = x.data;
  const base = x.offset;
  for (let o = 0; o < outer; o++) {
    const start = o * inner;
    if (op === 'sum') {
      let s = 0;
      if (!offs) for (let i = 0; i < inner; i++) s += d[base + start + i]!;
      else for (let i = 0; i < inner; i++) s += d[offs[start + i]!]!;
      out[o] = s;
    } else {
      // first extreme wins; a NaN counts as the extreme (as PyTorch)
      const better = op === 'argmax' ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
      let bestI = 0;
      let best = offs ? d[offs[start]!]! : d[base + start]!;
      for (let i = 1; i < inner && best === best; i++) {
        const v = offs ? d[offs[start + i]!]! : d[base + start + i]!;
        if (v !== v || better(v, best)) {
          best = v;
          bestI = i;
        }
      }
      out[o] = bestI;
    }
  }
  return out;
}
