/** Indexing and structure helpers composed from primitives. */
import {
  concat, fail, formatShape, indexSelect, normalizeAxis, reshape, slice, unsqueeze, where,
  type Tensor,
} from '../tensor/index.js';

/** x with `value` where mask is true (mask broadcasts to x). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  if (mask.dtype !== 'bool') fail('maskedFill', `mask must be bool, got ${mask.dtype}`);
  return where(mask, value, x);
}

/** Rows of `weight` [V, D] at int32 `ids` of any shape -> [...ids.shape, D]. */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  if (weight.ndim !== 2) fail('embedding', `weight must be [vocab, dim], got ${formatShape(weight.shape)}`);
  const rows = indexSelect(weight, 0, reshape(ids, [-1]));
  return reshape(rows, [...ids.shape, weight.shape[1]!]);
}

/** Splits along dim into pieces of `size` (last may be smaller) or of the given sizes. */
export function split(x: Tensor, sizes: number | readonly number[], dim = 0): Tensor[] {
  const d = normalizeAxis('split', dim, x.ndim);
  const n = x.shape[d]!;
  let parts: number[];
  if (typeof sizes === 'number') {
    if (!(Number.isInteger(sizes) && sizes > 0)) fail('split', `split size must be a positive integer, got ${sizes}`);
    parts = [];
    for (let s = 0; s < n; s += sizes) parts.push(Math.min(sizes, n - s));
  } else {
    parts = [...sizes];
    const total = parts.reduce((a, b) => a + b, 0);
    if (total !== n) fail('split', `sizes ${formatShape(parts)} sum to ${total}, but dimension ${d} of ${formatShape(x.shape)} has ${n}`);
  }
  const out: Tensor[] = [];
  let at = 0;
  for (const p of parts) {
    out.push(slice(x, d, at, at + p));
    at += p;
  }
  return out;
}

/** Splits into `chunks` nearly equal pieces (as torch.chunk). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  const d = normalizeAxis('chunk', dim, x.ndim);
  return split(x, Math.ceil(x.shape[d]! / chunks), d);
}

/** Joins tensors of equal shape along a new axis. */
export function stack(ts: readonly Tensor[], dim = 0): Tensor {
  if (ts.length === 0) fail('stack', 'needs at least one tensor');
  const first = ts[0]!;
  ts.forEach((t, i) => {
    if (t.shape.length !== first.shape.length || t.shape.some((s, j) => s !== first.shape[j])) {
      fail('stack', `tensor ${i} has shape ${formatShape(t.shape)}, expected ${formatShape(first.shape)}`);
    }
  });
  const d = normalizeAxis('stack', dim, first.ndim + 1);
  return concat(ts.map((t) => unsqueeze(t, d)), d);
}
