/**
 * Rotary position embedding (RoFormer, Su et al. 2021, eq. 34): rotate each channel pair of
 * x [..., T, d] by its position's angle, given cos/sin [T, d/2]. Two layouts pair channels
 * differently (same rotation, different memory order):
 * - 'half' (Hugging Face LLaMA/Mistral/Qwen2, GPT-NeoX): pairs (x_i, x_{i+d/2});
 *   x * cos + rotate_half(x) * sin with rotate_half(x) = cat(-x2, x1) and cos/sin of cat(freqs, freqs).
 * - 'interleaved' (GPT-J, Meta's original LLaMA code): pairs (x_{2i}, x_{2i+1}).
 * A backend's fused `rope` kernel runs when present; the composed version is its oracle.
 */
import {
  add, concat, contiguous, fail, formatShape, fromBuffer, mul, neg, recordOp, reshape, slice, sub, type Tensor,
} from '../tensor/index.js';
import { fusedKernel } from './fused.js';
import { stack } from './indexing.js';

export type RopeLayout = 'half' | 'interleaved';

/** HF's rotate_half: cat(-x[..., d/2:], x[..., :d/2]). */
export function rotateHalf(x: Tensor): Tensor {
  const d = x.shape[x.ndim - 1]!;
  const x1 = slice(x, -1, 0, d / 2);
  const x2 = slice(x, -1, d / 2, d);
  return concat([neg(x2), x1], -1);
}

/**
 * x [..., T, d] rotated by cos/sin [T, d/2], shared by every leading index; or, for a batch whose
 * rows sit at different positions (a padded batch), cos/sin [B, T, d/2] with x [B, ..., T, d]:
 * row b is rotated by its own angles, exactly as it would be alone.
 */
export function rope(x: Tensor, cos: Tensor, sin: Tensor, layout: RopeLayout = 'half'): Tensor {
  const d = x.shape[x.ndim - 1]!;
  const t = x.shape[x.ndim - 2]!;
  if (cos.ndim === 3) {
    const b = cos.shape[0]!;
    if (x.ndim < 3 || x.shape[0] !== b || sin.ndim !== 3 || sin.shape[0] !== b) {
      fail('rope', `per-row angles cos ${formatShape(cos.shape)} / sin ${formatShape(sin.shape)} need x [${b}, ..., T, d], got ${formatShape(x.shape)}`);
    }
    const [tc, half] = [cos.shape[1]!, cos.shape[2]!];
    const rows = Array.from({ length: b }, (_, r) => rope(
      x.narrow(0, r, 1), cos.narrow(0, r, 1).reshape(tc, half), sin.narrow(0, r, 1).reshape(tc, half), layout,
    )); // B x [1, ..., T, d]
    return b === 1 ? rows[0]! : concat(rows, 0); // [B, ..., T, d]
  }
  if (x.ndim < 2 || cos.ndim !== 2 || cos.shape[0] !== t || cos.shape[1]! * 2 !== d || sin.shape[0] !== t || sin.shape[1] !== cos.shape[1]) {
    fail('rope', `angles cos ${formatShape(cos.shape)} / sin ${formatShape(sin.shape)} do not fit x ${formatShape(x.shape)} (expected [${t},${d / 2}])`);
  }
  const kernel = fusedKernel('rope');
  if (kernel && x.dtype === 'float32' && cos.dtype === 'float32' && sin.dtype === 'float32' && !cos.requiresGrad && !sin.requiresGrad) {
    const xc = contiguous(x);
    const [cv, sv] = [contiguous(cos).view('rope'), contiguous(sin).view('rope')];
    const y = fromBuffer(kernel.apply(xc.view('rope'), cv, sv, layout, false), 'float32', x.shape);
    return recordOp(y, 'rope', [xc], (g) => [fromBuffer(kernel.apply(contiguous(g).view('rope'), cv, sv, layout, true), 'float32', x.shape)]);
  }
  if (layout === 'half') {
    const c = concat([cos, cos], -1); // [T, d]
    const s = concat([sin, sin], -1); // [T, d]
    return add(mul(x, c), mul(rotateHalf(x), s));
  }
  const pairs = reshape(x, [...x.shape.slice(0, -1), d / 2, 2]); // [..., T, d/2, 2]
  const even = reshape(slice(pairs, -1, 0, 1), [...x.shape.slice(0, -1), d / 2]); // [..., T, d/2]
  const odd = reshape(slice(pairs, -1, 1, 2), [...x.shape.slice(0, -1), d / 2]); // [..., T, d/2]
  const rotatedEven = sub(mul(even, cos), mul(odd, sin));
  const rotatedOdd = add(mul(even, sin), mul(odd, cos));
  return reshape(stack([rotatedEven, rotatedOdd], -1), x.shape); // [..., T, d]
}
