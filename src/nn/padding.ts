/**
 * Padding for a batch of sequences of different lengths: Hugging Face's `attention_mask`
 * [B, past + T] (1 = a real token, 0 = padding), read once per forward pass into a `BatchPadding`
 * that attention and the position schemes use.
 *
 * Generation pads on the left (as transformers and mlx-lm do), so every row's newest token sits
 * in the same last column and one forward per step serves the whole batch. Two things then
 * follow from the mask, as in transformers' `generate`:
 * - keys at padded columns are never attended to (`paddingMask`);
 * - each row's positions count its real tokens only, position_ids = cumsum(mask) - 1
 *   (`paddedPositions`), so a row's first real token is position 0 wherever it sits in the batch,
 *   and learned/sinusoidal embeddings and RoPE angles equal those of the row run alone. ALiBi and
 *   the causal/window masks need nothing: they depend on differences of columns, and padding sits
 *   only before a row's first real token, so the distance between two real tokens is the same in
 *   columns as in positions.
 * A padded query (a column of padding) has no real key before it; it attends to its own column
 * only, so that its softmax is over one finite score rather than none (transformers unmasks such
 * rows for SDPA for the same reason). Its output is never read by a real token.
 *
 * A mask of all ones is no padding: `readAttentionMask` returns null and the model runs exactly
 * the path it runs without a mask (bit-identical results, and the kernel's cheap causal mask).
 */
import { fail, formatShape, fromTypedArray, type Tensor } from '../tensor/index.js';

/** Which columns of each row hold real tokens. */
export interface BatchPadding {
  /** Rows (B). */
  readonly batch: number;
  /** Columns: every position so far, cached and new (past + T). */
  readonly length: number;
  /** [B, length] row-major: 1 for a real token, 0 for padding. */
  readonly real: Uint8Array;
}

/**
 * An attention mask [B, length] (int, float or bool; entries 0 or 1) -> BatchPadding, or null when it
 * is absent or all ones. `what` names the model in errors.
 */
export function readAttentionMask(mask: Tensor | null | undefined, batch: number, length: number, what: string): BatchPadding | null {
  if (!mask) return null;
  if (mask.ndim !== 2 || mask.shape[0] !== batch || mask.shape[1] !== length) {
    fail(what, `attentionMask must be [B, past + T] = [${batch}, ${length}] (one column per cached and new token), got ${formatShape(mask.shape)}`);
  }
  const values = mask.toTypedArray();
  const real = new Uint8Array(values.length);
  let all = true;
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (v !== 0 && v !== 1) fail(what, `attentionMask entries must be 0 (padding) or 1 (a token), got ${v} at row ${Math.floor(i / length)}, column ${i % length}`);
    real[i] = v;
    all &&= v === 1;
  }
  return all ? null : { batch, length, real };
}

/**
 * Position ids [B, T] (row-major) of the last T columns: cumsum(mask) - 1 along each row, and 0
 * at padded columns (transformers fills 1; any valid position does, padding is never attended).
 */
export function paddedPositions(p: BatchPadding, t: number): Int32Array {
  const ids = new Int32Array(p.batch * t);
  for (let b = 0; b < p.batch; b++) {
    let count = 0;
    for (let j = 0; j < p.length; j++) {
      const real = p.real[b * p.length + j]!;
      count += real;
      const i = j - (p.length - t);
      if (i >= 0) ids[b * t + i] = real ? count - 1 : 0;
    }
  }
  return ids;
}

/**
 * Bool [B, 1, Tq, L]: which of the L keys (at columns `keyPositions`) each query (at columns
 * queryStart..queryStart+Tq-1) may attend because of padding: a real key, or for a padded query
 * its own column. Combine it with the causal/window masks.
 */
export function paddingMask(p: BatchPadding, keyPositions: ArrayLike<number>, queryStart: number, tq: number): Tensor {
  const l = keyPositions.length;
  if (queryStart + tq > p.length) fail('attention', `the padding mask covers ${p.length} columns but the queries reach column ${queryStart + tq - 1}`);
  const allowed = new Uint8Array(p.batch * tq * l);
  for (let b = 0; b < p.batch; b++) {
    const row = b * p.length;
    for (let i = 0; i < tq; i++) {
      const query = queryStart + i;
      const paddedQuery = p.real[row + query] === 0;
      for (let j = 0; j < l; j++) {
        const key = keyPositions[j]!;
        if (!(key >= 0 && key < p.length)) fail('attention', `key column ${key} is outside the padding mask's ${p.length} columns`);
        allowed[(b * tq + i) * l + j] = p.real[row + key] === 1 || (paddedQuery && key === query) ? 1 : 0;
      }
    }
  }
  return fromTypedArray(allowed, [p.batch, 1, tq, l], { dtype: 'bool' }); // [B, 1, Tq, L]
}
