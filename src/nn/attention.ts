/**
 * Multi-head attention (Vaswani et al. 2017, sec. 3.2.2) with grouped key/value heads
 * (Ainslie et al. 2023, "GQA", arXiv:2305.13245; MQA is numKeyValueHeads = 1, Shazeer 2019),
 * causal, bidirectional or sliding-window masks (Mistral 7B, Jiang et al. 2023), and optional
 * rotary position embedding. Masking and KV-head grouping are done by ops/attention.ts. Small functions, composed by the `MultiHeadAttention` module whose
 * parameter names follow Hugging Face LLaMA (`q_proj`, `k_proj`, `v_proj`, `o_proj`).
 */
import { fail, permute, reshape, Generator, type Tensor } from '../tensor/index.js';
import { Dropout } from './dropout.js';
import { Linear, linearLayers } from './layers.js';
import { attentionWithCache, type LayerKVCache } from './kv-cache.js';
import type { BatchPadding } from './padding.js';
import { Module } from './module.js';
import type { RopeAngles, RotaryEmbedding } from './rope.js';

/** [B, T, nh * hd] -> [B, nh, T, hd]. */
export function splitHeads(x: Tensor, numHeads: number): Tensor {
  const [b, t, width] = x.shape as [number, number, number];
  if (width % numHeads !== 0) fail('splitHeads', `width ${width} is not divisible by ${numHeads} heads`);
  return permute(reshape(x, [b, t, numHeads, width / numHeads]), [0, 2, 1, 3]); // [B, nh, T, hd]
}

/** [B, nh, T, hd] -> [B, T, nh * hd]. */
export function mergeHeads(x: Tensor): Tensor {
  const [b, nh, t, hd] = x.shape as [number, number, number, number];
  return reshape(permute(x, [0, 2, 1, 3]), [b, t, nh * hd]); // [B, T, nh * hd]
}

export type AttentionKind = 'causal' | 'bidirectional';

export interface MultiHeadAttentionOptions {
  hiddenSize: number;
  numHeads: number;
  /** Key/value heads: numHeads for MHA, 1 for MQA, a divisor of numHeads for GQA. */
  numKeyValueHeads?: number;
  /** Defaults to hiddenSize / numHeads. */
  headDim?: number;
  kind?: AttentionKind;
  slidingWindow?: number | null;
  /** Bias on q/k/v projections (Qwen2: true; LLaMA: attention_bias, default false). */
  qkvBias?: boolean;
  outputBias?: boolean;
  rope?: RotaryEmbedding | null;
  /** Dropout on the attention weights in training mode (LLaMA's attention_dropout); default 0. */
  attentionDropout?: number;
  generator?: Generator;
}

/** x [B, T, D] -> [B, T, D]: project, split heads, rotate, attend (GQA by repeat_kv), merge, project. */
export class MultiHeadAttention extends Module {
  readonly qProj: Linear;
  readonly kProj: Linear;
  readonly vProj: Linear;
  readonly oProj: Linear;
  readonly numHeads: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly kind: AttentionKind;
  readonly slidingWindow: number | null;
  readonly rope: RotaryEmbedding | null;
  readonly attnDropout: Dropout;

  constructor(opts: MultiHeadAttentionOptions) {
    super();
    const { hiddenSize, numHeads } = opts;
    this.numHeads = numHeads;
    this.numKeyValueHeads = opts.numKeyValueHeads ?? numHeads;
    this.headDim = opts.headDim ?? hiddenSize / numHeads;
    if (!Number.isInteger(this.headDim)) fail('MultiHeadAttention', `hiddenSize ${hiddenSize} is not divisible by ${numHeads} heads`);
    if (numHeads % this.numKeyValueHeads !== 0) fail('MultiHeadAttention', `${numHeads} query heads cannot be grouped over ${this.numKeyValueHeads} key/value heads`);
    if (opts.slidingWindow && opts.kind === 'bidirectional') fail('MultiHeadAttention', 'a sliding window needs causal attention');
    this.kind = opts.kind ?? 'causal';
    this.slidingWindow = opts.slidingWindow ?? null;
    this.rope = opts.rope ?? null;
    const g = opts.generator ? { generator: opts.generator } : {};
    const qkvBias = opts.qkvBias ?? false;
    this.qProj = this.module('q_proj', new Linear(hiddenSize, numHeads * this.headDim, { bias: qkvBias, ...g }));
    this.kProj = this.module('k_proj', new Linear(hiddenSize, this.numKeyValueHeads * this.headDim, { bias: qkvBias, ...g }));
    this.vProj = this.module('v_proj', new Linear(hiddenSize, this.numKeyValueHeads * this.headDim, { bias: qkvBias, ...g }));
    this.oProj = this.module('o_proj', new Linear(numHeads * this.headDim, hiddenSize, { bias: opts.outputBias ?? false, ...g }));
    this.attnDropout = this.module('attn_dropout', new Dropout(opts.attentionDropout ?? 0));
  }

  /**
   * `angles` are the RoPE angles of the T positions (required when the module has rope and the
   * batch is padded: [B, T, hd/2] per row); with a `cache`, the T tokens are stored in it and
   * attend to everything it keeps; `padding` masks a padded batch's padded keys.
   */
  forward(x: Tensor, opts: { angles?: RopeAngles; cache?: LayerKVCache; padding?: BatchPadding | null } = {}): Tensor {
    const t = x.shape[1]!;
    const [qx, kx, vx] = linearLayers(x, [this.qProj, this.kProj, this.vProj]) as [Tensor, Tensor, Tensor]; // [B, T, width]
    let q = splitHeads(qx, this.numHeads); // [B, nh, T, hd]
    let k = splitHeads(kx, this.numKeyValueHeads); // [B, nkv, T, hd]
    const v = splitHeads(vx, this.numKeyValueHeads); // [B, nkv, T, hd]
    if (this.rope) {
      if (!opts.angles && opts.padding) fail('MultiHeadAttention', 'a padded batch needs the per-row RoPE angles of its positions');
      const start = opts.cache?.offset ?? 0;
      const angles = opts.angles ?? this.rope.angles(Array.from({ length: t }, (_, i) => start + i));
      q = this.rope.apply(q, angles);
      k = this.rope.apply(k, angles);
    }
    // GQA/MQA and the masks are handled inside the op (a fused kernel when the backend has one)
    const attn = attentionWithCache(q, k, v, opts.cache, {
      causal: this.kind === 'causal', window: this.slidingWindow ?? 0, dropout: this.attnDropout.rate, generator: this.attnDropout.generator,
      padding: opts.padding ?? null,
    }); // [B, nh, T, hd]
    return this.oProj.forward(mergeHeads(attn)); // [B, T, D]
  }
}
