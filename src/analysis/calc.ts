/**
 * Back-of-the-envelope calculators from a config alone (no weights): parameter counts with a
 * breakdown by component, and KV-cache bytes. For the families in src/models the parameter
 * count equals the instantiated model's exactly (tests/analysis/calc.test.ts checks it).
 */
import { bytesPerElement, fail, type DType } from '../tensor/index.js';
import { GPT2Config, LlamaConfig } from '../models/index.js';

export interface ParamBreakdown {
  /** Token (and learned position) embeddings. */
  embeddings: number;
  /** q/k/v/o projections with their biases. */
  attention: number;
  /** Feed-forward weights and biases. */
  ffn: number;
  /** Norm weights (and biases). */
  norms: number;
  /** The output projection; 0 when tied to the token embeddings. */
  head: number;
  total: number;
}

function withTotal(b: Omit<ParamBreakdown, 'total'>): ParamBreakdown {
  return { ...b, total: b.embeddings + b.attention + b.ffn + b.norms + b.head };
}

/** GPT-2: wte + wpe, Conv1D c_attn/c_proj and c_fc/c_proj with biases, two LayerNorms per block + ln_f. */
export function gpt2ParamCount(c: GPT2Config): ParamBreakdown {
  const d = c.n_embd;
  const inner = c.n_inner ?? 4 * d;
  const perLayerAttention = d * 3 * d + 3 * d + d * d + d;
  const perLayerFfn = d * inner + inner + inner * d + d;
  return withTotal({
    embeddings: c.vocab_size * d + c.n_positions * d,
    attention: c.n_layer * perLayerAttention,
    ffn: c.n_layer * perLayerFfn,
    norms: c.n_layer * 2 * (2 * d) + 2 * d,
    head: c.tie_word_embeddings ? 0 : c.vocab_size * d,
  });
}

export interface DecoderBiases {
  /** Biases on q/k/v (Qwen2: true; LLaMA: attention_bias). */
  qkvBias?: boolean;
  /** Bias on o_proj (LLaMA: attention_bias). */
  outputBias?: boolean;
}

/**
 * LLaMA-family decoders (LLaMA, Mistral, Qwen2): embeddings, GQA projections, SwiGLU MLP (3
 * matrices), two RMSNorms per layer + the final one, untied or tied head. The biases default to
 * the family's (`model_type` 'qwen2': q/k/v biases; otherwise attention_bias on all four).
 */
export function llamaParamCount(c: LlamaConfig, biases: DecoderBiases = {}): ParamBreakdown {
  const d = c.hidden_size;
  const hd = c.headDim;
  const q = c.num_attention_heads * hd;
  const kv = c.numKeyValueHeads * hd;
  const qkvBias = biases.qkvBias ?? (c.model_type === 'qwen2' ? true : c.attention_bias);
  const outputBias = biases.outputBias ?? (c.model_type === 'qwen2' ? false : c.attention_bias);
  const perLayerAttention = d * q + 2 * d * kv + q * d + (qkvBias ? q + 2 * kv : 0) + (outputBias ? d : 0);
  return withTotal({
    embeddings: c.vocab_size * d,
    attention: c.num_hidden_layers * perLayerAttention,
    ffn: c.num_hidden_layers * 3 * d * c.intermediate_size,
    norms: c.num_hidden_layers * 2 * d + d,
    head: c.tie_word_embeddings ? 0 : c.vocab_size * d,
  });
}

export interface KvCacheOptions {
  numLayers: number;
  numKeyValueHeads: number;
  headDim: number;
  /** Cached positions per sequence. */
  tokens: number;
  /** Element type of the cache (default float16). */
  dtype?: DType;
  /** Sequences held at once (default 1). */
  batch?: number;
}

/** Bytes of a K and V cache: 2 x layers x kv heads x head dim x tokens x batch x bytes per element. */
export function kvCacheBytes(o: KvCacheOptions): number {
  const { numLayers, numKeyValueHeads, headDim, tokens, dtype = 'float16', batch = 1 } = o;
  if (dtype === 'int8') fail('kvCacheBytes', 'int8 caches carry per-block scales; give a float dtype');
  return 2 * numLayers * numKeyValueHeads * headDim * tokens * batch * bytesPerElement(dtype);
}

/** KV-cache bytes for a model config (GPT-2 or a LLaMA-family config). */
export function kvCacheBytesFor(c: GPT2Config | LlamaConfig, o: { tokens: number; dtype?: DType; batch?: number }): number {
  if (c instanceof GPT2Config) return kvCacheBytes({ numLayers: c.n_layer, numKeyValueHeads: c.n_head, headDim: c.n_embd / c.n_head, ...o });
  return kvCacheBytes({ numLayers: c.num_hidden_layers, numKeyValueHeads: c.numKeyValueHeads, headDim: c.headDim, ...o });
}
