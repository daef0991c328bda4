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
import { fail, zeros, type Tensor } from '../tensor/index.js';
import { rope, type RopeLayout } from '../ops/index.js';


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
  // allocated by the backend (resident for wasm), so fused kernels read them in place
  const cosT = zeros([positions.length, half]);
  const sinT = zeros([positions.length, half]);
  const cos = cosT.storage.data as Float32Array;
  const sin = sinT.storage.data as Float32Array;
  positions.forEach((p, t) => {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * invFreq[i]!);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  });
  return { cos: cosT, sin: sinT };
}

/**
 * Rotates x [..., T, dim] by the angles of its T positions (angles [T, dim/2]); see ops/rope.ts.
 * Works on [B, nh, T, hd] queries and keys; the angle table broadcasts over batch and heads.
 */
export function applyRope(x: Tensor, angles: RopeAngles, layout: RopeLayout = 'half'): Tensor {
  return rope(x, angles.cos, angles.sin, layout);
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
