/**
 * Qwen2 (Yang et al. 2024, "Qwen2 Technical Report", arXiv:2407.10671) = LLaMA with biases on
 * the q/k/v projections (none on o_proj). Reference implementation: transformers
 * `models/qwen2/modeling_qwen2.py`. Its optional sliding window (`use_sliding_window`, off in
 * the released models) is not implemented: enabling it is an error rather than a silent change.
 */
import { fail, withoutInit } from '../tensor/index.js';
import type { MultiHeadAttentionOptions } from '../nn/index.js';
import type { TensorSource } from '../formats/index.js';
import { LlamaConfig, LlamaForCausalLM } from './llama.js';

export class Qwen2Config extends LlamaConfig {
  override model_type = 'qwen2';
  override vocab_size = 151936;
  override intermediate_size = 22016;
  override rope_theta = 10000;
  use_sliding_window = false;
  sliding_window: number | null = 4096;

  protected override validate(): void {
    super.validate();
    if (this.use_sliding_window) fail('Qwen2Config', 'use_sliding_window is not supported yet');
  }
}

export class Qwen2ForCausalLM extends LlamaForCausalLM<Qwen2Config> {
  protected override attentionOptions(config: Qwen2Config, layer: number): MultiHeadAttentionOptions {
    return { ...super.attentionOptions(config, layer), qkvBias: true, outputBias: false };
  }

  static override fromPretrained(pretrained: { config: Readonly<Record<string, unknown>>; weights: TensorSource }): Qwen2ForCausalLM {
    return withoutInit(() => new Qwen2ForCausalLM(Qwen2Config.fromDict(pretrained.config))).loadWeights(pretrained.weights);
  }
}
