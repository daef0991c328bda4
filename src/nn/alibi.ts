/**
 * ALiBi, attention with linear biases (Press, Smith and Lewis 2022, "Train Short, Test Long",
 * arXiv:2108.12409): no position embeddings; head h adds -m_h * (i - j) to the score of query
 * position i and key position j, a penalty growing linearly with distance.
 *
 * Slopes as the paper's code and BLOOM's `build_alibi_tensor` (transformers modeling_bloom.py)
 * compute them: for n a power of two, the geometric sequence m_h = 2^(-8/n)^h, h = 1..n; otherwise
 * the slopes of the largest power of two p < n, followed by the odd-indexed slopes of 2p
 * (2^(-8/2p)^h for h = 1, 3, 5, ...) for the remaining n - p heads. In float32, as BLOOM does.
 *
 * The bias is m_h * (j - i) (0 on the diagonal, negative for past keys), query rows aligned to the
 * end of the keys as in causal attention with a cache. BLOOM adds m_h * j instead, which differs
 * from this by m_h * i, a constant per query row that softmax cancels.
 */
import { fail, zeros, type Tensor } from '../tensor/index.js';

/** The ALiBi slope of each head, [numHeads] float32 values (BLOOM's build_alibi_tensor). */
export function alibiSlopes(numHeads: number): Float32Array {
  if (!(Number.isInteger(numHeads) && numHeads > 0)) fail('alibi', `numHeads must be a positive integer, got ${numHeads}`);
  const closest = 2 ** Math.floor(Math.log2(numHeads));
  // 2^(-(2^-(log2(p) - 3))) = 2^(-8/p), as a float32 tensor; torch.pow(base, h) in float32
  const geometric = (p: number, powers: number[]) => {
    const base = Math.fround(2 ** -(2 ** -(Math.log2(p) - 3)));
    return powers.map((h) => Math.fround(base ** h));
  };
  const slopes = geometric(closest, Array.from({ length: closest }, (_, i) => i + 1));
  if (closest !== numHeads) {
    const remaining = Math.min(closest, numHeads - closest);
    slopes.push(...geometric(2 * closest, Array.from({ length: remaining }, (_, i) => 2 * i + 1)));
  }
  return Float32Array.from(slopes);
}

/**
 * The ALiBi bias [1, numHeads, tq, tk]: slope_h * (j - (i + tk - tq)) for query row i and key j,
 * the additive `mask` of scaledDotProductAttention (combine with `causal: true` for a decoder).
 */
export function alibiBias(numHeads: number, tq: number, tk: number, opts: { slopes?: ArrayLike<number> } = {}): Tensor {
  if (!(Number.isInteger(tq) && Number.isInteger(tk) && tq > 0 && tk >= tq)) fail('alibi', `need 0 < tq <= tk, got tq ${tq}, tk ${tk}`);
  const slopes = opts.slopes ?? alibiSlopes(numHeads);
  if (slopes.length !== numHeads) fail('alibi', `${slopes.length} slopes for ${numHeads} heads`);
  const bias = zeros([1, numHeads, tq, tk]);
  const data = bias.storage.data as Float32Array;
  for (let h = 0; h < numHeads; h++) {
    for (let i = 0; i < tq; i++) {
      const pos = i + tk - tq; // the query's position among the keys
      for (let j = 0; j < tk; j++) data[(h * tq + i) * tk + j] = slopes[h]! * (j - pos);
    }
  }
  return bias;
}

/**
 * The same bias for explicit query and key positions, [1, H, Tq, Tk]: slope * (key - query). A KV
 * cache that evicted or reordered keys reports their positions, and a decode step's single query
 * sits at its absolute position.
 */
export function alibiBiasAt(numHeads: number, queryPositions: ArrayLike<number>, keyPositions: ArrayLike<number>, opts: { slopes?: ArrayLike<number> } = {}): Tensor {
  const [tq, tk] = [queryPositions.length, keyPositions.length];
  if (tq === 0 || tk === 0) fail('alibi', `need query and key positions, got ${tq} and ${tk}`);
  const slopes = opts.slopes ?? alibiSlopes(numHeads);
  if (slopes.length !== numHeads) fail('alibi', `${slopes.length} slopes for ${numHeads} heads`);
  const bias = zeros([1, numHeads, tq, tk]);
  const data = bias.storage.data as Float32Array;
  for (let h = 0; h < numHeads; h++) {
    for (let i = 0; i < tq; i++) {
      for (let j = 0; j < tk; j++) data[(h * tq + i) * tk + j] = slopes[h]! * (keyPositions[j]! - queryPositions[i]!);
    }
  }
  return bias;
}
