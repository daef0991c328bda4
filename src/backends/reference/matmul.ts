/**
 * Batched matrix product over strided operands: a [...batch, m, k] @ b [...batch, k, n].
 * Two loop orders keep the innermost loop on unit stride: i-p-j when b's rows are contiguous,
 * a dot product per output when both a's rows and b's columns are (as in x @ W^T).
 */
import { allocate, sizeOf, type ComputeDType, type TypedArray, type View } from '../../tensor/index.js';
import { offsetsOf } from './strided.js';

export function matmul(a: View, b: View, outDtype: ComputeDType): TypedArray {
  const nd = a.shape.length;
  const m = a.shape[nd - 2]!;
  const k = a.shape[nd - 1]!;
  const n = b.shape[nd - 1]!;
  const batchShape = a.shape.slice(0, -2);
  const batch = sizeOf(batchShape);
  const out = allocate(outDtype, batch * m * n);
  const aBatch = offsetsOf({ ...a, shape: batchShape, strides: a.strides.slice(0, -2), offset: 0 });
  const bBatch = offsetsOf({ ...b, shape: batchShape, strides: b.strides.slice(0, -2), offset: 0 });
  const aBatchStride = nd > 2 ? a.strides[nd - 3]! : 0;
  const bBatchStride = nd > 2 ? b.strides[nd - 3]! : 0;
  const [sam, sak] = [a.strides[nd - 2]!, a.strides[nd - 1]!];
  const [sbk, sbn] = [b.strides[nd - 2]!, b.strides[nd - 1]!];
  const ad = a.data;
  const bd = b.data;
  // Accumulate in a float64 row so float32 results are rounded once per output element.
  const acc = new Float64Array(n);
  for (let bi = 0; bi < batch; bi++) {
    const aOff = a.offset + (aBatch ? aBatch[bi]! : bi * aBatchStride);
    const bOff = b.offset + (bBatch ? bBatch[bi]! : bi * bBatchStride);
    const oOff = bi * m * n;
    if (sbn === 1) {
      for (let i = 0; i < m; i++) {
        acc.fill(0);
        const aRow = aOff + i * sam;
        for (let p = 0; p < k; p++) {
          const av = ad[aRow + p * sak]!;
          if (av === 0) continue;
          const bRow = bOff + p * sbk;
          for (let j = 0; j < n; j++) acc[j] += av * bd[bRow + j]!;
        }
        for (let j = 0; j < n; j++) out[oOff + i * n + j] = acc[j]!;
      }
    } else if (sak === 1 && sbk === 1) {
      // both operands unit-stride along k: a dot product per output, unrolled by 4
      const k4 = k - (k % 4);
      for (let i = 0; i < m; i++) {
        const aRow = aOff + i * sam;
        for (let j = 0; j < n; j++) {
          const bCol = bOff + j * sbn;
          let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          let p = 0;
          for (; p < k4; p += 4) {
            s0 += ad[aRow + p]! * bd[bCol + p]!;
            s1 += ad[aRow + p + 1]! * bd[bCol + p + 1]!;
            s2 += ad[aRow + p + 2]! * bd[bCol + p + 2]!;
            s3 += ad[aRow + p + 3]! * bd[bCol + p + 3]!;
          }
          for (; p < k; p++) s0 += ad[aRow + p]! * bd[bCol + p]!;
          out[oOff + i * n + j] = s0 + s1 + s2 + s3;
        }
      }
    } else {
      for (let i = 0; i < m; i++) {
        const aRow = aOff + i * sam;
        for (let j = 0; j < n; j++) {
          const bCol = bOff + j * sbn;
          let s = 0;
          for (let p = 0; p < k; p++) s += ad[aRow + p * sak]! * bd[bCol + p * sbk]!;
          out[oOff + i * n + j] = s;
        }
      }
    }
  }
  return out;
}
