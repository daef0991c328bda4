/** Reductions over any set of axes (sum, argmax, argmin). */
import { allocate, sizeOf, type ComputeDType, type ReduceOp, type TypedArray, type View } from '../../tensor/index.js';
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

export function reduce(op: ReduceOp, x: View, axes: readonly number[], outDtype: ComputeDType): TypedArray {
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
