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


/**
 * Context-extension rescalings of the RoPE frequencies, as Hugging Face transformers computes them
 * (`modeling_rope_utils.py`, ROPE_INIT_FUNCTIONS); `ropeScalingFromConfig` reads config.json's
 * `rope_scaling` into one of these.
 * - linear (Chen et al. 2023, "position interpolation", arXiv:2306.15595): inv_freq / factor,
 *   i.e. positions / factor.
 * - dynamic (NTK-aware, /u/bloc97 and /u/emozilla 2023): when the sequence is longer than
 *   max_position_embeddings, base *= (factor * seq_len / max_pos - (factor - 1))^(dim / (dim - 2)).
 * - yarn (Peng et al. 2023, arXiv:2309.00071): per channel pair, a linear ramp between the
 *   extrapolated (original) and interpolated (/ factor) frequencies over the correction range of
 *   beta_fast..beta_slow rotations, and cos/sin multiplied by an attention factor (0.1 ln(factor) + 1).
 * - llama3 (Meta's LLaMA 3.1): long wavelengths / factor, short ones kept, a smooth blend between.
 */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'dynamic'; factor: number; maxPositionEmbeddings: number }
  | {
    type: 'yarn'; factor: number; originalMaxPositionEmbeddings: number;
    /** Defaults 32 and 1 (the paper's alpha/beta are HF's beta_fast/beta_slow). */
    betaFast?: number; betaSlow?: number;
    /** Overrides the cos/sin multiplier; default from mscale/mscaleAllDim, else 0.1 ln(factor) + 1. */
    attentionFactor?: number; mscale?: number; mscaleAllDim?: number;
    /** Round the correction range out to whole dimensions (floor / ceil); default true, as transformers. */
    truncate?: boolean;
  }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

export interface RopeOptions {
  /** Channels rotated per head (the head dim for LLaMA). Must be even. */
  dim: number;
  /** rope_theta: 10000 for LLaMA 1/2, 500000 for LLaMA 3, 1e6 for Qwen2. */
  base?: number;
  layout?: RopeLayout;
  /** Frequency rescaling for longer contexts; null or absent is plain RoPE. */
  scaling?: RopeScaling | null;
}

/**
 * The angle table for `positions`: cos and sin, each [T, dim/2] (one angle per channel pair), or
 * [B, T, dim/2] when the rows of a batch sit at different positions (`ropeAnglesPerRow`).
 */
export interface RopeAngles {
  cos: Tensor;
  sin: Tensor;
}

const f32 = Math.fround;

/** 1 / base^(2i/dim) for i < dim/2 in float32, as HF's `_compute_default_rope_parameters`. */
function defaultInvFreq(dim: number, base: number): Float32Array {
  const half = dim / 2;
  const invFreq = new Float32Array(half);
  const b = f32(base);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / f32(b ** f32((2 * i) / dim));
  return invFreq;
}

/**
 * The inverse frequencies and the cos/sin multiplier for a sequence of `seqLen` positions
 * (only 'dynamic' depends on seqLen). Float32 at every step where HF computes on float32 tensors.
 */
export function ropeInvFreq(opts: { dim: number; base?: number; scaling?: RopeScaling | null; seqLen?: number }): { invFreq: Float32Array; attentionFactor: number } {
  const { dim, base = 10000, scaling = null } = opts;
  if (!(Number.isInteger(dim) && dim > 0 && dim % 2 === 0)) fail('rope', `dim must be a positive even integer, got ${dim}`);
  if (!scaling) return { invFreq: defaultInvFreq(dim, base), attentionFactor: 1 };
  const factor = scaling.factor;
  if (!(factor > 0)) fail('rope', `${scaling.type} scaling factor must be positive, got ${factor}`);
  const half = dim / 2;
  switch (scaling.type) {
    case 'linear': {
      const invFreq = defaultInvFreq(dim, base).map((f) => f / f32(factor));
      return { invFreq, attentionFactor: 1 };
    }
    case 'dynamic': {
      const maxPos = scaling.maxPositionEmbeddings;
      const seqLen = opts.seqLen !== undefined && opts.seqLen > maxPos ? opts.seqLen : maxPos;
      // Python floats (double) for the new base, then float32 powers as in the default case
      const scaled = base * ((factor * seqLen) / maxPos - (factor - 1)) ** (dim / (dim - 2));
      return { invFreq: defaultInvFreq(dim, scaled), attentionFactor: 1 };
    }
    case 'yarn': {
      const { originalMaxPositionEmbeddings: maxPos, betaFast = 32, betaSlow = 1, mscale, mscaleAllDim, truncate = true } = scaling;
      const getMscale = (scale: number, m = 1) => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
      const attentionFactor = scaling.attentionFactor
        ?? (mscale && mscaleAllDim ? getMscale(factor, mscale) / getMscale(factor, mscaleAllDim) : getMscale(factor));
      // the channel pair whose wavelength fits `rotations` times into the original context
      const correctionDim = (rotations: number) => (dim * Math.log(maxPos / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
      const low = Math.max(truncate ? Math.floor(correctionDim(betaFast)) : correctionDim(betaFast), 0);
      let high = Math.min(truncate ? Math.ceil(correctionDim(betaSlow)) : correctionDim(betaSlow), dim - 1);
      if (low === high) high += 0.001; // HF: prevent a zero-width ramp
      const b = f32(base);
      const invFreq = new Float32Array(half);
      for (let i = 0; i < half; i++) {
        const posFreq = f32(b ** f32((2 * i) / dim));
        const extrapolated = f32(1 / posFreq);
        const interpolated = f32(1 / f32(f32(factor) * posFreq));
        const ramp = Math.min(Math.max(f32(f32(i - low) / f32(high - low)), 0), 1);
        const extrapolationFactor = f32(1 - ramp); // 1 for high-frequency pairs (few rotations kept as is)
        invFreq[i] = f32(f32(interpolated * f32(1 - extrapolationFactor)) + f32(extrapolated * extrapolationFactor));
      }
      return { invFreq, attentionFactor };
    }
    case 'llama3': {
      const { lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldContext } = scaling;
      const lowFreqWavelen = f32(oldContext / lowFreqFactor);
      const highFreqWavelen = f32(oldContext / highFreqFactor);
      const invFreq = defaultInvFreq(dim, base).map((f) => {
        const wavelen = f32(f32(1 / f) * f32(2 * Math.PI)); // torch: scalar / t = t.reciprocal() * scalar
        if (wavelen < highFreqWavelen) return f; // high frequency: unchanged
        const scaled = f32(f / f32(factor));
        if (wavelen > lowFreqWavelen) return scaled; // low frequency: interpolated
        const smooth = f32(f32(f32(f32(1 / wavelen) * f32(oldContext)) - f32(lowFreqFactor)) / f32(highFreqFactor - lowFreqFactor));
        return f32(f32(f32(f32(1 - smooth) * f) / f32(factor)) + f32(smooth * f)); // medium: blend
      });
      return { invFreq, attentionFactor: 1 };
    }
    default:
      return fail('rope', `unknown rope scaling ${JSON.stringify(scaling)}`);
  }
}

/**
 * cos/sin of positions[t] * inv_freq[i] (inv_freq[i] = 1 / base^(2i/dim), rescaled by
 * `opts.scaling`), as HF computes them: inv_freq in float32 first, then the float32 product, then
 * cos and sin times the scaling's attention factor (so fixtures from PyTorch match exactly).
 * 'dynamic' scaling takes the sequence length as max(positions) + 1, as HF's LlamaRotaryEmbedding
 * does for a forward pass (HF also keeps a grown base across calls; this function is stateless).
 */
export function ropeAngles(positions: readonly number[], opts: RopeOptions): RopeAngles {
  const seqLen = positions.reduce((m, p) => Math.max(m, p + 1), 0);
  const { invFreq, attentionFactor } = ropeInvFreq({ dim: opts.dim, base: opts.base, scaling: opts.scaling, seqLen });
  const half = opts.dim / 2;
  const af = f32(attentionFactor);
  // allocated by the backend (resident for wasm), so fused kernels read them in place
  const cosT = zeros([positions.length, half]);
  const sinT = zeros([positions.length, half]);
  const cos = cosT.storage.data as Float32Array;
  const sin = sinT.storage.data as Float32Array;
  positions.forEach((p, t) => {
    for (let i = 0; i < half; i++) {
      const angle = f32(p * invFreq[i]!);
      cos[t * half + i] = af === 1 ? Math.cos(angle) : f32(Math.cos(angle)) * af;
      sin[t * half + i] = af === 1 ? Math.sin(angle) : f32(Math.sin(angle)) * af;
    }
  });
  return { cos: cosT, sin: sinT };
}

/**
 * Angles [B, T, dim/2] for per-row positions [B, T] (row-major; a padded batch's cumsum(mask) - 1):
 * each row's table is `ropeAngles` of its own positions ('dynamic' scaling included), so a row
 * gets exactly the angles it would get alone.
 */
export function ropeAnglesPerRow(positions: Int32Array, batch: number, opts: RopeOptions): RopeAngles {
  const t = positions.length / batch;
  if (!Number.isInteger(t)) fail('rope', `${positions.length} positions do not split into ${batch} rows`);
  const rows = Array.from({ length: batch }, (_, b) => ropeAngles(Array.from(positions.subarray(b * t, (b + 1) * t)), opts));
  const half = opts.dim / 2;
  const cos = zeros([batch, t, half]);
  const sin = zeros([batch, t, half]);
  rows.forEach((r, b) => {
    (cos.storage.data as Float32Array).set(r.cos.storage.data as Float32Array, b * t * half);
    (sin.storage.data as Float32Array).set(r.sin.storage.data as Float32Array, b * t * half);
    r.cos.dispose();
    r.sin.dispose();
  });
  return { cos, sin };
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
  readonly scaling: RopeScaling | null;

  constructor(opts: RopeOptions) {
    this.dim = opts.dim;
    this.base = opts.base ?? 10000;
    this.layout = opts.layout ?? 'half';
    this.scaling = opts.scaling ?? null;
  }

  angles(positions: readonly number[]): RopeAngles {
    return ropeAngles(positions, { dim: this.dim, base: this.base, scaling: this.scaling });
  }

  /** Per-row angles [B, T, dim/2] for positions [B, T] row-major (a padded batch). */
  anglesPerRow(positions: Int32Array, batch: number): RopeAngles {
    return ropeAnglesPerRow(positions, batch, { dim: this.dim, base: this.base, scaling: this.scaling });
  }

  apply(x: Tensor, angles: RopeAngles): Tensor {
    return applyRope(x, angles, this.layout);
  }
}
