/**
 * indexSelect / indexAdd along axis 0 of a contiguous float32 [V, D] table on wasm (embedding
 * lookup and its gradient); other axes, dtypes and layouts use the reference kernels.
 */
import { AttnError, isContiguous, sizeOf, type Backend, type TypedArray, type View } from '../../tensor/index.js';
import { output, type OutputAlloc, type WasmRuntime } from './runtime.js';

function rowsCase(rt: WasmRuntime, x: View, axis: number, index: View): [number, number] | null {
  if (axis !== 0 || x.dtype !== 'float32' || x.shape.length < 1 || !isContiguous(x.shape, x.strides)) return null;
  if (!isContiguous(index.shape, index.strides)) return null;
  const xp = rt.addressOf(x.data, x.offset, 4);
  const ip = rt.addressOf(index.data, index.offset, 4);
  return xp < 0 || ip < 0 ? null : [xp, ip];
}

export function wasmEmbedding(rt: WasmRuntime, ref: Backend, alloc: OutputAlloc): Pick<Backend, 'indexSelect' | 'indexAdd'> {
  return {
    indexSelect(x: View, axis: number, index: View): TypedArray {
      const p = rowsCase(rt, x, axis, index);
      if (!p) return ref.indexSelect(x, axis, index);
      const vocab = x.shape[0]!;
      const d = sizeOf(x.shape) / Math.max(vocab, 1);
      const n = sizeOf(index.shape);
      const out = output(alloc, 'float32', n * d, false);
      const yp = rt.addressOf(out, 0, 4);
      if (yp < 0) return ref.indexSelect(x, axis, index);
      const bad = rt.exports.gatherRows(p[0], p[1], yp, n, vocab, d);
      if (bad >= 0) throw new AttnError('indexSelect', `index ${index.data[index.offset + bad]} is out of range for dimension 0 of size ${vocab}`);
      return out;
    },
    indexAdd(x: View, axis: number, index: View, src: View): TypedArray {
      const p = rowsCase(rt, x, axis, index);
      const sp = src.dtype === 'float32' && isContiguous(src.shape, src.strides) ? rt.addressOf(src.data, src.offset, 4) : -1;
      if (!p || sp < 0) return ref.indexAdd(x, axis, index, src);
      const vocab = x.shape[0]!;
      const n = sizeOf(index.shape);
      const size = sizeOf(x.shape);
      const out = output(alloc, 'float32', size, false);
      const yp = rt.addressOf(out, 0, 4);
      if (yp < 0) return ref.indexAdd(x, axis, index, src);
      out.set(x.data.subarray(x.offset, x.offset + size));
      const bad = rt.exports.scatterAddRows(yp, p[1], sp, n, vocab, size / Math.max(vocab, 1));
      if (bad >= 0) throw new AttnError('indexAdd', `index ${index.data[index.offset + bad]} is out of range for dimension 0 of size ${vocab}`);
      return out;
    },
  };
}
