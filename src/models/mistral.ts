/**
 * Mistral 7B (Jiang et al. 2023, arXiv:2310.06825) = LLaMA with sliding-window attention:
 * each token attends to at most `sliding_window` most recent tokens, itself included.
 * Reference implementation: transformers `models/mistral/modeling_mistral.py`.
 */
import { withoutInit } from '../tensor/index.js';
import type { MultiHeadAttentionOptions } from '../nn/index.js';
import type { TensorSource } from '../formats/index.js';
import { LlamaConfig, LlamaForCausalLM } from './llama.js';

export class MistralConfig extends LlamaConfig {
  override model_type = 'mistral';
  /** null disables the window (plain causal attention). */
  sliding_window: number | null = 4096;
  override max_position_embeddings = 32768;
  override num_key_value_heads: number | null = 8;
  override intermediate_size = 14336;
  override rms_norm_eps = 1e-6;
}

export class MistralForCausalLM extends LlamaForCausalLM<MistralConfig> {
  protected override attentionOptions(config: MistralConfig, layer: number): MultiHeadAttentionOptions {
    return { ...super.attentionOptions(config, layer), slidingWindow: config.sliding_window };
  }

  static override fromPretrained(pretrained: { config: Readonly<Record<string, unknown>>; weights: TensorSource }): MistralForCausalLM {
    return withoutInit(() => new MistralForCausalLM(MistralConfig.fromDict(pretrained.config))).loadWeights(pretrained.weights);
  }
}
