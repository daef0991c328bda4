/**
 * Named configurations practitioners reason about, as Hugging Face-style `config.json`
 * dictionaries (each family's own field names), so the calculators in src/analysis and
 * `attn calc --preset NAME` read them exactly as they read a downloaded folder's config.json.
 *
 * The original Transformer (Vaswani et al. 2017) has no Hugging Face family of its own; its preset
 * uses torch.nn.Transformer's argument names (`d_model`, `nhead`, `num_encoder_layers`, ...) with
 * `model_type: 'transformer'`, as models/transformer.ts reads them.
 */

export interface Preset {
  /** One line: what the configuration is and where its numbers come from. */
  description: string;
  config: Readonly<Record<string, unknown>>;
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  'transformer-base': {
    description: 'original Transformer base (Vaswani et al. 2017): 6+6 layers, d 512, 8 heads, d_ff 2048, shared 32000 vocabulary, sinusoidal positions, post-norm (torch.nn.Transformer field names, as models/transformer.ts)',
    config: {
      model_type: 'transformer', vocab_size: 32000, d_model: 512, nhead: 8, num_encoder_layers: 6, num_decoder_layers: 6,
      dim_feedforward: 2048,
    },
  },
  'bert-base': {
    description: 'bert-base-uncased (Devlin et al. 2018): 12 layers, d 768, 12 heads, ff 3072, vocab 30522, 512 positions, 2 token types, with pooler',
    config: {
      model_type: 'bert', vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12,
      intermediate_size: 3072, hidden_act: 'gelu', max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12,
    },
  },
  gpt2: {
    description: 'GPT-2 small, 124M (Radford et al. 2019): 12 layers, d 768, 12 heads, vocab 50257, 1024 positions, tied head',
    config: { model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12, n_inner: null, activation_function: 'gelu_new' },
  },
  'gpt2-medium': {
    description: 'GPT-2 medium, 355M: 24 layers, d 1024, 16 heads, vocab 50257, 1024 positions, tied head',
    config: { model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 1024, n_layer: 24, n_head: 16, n_inner: null, activation_function: 'gelu_new' },
  },
  'llama-7b': {
    description: 'LLaMA 7B (Touvron et al. 2023): 32 layers, d 4096, 32 heads, SwiGLU ff 11008, vocab 32000, untied head',
    config: {
      model_type: 'llama', vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32,
      num_attention_heads: 32, num_key_value_heads: 32, max_position_embeddings: 2048, rms_norm_eps: 1e-6, tie_word_embeddings: false,
    },
  },
  'llama-2-70b': {
    description: 'Llama 2 70B: 80 layers, d 8192, 64 heads, 8 KV heads (GQA), SwiGLU ff 28672, vocab 32000, untied head',
    config: {
      model_type: 'llama', vocab_size: 32000, hidden_size: 8192, intermediate_size: 28672, num_hidden_layers: 80,
      num_attention_heads: 64, num_key_value_heads: 8, max_position_embeddings: 4096, rms_norm_eps: 1e-5, tie_word_embeddings: false,
    },
  },
  'mistral-7b': {
    description: 'Mistral 7B v0.1 (Jiang et al. 2023): 32 layers, d 4096, 32 heads, 8 KV heads, ff 14336, vocab 32000, sliding window 4096',
    config: {
      model_type: 'mistral', vocab_size: 32000, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32,
      num_attention_heads: 32, num_key_value_heads: 8, max_position_embeddings: 32768, sliding_window: 4096, rms_norm_eps: 1e-5,
      rope_theta: 10000, tie_word_embeddings: false,
    },
  },
  't5-small': {
    description: 't5-small (Raffel et al. 2019): 6+6 layers, d_model 512, d_kv 64, 8 heads, d_ff 2048 (ReLU), vocab 32128, 32 relative-attention buckets, tied',
    config: {
      model_type: 't5', vocab_size: 32128, d_model: 512, d_kv: 64, d_ff: 2048, num_layers: 6, num_decoder_layers: 6,
      num_heads: 8, relative_attention_num_buckets: 32, relative_attention_max_distance: 128, feed_forward_proj: 'relu',
      tie_word_embeddings: true,
    },
  },
};
