/**
 * Rotary position embedding, RoPE (Su et al. 2021, "RoFormer", arXiv:2104.09864, eq. 34):
 * each pair of channels (x_a, x_b) of a query or key at position m is rotated by the angle
 * m * theta_i, theta_i = base^(-2i/d), so q.k depends on positions only through their difference.
 *
 * Two layouts pair the channels differently (same rotation, different memory order):
 * - 'half' (Hugging Face LLaMA/Mistral/Qwen2, GPT-NeoX): pairs (x_i, x_{i+d/2});
 *   x * cos + rotate_half(x) * sin with rotate_half(x) = cat(-x2, x1) and cos/sin of cat(freqs, freqs).
 * - 'interleaved' (GPT-J, Meta's original LLaMA code): pairs (x_{2i}, x_{2i+1}).
 */
import { add, concat, fail, fromTypedArray, mul, neg, reshape, slice, sub, type Tensor } from '../tensor/index.js';
import { stack } from '../ops/index.js';

export type RopeLayout = 'half' | 'interleaved';

export interface RopeOptions {
  /** Channels rotated per head (the head dim for LLaMA). Must be even. */
  dim: number;
  /** rope_theta: 10000 for LLaMA 1/2, 500000 for LLaMA 3, 1e6 for Qwen2. */
  base?: number;
  layout?: RopeLayout;
}

/** The angle table for `positions`: cos and sin, each [T, dim/2] (one angle per channel pair). */
export interface RopeAngles {
  cos: Tensor;
  sin: Tensor;
}

/**
 * cos/sin of positions[t] * inv_freq[i], inv_freq[i] = 1 / base^(2i/dim), as HF computes them:
 * inv_freq in float32 first, then the float32 product (so fixtures from PyTorch match exactly).
 */
export function ropeAngles(positions: readonly number[], opts: RopeOptions): RopeAngles {
  const { dim, base = 10000 } = opts;
  if (!(Number.isInteger(dim) && dim > 0 && dim % 2 === 0)) fail('rope', `dim must be a positive even integer, got ${dim}`);
  const half = dim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.fround(base ** Math.fround((2 * i) / dim));
  const cos = new Float32Array(positions.length * half);
  const sin = new Float32Array(positions.length * half);
  positions.forEach((p, t) => {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * invFreq[i]!);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  });
  return { cos: fromTypedArray(cos, [positions.length, half]), sin: fromTypedArray(sin, [positions.length, half]) };
}

/** HF's rotate_half: cat(-x[..., d/2:], x[..., :d/2]). */
export function rotateHalf(x: Tensor): Tensor {
  const d = x.shape[x.ndim - 1]!;
  const x1 = slice(x, -1, 0, d / 2);
  const x2 = slice(x, -1, d / 2, d);
  return concat([neg(x2), x1], -1);
}

/**
 * Rotates x [..., T, dim] by the angles of its T positions (angles [T, dim/2]).
 * Works on [B, nh, T, hd] queries and keys; the angle table broadcasts over batch and heads.
 */
export function applyRope(x: Tensor, angles: RopeAngles, layout: RopeLayout = 'half'): Tensor {
  const d = x.shape[x.ndim - 1]!;
  const t = x.shape[x.ndim - 2]!;
  if (angles.cos.shape[0] !== t || angles.cos.shape[1]! * 2 !== d) {
    fail('rope', `angles for ${angles.cos.shape[0]} positions x ${angles.cos.shape[1]! * 2} channels do not fit x [..., ${t}, ${d}]`);
  }
  if (layout === 'half') {
    const cos = concat([angles.cos, angles.cos], -1); // [T, d]
    const sin = concat([angles.sin, angles.sin], -1); // [T, d]
    return add(mul(x, cos), mul(rotateHalf(x), sin));
  }
  const pairs = reshape(x, [...x.shape.slice(0, -1), d / 2, 2]); // [..., T, d/2, 2]
  const even = reshape(slice(pairs, -1, 0, 1), [...x.shape.slice(0, -1), d / 2]); // [..., T, d/2]
  const odd = reshape(slice(pairs, -1, 1, 2), [...x.shape.slice(0, -1), d / 2]); // [..., T, d/2]
  const rotatedEven = sub(mul(even, angles.cos), mul(odd, angles.sin));
  const rotatedOdd = add(mul(even, angles.sin), mul(odd, angles.cos));
  return reshape(stack([rotatedEven, rotatedOdd], -1), x.shape); // [..., T, d]
}

/** RoPE as a small stateless module-like object: the options, and the two functions above. */
export class RotaryEmbedding {
  readonly dim: number;
  readonly base: number;
  readonly layout: RopeLayout;

  constructor(opts: RopeOptions) {
    this.dim = opts.dim;
    this.base = opts.base ?? 10000;
    this.layout = opts.layout ?? 'half';
  }

  angles(positions: readonly number[]): RopeAngles {
    return ropeAngles(positions, { dim: this.dim, base: this.base });
  }

  apply(x: Tensor, angles: RopeAngles): Tensor {
    return applyRope(x, angles, this.layout);
  }
}
