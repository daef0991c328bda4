/**
 * Cross-attention keys/values of an encoder-decoder (T5, the original Transformer): they depend
 * on the encoder output alone, so the first decoder step projects them and every later step
 * reuses them (HF's EncoderDecoderCache cross half). One object per decoder layer.
 */
import { keep, type Tensor } from '../../tensor/index.js';
import type { CrossKVCache } from '../../nn/index.js';

export class CrossAttentionCache implements CrossKVCache {
  keys: Tensor | null = null;
  values: Tensor | null = null;

  store(keys: Tensor, values: Tensor): void {
    this.dispose();
    this.keys = keep(keys.contiguous()); // [B, H, S, D], kept across the decode steps' tidy scopes
    this.values = keep(values.contiguous());
  }

  get nbytes(): number {
    return ((this.keys?.size ?? 0) + (this.values?.size ?? 0)) * 4;
  }

  dispose(): void {
    this.keys?.dispose();
    this.values?.dispose();
    this.keys = null;
    this.values = null;
  }
}
