/**
 * LLaMA (Touvron et al. 2023, "LLaMA: Open and Efficient Foundation Language Models",
 * arXiv:2302.13971; LLaMA 2, arXiv:2307.09288, adds grouped-query attention).
 * Reference implementation: Hugging Face transformers `models/llama/modeling_llama.py`
 * (LlamaForCausalLM); cf. mlx-lm `models/llama.py` and candle `llama.rs`.
 *
 * A decoder-only transformer: no learned positions, rotary embeddings on queries and keys
 * (HF's rotate_half layout), pre-RMSNorm blocks, SwiGLU feed-forward (Shazeer 2020):
 *   h = x + o_proj(attn(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))),  n = input_layernorm(x)
 *   y = h + down_proj(silu(gate_proj(m)) * up_proj(m)),                 m = post_attention_layernorm(h)
 *   logits = lm_head(norm(y))
 * Variants override small hooks instead of copying: Mistral (`mistral.ts`) adds a sliding
 * window, Qwen2 (`qwen2.ts`) adds biases on q/k/v.
 */
import { add, fail, matmul, Generator, type Tensor, withoutInit } from '../tensor/index.js';
import { swiglu } from '../ops/index.js';
import {
  Embedding, Linear, linearLayers, Module, ModuleList, MultiHeadAttention, RMSNorm, RotaryEmbedding, cacheOffset, keepLast, layerCache, named,
  paddedPositions, readAttentionMask, shareDropoutGenerator, type CachedForwardOptions, type LayerKVCache, type ModelKVCache,
  type MultiHeadAttentionOptions, type BatchPadding, type RopeAngles, type RopeScaling,
} from '../nn/index.js';
import type { TensorSource } from '../formats/index.js';
import { assignKnown, configToDict, requirePositiveInt, requireProbability, ropeScalingFromConfig } from './config.js';
import { loadWeights } from './weights.js';

/** LlamaConfig with config.json field names; defaults are transformers' LlamaConfig (LLaMA-7B). */
export class LlamaConfig {
  model_type = 'llama';
  vocab_size = 32000;
  hidden_size = 4096;
  intermediate_size = 11008;
  num_hidden_layers = 32;
  num_attention_heads = 32;
  /** null means num_attention_heads (multi-head attention). */
  num_key_value_heads: number | null = null;
  /** null means hidden_size / num_attention_heads. */
  head_dim: number | null = null;
  hidden_act = 'silu';
  max_position_embeddings = 2048;
  rms_norm_eps = 1e-6;
  rope_theta = 10000;
  /** {rope_type (or type): linear | dynamic | yarn | llama3, factor, ...}; see ropeScalingFromConfig. */
  rope_scaling: unknown = null;
  attention_bias = false;
  /** Dropout on the attention weights in training mode (the only dropout LLaMA has). */
  attention_dropout = 0;
  mlp_bias = false;
  tie_word_embeddings = false;
  initializer_range = 0.02;

  /** Reads a config.json dictionary, ignoring unknown keys; subclasses inherit it (`MistralConfig.fromDict`). */
  static fromDict<C extends LlamaConfig>(this: new () => C, dict: Readonly<Record<string, unknown>>): C {
    const c = assignKnown(new this(), dict, this.name);
    c.validate();
    return c;
  }

  /** config.json fields (fromDict(toDict()) gives an equal config); subclasses' fields included. */
  toDict(): Record<string, unknown> {
    return configToDict(this);
  }

  get numKeyValueHeads(): number {
    return this.num_key_value_heads ?? this.num_attention_heads;
  }

  get headDim(): number {
    return this.head_dim ?? this.hidden_size / this.num_attention_heads;
  }

  /** rope_scaling read into a RopeScaling (null: plain RoPE). */
  get ropeScaling(): RopeScaling | null {
    return ropeScalingFromConfig(this.constructor.name, this.rope_scaling, this.max_position_embeddings);
  }

  protected validate(): void {
    const what = this.constructor.name;
    for (const f of ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads'] as const) requirePositiveInt(what, f, this[f]);
    if (!Number.isInteger(this.headDim)) fail(what, `hidden_size ${this.hidden_size} is not divisible by num_attention_heads ${this.num_attention_heads}`);
    if (this.num_attention_heads % this.numKeyValueHeads !== 0) fail(what, `num_attention_heads ${this.num_attention_heads} is not a multiple of num_key_value_heads ${this.numKeyValueHeads}`);
    if (this.hidden_act !== 'silu') fail(what, `hidden_act '${this.hidden_act}' is not supported (only 'silu')`);
    requirePositiveInt(what, 'max_position_embeddings', this.max_position_embeddings);
    requireProbability(what, 'attention_dropout', this.attention_dropout);
    void this.ropeScaling; // parses, and so validates, rope_scaling
    if (this.mlp_bias) fail(what, 'mlp_bias is not supported yet');
  }
}

/** SwiGLU feed-forward: down_proj(silu(gate_proj(x)) * up_proj(x)). */
export class LlamaMLP extends Module {
  readonly gateProj: Linear;
  readonly upProj: Linear;
  readonly downProj: Linear;

  constructor(config: LlamaConfig, g: Generator) {
    super();
    const { hidden_size: d, intermediate_size: inner } = config;
    this.gateProj = this.module('gate_proj', new Linear(d, inner, { bias: false, generator: g }));
    this.upProj = this.module('up_proj', new Linear(d, inner, { bias: false, generator: g }));
    this.downProj = this.module('down_proj', new Linear(inner, d, { bias: false, generator: g }));
  }

  forward(x: Tensor): Tensor {
    const [gate, up] = linearLayers(x, [this.gateProj, this.upProj]) as [Tensor, Tensor]; // [B, T, I] each
    return this.downProj.forward(swiglu(gate, up)); // [B, T, D]
  }
}

/** Pre-RMSNorm decoder layer: attention (`self_attn`, q/k/v/o projections) then the MLP. */
export class LlamaDecoderLayer extends Module {
  readonly inputLayernorm: RMSNorm;
  readonly selfAttn: MultiHeadAttention;
  readonly postAttentionLayernorm: RMSNorm;
  readonly mlp: LlamaMLP;

  /** `layer` is the block index, for the names of intermediates. */
  constructor(config: LlamaConfig, attention: MultiHeadAttentionOptions, g: Generator, readonly layer = 0) {
    super();
    this.inputLayernorm = this.module('input_layernorm', new RMSNorm(config.hidden_size, config.rms_norm_eps));
    this.selfAttn = this.module('self_attn', new MultiHeadAttention(attention));
    this.postAttentionLayernorm = this.module('post_attention_layernorm', new RMSNorm(config.hidden_size, config.rms_norm_eps));
    this.mlp = this.module('mlp', new LlamaMLP(config, g));
  }

  forward(x: Tensor, angles: RopeAngles, cache?: LayerKVCache, padding: BatchPadding | null = null): Tensor {
    const il = this.layer;
    const attnNorm = named(this.inputLayernorm.forward(x), 'attn_norm', il); // [B, T, D]
    const attnOut = named(this.selfAttn.forward(attnNorm, { angles, cache, padding }), 'attn_out', il); // [B, T, D]
    const afterAttn = named(add(x, attnOut), 'ffn_inp', il); // [B, T, D]
    const ffnNorm = named(this.postAttentionLayernorm.forward(afterAttn), 'ffn_norm', il); // [B, T, D]
    const mlpOut = named(this.mlp.forward(ffnNorm), 'ffn_out', il); // [B, T, D]
    return named(add(afterAttn, mlpOut), 'l_out', il); // [B, T, D]
  }
}

/** The trunk (`model.*` in checkpoints): token embeddings, decoder layers, final norm. */
export class LlamaModel extends Module {
  readonly embedTokens: Embedding;
  readonly layers: ModuleList<LlamaDecoderLayer>;
  readonly norm: RMSNorm;
  readonly rope: RotaryEmbedding;

  constructor(readonly config: LlamaConfig, attentionFor: (layer: number) => MultiHeadAttentionOptions, g: Generator) {
    super();
    this.rope = new RotaryEmbedding({ dim: config.headDim, base: config.rope_theta, layout: 'half', scaling: config.ropeScaling });
    this.embedTokens = this.module('embed_tokens', new Embedding(config.vocab_size, config.hidden_size, { std: config.initializer_range, generator: g }));
    this.layers = this.module('layers', new ModuleList(Array.from({ length: config.num_hidden_layers }, (_, i) =>
      new LlamaDecoderLayer(config, { ...attentionFor(i), rope: this.rope, generator: g }, g, i))));
    this.norm = this.module('norm', new RMSNorm(config.hidden_size, config.rms_norm_eps));
  }

  /**
   * ids [B, T] int32 -> hidden states [B, T, D]; with a cache the tokens sit at positions
   * offset..offset+T-1. An `attentionMask` [B, offset + T] with padding gives each row its own
   * positions (cumsum(mask) - 1, so per-row RoPE angles) and hides its padded keys.
   */
  forward(inputIds: Tensor, cache?: ModelKVCache | null, attentionMask?: Tensor | null): Tensor {
    const t = inputIds.shape[inputIds.ndim - 1]!;
    const start = cacheOffset(cache, 'LlamaModel');
    const padding = readAttentionMask(attentionMask, inputIds.ndim === 2 ? inputIds.shape[0]! : 1, start + t, 'LlamaModel');
    const angles = padding
      ? this.rope.anglesPerRow(paddedPositions(padding, t), padding.batch) // cos, sin [B, T, hd/2]: each row's own positions
      : this.rope.angles(Array.from({ length: t }, (_, i) => start + i)); // cos, sin [T, hd/2], shared by all layers
    let x = named(this.embedTokens.forward(inputIds), 'inp_embd'); // [B, T, D]
    for (const layer of this.layers) x = layer.forward(x, angles, layerCache(cache, layer.layer, this.layers.length, 'LlamaModel'), padding);
    return named(this.norm.forward(x), 'result_norm');
  }
}

export interface CausalLMOptions {
  /** Initialises the weights (default: a Generator seeded 0). */
  generator?: Generator;
  /** Draws the dropout masks in training mode (default: its own Generator seeded 0); see `dropoutGenerator`. */
  dropoutGenerator?: Generator;
}

/** LLaMA with its language-model head (`lm_head`, or the embeddings when tie_word_embeddings). */
export class LlamaForCausalLM<C extends LlamaConfig = LlamaConfig> extends Module {
  readonly model: LlamaModel;
  readonly lmHead: Linear | null;
  /** The generator every dropout of this model draws from (seed it, or save and restore its state with a checkpoint). */
  readonly dropoutGenerator: Generator;

  constructor(readonly config: C, opts: CausalLMOptions = {}) {
    super();
    const g = opts.generator ?? new Generator(0);
    this.model = this.module('model', new LlamaModel(config, (i) => this.attentionOptions(config, i), g));
    this.lmHead = config.tie_word_embeddings ? null : this.module('lm_head', new Linear(config.hidden_size, config.vocab_size, { bias: false, generator: g }));
    this.dropoutGenerator = shareDropoutGenerator(this, opts.dropoutGenerator ?? new Generator(0));
  }

  /**
   * The attention of layer `layer`. Variants override this hook (it runs during construction,
   * so it may read only `config`): LLaMA has causal MHA/GQA with attention_bias on all four
   * projections.
   */
  protected attentionOptions(config: C, _layer: number): MultiHeadAttentionOptions {
    return {
      hiddenSize: config.hidden_size,
      numHeads: config.num_attention_heads,
      numKeyValueHeads: config.numKeyValueHeads,
      headDim: config.headDim,
      kind: 'causal',
      qkvBias: config.attention_bias,
      outputBias: config.attention_bias,
      attentionDropout: config.attention_dropout,
    };
  }

  /** ids [B, T] int32 -> logits [B, T, V] (the last logitsToKeep positions when given); attentionMask for a padded batch */
  forward(inputIds: Tensor, opts: CachedForwardOptions = {}): Tensor {
    const hidden = keepLast(this.model.forward(inputIds, opts.cache, opts.attentionMask), opts.logitsToKeep); // [B, T, D]
    if (this.lmHead) return named(this.lmHead.forward(hidden), 'result_output'); // [B, T, V]
    return named(matmul(hidden, this.model.embedTokens.weight.mT), 'result_output'); // [B, T, V], tied: hidden @ embed_tokens^T
  }

  /** Loads HF checkpoint tensors; skips `rotary_emb.inv_freq` buffers and a tied `lm_head.weight`. */
  loadWeights(source: TensorSource): this {
    loadWeights(this, source, {
      what: `${this.constructor.name}.loadWeights`,
      ignore: (n) => n.endsWith('.rotary_emb.inv_freq') || (this.lmHead === null && n === 'lm_head.weight'),
    });
    return this;
  }

  static fromPretrained(pretrained: { config: Readonly<Record<string, unknown>>; weights: TensorSource }): LlamaForCausalLM {
    return withoutInit(() => new LlamaForCausalLM(LlamaConfig.fromDict(pretrained.config))).loadWeights(pretrained.weights);
  }
}
