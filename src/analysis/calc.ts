/**
 * Back-of-the-envelope calculators from a config alone (no weights): parameter counts with a
 * breakdown by component, forward and training FLOPs, and KV-cache bytes. For the families in
 * src/models the parameter count equals the instantiated model's exactly
 * (tests/analysis/calc.test.ts checks it); BERT, T5 and the original Transformer follow the
 * Hugging Face / paper architectures and are checked against their published counts.
 *
 * FLOP convention: a multiply-add is 2 FLOPs; only matrix products are counted (biases, norms,
 * activations, softmax and embedding lookups are left out: they are O(d) per token against the
 * O(d^2) of the projections). Training = 3 x forward (the backward pass costs two matmuls per
 * forward matmul: gradients w.r.t. inputs and w.r.t. weights), the usual 6N-per-token rule.
 */
import { bytesPerElement, fail, type DType } from '../tensor/index.js';
import {
  BertConfig, GPT2Config, LlamaConfig, MistralConfig, Qwen2Config, T5Config, TransformerConfig, requirePositiveInt,
} from '../models/index.js';

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

/**
 * GPT-2: wte + wpe, Conv1D c_attn/c_proj and c_fc/c_proj with biases, two LayerNorms per block + ln_f.
 * attn's variants: wpe only with learned positions, ln_f only with pre-norm.
 */
export function gpt2ParamCount(c: GPT2Config): ParamBreakdown {
  const d = c.n_embd;
  const inner = c.n_inner ?? 4 * d;
  const perLayerAttention = d * 3 * d + 3 * d + d * d + d;
  const perLayerFfn = d * inner + inner + inner * d + d;
  return withTotal({
    embeddings: c.vocab_size * d + (c.position_embedding_type === 'learned' ? c.n_positions * d : 0),
    attention: c.n_layer * perLayerAttention,
    ffn: c.n_layer * perLayerFfn,
    norms: c.n_layer * 2 * (2 * d) + (c.norm_position === 'pre' ? 2 * d : 0),
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

/**
 * Bytes of a K and V cache: 2 x layers x kv heads x tokens x batch x (head dim x bytes per element).
 * int8 caches are symmetric per-vector quantised: each cached K or V vector of one head at one
 * position (headDim int8 values) carries one float32 scale, so a vector costs headDim + 4 bytes.
 */
export function kvCacheBytes(o: KvCacheOptions): number {
  const { numLayers, numKeyValueHeads, headDim, tokens, dtype = 'float16', batch = 1 } = o;
  const perVector = dtype === 'int8' ? headDim + 4
    : dtype === 'float16' || dtype === 'bfloat16' || dtype === 'float32' || dtype === 'float64' ? headDim * bytesPerElement(dtype)
    : fail('kvCacheBytes', `a KV cache holds float32, float16, bfloat16 or int8, not ${dtype}`);
  return 2 * numLayers * numKeyValueHeads * tokens * batch * perVector;
}

/** KV-cache bytes for a model config (GPT-2 or a LLaMA-family config). */
export function kvCacheBytesFor(c: GPT2Config | LlamaConfig, o: { tokens: number; dtype?: DType; batch?: number }): number {
  if (c instanceof GPT2Config) return kvCacheBytes({ numLayers: c.n_layer, numKeyValueHeads: c.n_head, headDim: c.n_embd / c.n_head, ...o });
  return kvCacheBytes({ numLayers: c.num_hidden_layers, numKeyValueHeads: c.numKeyValueHeads, headDim: c.headDim, ...o });
}

/** BERT (BertModel, the "110M" figure): embeddings + LayerNorm, 12 post-norm layers, pooler as the head. */
export function bertParamCount(c: BertConfig): ParamBreakdown {
  const d = c.hidden_size;
  return withTotal({
    embeddings: (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * d,
    attention: c.num_hidden_layers * 4 * (d * d + d),
    ffn: c.num_hidden_layers * (2 * d * c.intermediate_size + c.intermediate_size + d),
    norms: 2 * d + c.num_hidden_layers * 2 * (2 * d),
    head: d * d + d,
  });
}

/**
 * T5ForConditionalGeneration: one shared embedding; per layer q/k/v/o without biases (inner width
 * num_heads x d_kv), plus cross-attention in the decoder; relative-position bias tables
 * (buckets x heads) in the first layer of each stack, counted as attention; RMS norm weights
 * (2 per encoder layer, 3 per decoder layer, one final per stack); lm_head only when untied.
 */
export function t5ParamCount(c: T5Config): ParamBreakdown {
  const d = c.d_model;
  const inner = c.num_heads * c.d_kv;
  const attn = 4 * d * inner;
  const ffn = (c.feedForward().gated ? 3 : 2) * d * c.d_ff;
  const bias = c.relative_attention_num_buckets * c.num_heads;
  const enc = c.num_layers;
  const dec = c.decoderLayers;
  return withTotal({
    embeddings: c.vocab_size * d,
    attention: enc * attn + bias + dec * 2 * attn + bias,
    ffn: (enc + dec) * ffn,
    norms: (2 * enc + 1 + 3 * dec + 1) * d,
    head: c.tie_word_embeddings ? 0 : c.vocab_size * d,
  });
}

/**
 * The original Transformer as attn builds it (torch.nn.Transformer's layout, models/transformer.ts):
 * one embedding shared by source, target and the tied output projection; sinusoidal positions
 * (no parameters); biases on every projection; post-norm with two LayerNorms per encoder layer,
 * three per decoder layer, and a final LayerNorm on each stack (as nn.Transformer has).
 */
export function transformerParamCount(c: TransformerConfig): ParamBreakdown {
  const d = c.d_model;
  const attn = 4 * (d * d + d);
  const ffn = 2 * d * c.dim_feedforward + c.dim_feedforward + d;
  return withTotal({
    embeddings: c.vocab_size * d,
    attention: c.num_encoder_layers * attn + c.num_decoder_layers * 2 * attn,
    ffn: (c.num_encoder_layers + c.num_decoder_layers) * ffn,
    norms: (c.num_encoder_layers * 2 + c.num_decoder_layers * 3 + 2) * 2 * d,
    head: 0,
  });
}

// ---------------------------------------------------------------------------------------------
// One description per stack, from which FLOPs and KV bytes follow for every family.

/** One stack of identical layers, as far as FLOPs and KV caches are concerned. */
export interface StackShape {
  layers: number;
  dModel: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Weight matrices of the feed-forward block (2: up/down; 3: SwiGLU / gated-GELU) and its width. */
  ffnMatrices: number;
  ffnDim: number;
  /** 'causal': position t attends to 1..t (or its last `window`); 'bidirectional': to all. */
  mask: 'causal' | 'bidirectional';
  window: number | null;
  /** Decoder layers of an encoder-decoder: cross-attention to every encoder position. */
  crossAttention: boolean;
}

export type CalcFamily = 'gpt2' | 'llama' | 'bert' | 't5' | 'transformer';

export interface ModelShape {
  family: CalcFamily;
  modelType: string;
  params: ParamBreakdown;
  /** Encoder (if any) then decoder (if any). */
  encoder: StackShape | null;
  decoder: StackShape | null;
  vocabSize: number;
  /** Output-projection width applied per decoder token (vocab), or the pooler's (BERT, once per sequence). */
  head: { perToken: number; perSequence: number };
}

/** Reads a config.json dictionary (any family the calculator knows, by model_type) into a ModelShape. */
export function modelShape(config: Readonly<Record<string, unknown>>): ModelShape {
  const type = config['model_type'];
  switch (type) {
    case 'gpt2': {
      const c = GPT2Config.fromDict(config);
      const d = c.n_embd;
      return {
        family: 'gpt2', modelType: type, params: gpt2ParamCount(c), encoder: null, vocabSize: c.vocab_size,
        decoder: { layers: c.n_layer, dModel: d, heads: c.n_head, kvHeads: c.n_head, headDim: d / c.n_head, ffnMatrices: 2, ffnDim: c.n_inner ?? 4 * d, mask: 'causal', window: null, crossAttention: false },
        head: { perToken: d * c.vocab_size, perSequence: 0 },
      };
    }
    case 'llama': case 'mistral': case 'qwen2': {
      const c = type === 'mistral' ? MistralConfig.fromDict(config) : type === 'qwen2' ? Qwen2Config.fromDict(config) : LlamaConfig.fromDict(config);
      const window = c instanceof MistralConfig ? c.sliding_window : null;
      return {
        family: 'llama', modelType: type, params: llamaParamCount(c), encoder: null, vocabSize: c.vocab_size,
        decoder: { layers: c.num_hidden_layers, dModel: c.hidden_size, heads: c.num_attention_heads, kvHeads: c.numKeyValueHeads, headDim: c.headDim, ffnMatrices: 3, ffnDim: c.intermediate_size, mask: 'causal', window, crossAttention: false },
        head: { perToken: c.hidden_size * c.vocab_size, perSequence: 0 },
      };
    }
    case 'bert': {
      const c = BertConfig.fromDict(config);
      const d = c.hidden_size;
      return {
        family: 'bert', modelType: type, params: bertParamCount(c), decoder: null, vocabSize: c.vocab_size,
        encoder: { layers: c.num_hidden_layers, dModel: d, heads: c.num_attention_heads, kvHeads: c.num_attention_heads, headDim: d / c.num_attention_heads, ffnMatrices: 2, ffnDim: c.intermediate_size, mask: 'bidirectional', window: null, crossAttention: false },
        head: { perToken: 0, perSequence: d * d },
      };
    }
    case 't5': {
      const c = T5Config.fromDict(config);
      const stack = { dModel: c.d_model, heads: c.num_heads, kvHeads: c.num_heads, headDim: c.d_kv, ffnMatrices: c.feedForward().gated ? 3 : 2, ffnDim: c.d_ff, window: null };
      return {
        family: 't5', modelType: type, params: t5ParamCount(c), vocabSize: c.vocab_size,
        encoder: { ...stack, layers: c.num_layers, mask: 'bidirectional', crossAttention: false },
        decoder: { ...stack, layers: c.decoderLayers, mask: 'causal', crossAttention: true },
        head: { perToken: c.d_model * c.vocab_size, perSequence: 0 },
      };
    }
    case 'transformer': {
      const c = TransformerConfig.fromDict(config);
      const d = c.d_model;
      const stack = { dModel: d, heads: c.nhead, kvHeads: c.nhead, headDim: d / c.nhead, ffnMatrices: 2, ffnDim: c.dim_feedforward, window: null };
      return {
        family: 'transformer', modelType: type, params: transformerParamCount(c), vocabSize: c.vocab_size,
        encoder: { ...stack, layers: c.num_encoder_layers, mask: 'bidirectional', crossAttention: false },
        decoder: { ...stack, layers: c.num_decoder_layers, mask: 'causal', crossAttention: true },
        head: { perToken: d * c.vocab_size, perSequence: 0 },
      };
    }
    default:
      return fail('modelShape', `model_type ${JSON.stringify(type)} is not known to the calculator (gpt2, llama, mistral, qwen2, bert, t5, transformer)`);
  }
}

/** (query, key) pairs a mask lets through in a sequence of `seq` positions. */
export function attendedPairs(seq: number, mask: 'causal' | 'bidirectional', window: number | null = null): number {
  if (mask === 'bidirectional') return seq * seq;
  if (window === null || window >= seq) return (seq * (seq + 1)) / 2;
  // positions 1..window attend to 1..t keys; the rest to exactly `window`
  return (window * (window + 1)) / 2 + (seq - window) * window;
}

export interface ForwardFlops {
  /** Sequence length and batch the figures are for. */
  seq: number;
  batch: number;
  /** Weight matmuls: q/k/v/o, cross-attention, FFN, output head (and BERT's pooler). */
  matmul: number;
  /** Attention scores Q K^T: 2 x heads x head dim per attended (query, key) pair. */
  attentionScores: number;
  /** Attention-weighted values A V: the same count as the scores. */
  attentionValues: number;
  total: number;
  /** total / (seq x batch). */
  perToken: number;
  /** Weight-matmul FLOPs per token (2 x the parameters a token multiplies, independent of seq). */
  matmulPerToken: number;
  /** Forward + backward, counted as 3 x forward. */
  training: number;
}

function stackMatmulPerToken(s: StackShape): number {
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const self = s.dModel * q + 2 * s.dModel * kv + q * s.dModel;
  // cross-attention: q and o per decoder token, k and v per encoder token (seq source = seq target)
  const cross = s.crossAttention ? 2 * s.dModel * q + 2 * s.dModel * kv : 0;
  return 2 * s.layers * (self + cross + s.ffnMatrices * s.dModel * s.ffnDim);
}

/**
 * Forward FLOPs of `batch` sequences of `seq` tokens. Encoder-decoders take `seq` source and `seq`
 * target tokens (a "token" is one of each). Attention counts the pairs the mask admits: T(T+1)/2
 * for causal self-attention (fewer with a sliding window), T^2 for bidirectional and for
 * cross-attention.
 */
export function forwardFlops(shape: ModelShape, o: { seq: number; batch?: number }): ForwardFlops {
  const { seq, batch = 1 } = o;
  requirePositiveInt('forwardFlops', 'seq', seq);
  requirePositiveInt('forwardFlops', 'batch', batch);
  let matmulPerToken = 2 * shape.head.perToken;
  let pairsTimesWidth = 0;
  for (const s of [shape.encoder, shape.decoder]) {
    if (!s) continue;
    matmulPerToken += stackMatmulPerToken(s);
    const width = s.heads * s.headDim;
    pairsTimesWidth += s.layers * width * (attendedPairs(seq, s.mask, s.window) + (s.crossAttention ? seq * seq : 0));
  }
  const matmul = batch * (seq * matmulPerToken + 2 * shape.head.perSequence);
  const attentionScores = batch * 2 * pairsTimesWidth;
  const attentionValues = attentionScores;
  const total = matmul + attentionScores + attentionValues;
  return { seq, batch, matmul, attentionScores, attentionValues, total, perToken: total / (seq * batch), matmulPerToken, training: 3 * total };
}

export interface KvCacheReport {
  bytes: number;
  dtype: DType;
  /** Positions held per sequence by the self-attention cache (min(seq, sliding_window) for Mistral's rolling buffer). */
  selfTokens: number;
  /** Encoder positions held by the cross-attention cache (encoder-decoders; else 0). */
  crossTokens: number;
}

/**
 * KV-cache bytes for generating `seq` tokens in each of `batch` sequences. Decoder-only: one K and
 * one V per layer, KV head and cached position; with a sliding window the cache is a rolling buffer
 * of `window` positions (Mistral's). Encoder-decoders add the cross-attention K/V of `seq` encoder
 * positions per decoder layer. Encoder-only models (BERT) generate nothing and have no cache: null.
 */
export function kvCacheFor(shape: ModelShape, o: { seq: number; batch?: number; dtype?: DType }): KvCacheReport | null {
  const d = shape.decoder;
  if (!d) return null;
  const { seq, batch = 1, dtype = 'float16' } = o;
  const selfTokens = d.window === null ? seq : Math.min(seq, d.window);
  const crossTokens = d.crossAttention ? seq : 0;
  const per = (tokens: number) => kvCacheBytes({ numLayers: d.layers, numKeyValueHeads: d.kvHeads, headDim: d.headDim, tokens, dtype, batch });
  return { bytes: per(selfTokens) + per(crossTokens), dtype, selfTokens, crossTokens };
}

export interface CalcReport {
  modelType: string;
  family: CalcFamily;
  params: ParamBreakdown;
  flops: ForwardFlops;
  kvCache: KvCacheReport | null;
}

/** Everything `attn calc` prints, for a config.json dictionary (or a preset's). */
export function calcModel(config: Readonly<Record<string, unknown>>, o: { seq: number; batch?: number; dtype?: DType }): CalcReport {
  const shape = modelShape(config);
  return { modelType: shape.modelType, family: shape.family, params: shape.params, flops: forwardFlops(shape, o), kvCache: kvCacheFor(shape, o) };
}
