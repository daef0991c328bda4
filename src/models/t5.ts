/**
 * T5 (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
 * Transformer", arXiv:1910.10683), v1.0 and v1.1. Reference implementation: Hugging Face
 * transformers `models/t5/modeling_t5.py` (T5ForConditionalGeneration), whose tensor names this
 * file loads verbatim (`encoder.block.0.layer.0.SelfAttention.q.weight`).
 *
 * An encoder-decoder with pre-norm residual sublayers and no absolute positions:
 *   x = shared[ids]                                      one embedding for encoder, decoder (and v1.0's head)
 *   x = x + attn(norm(x), bias);  x = x + ffn(norm(x))   encoder block (layer.0, layer.1)
 *   y = y + attn(norm(y), bias, causal);  y = y + cross(norm(y), memory);  y = y + ffn(norm(y))   decoder block
 *   logits = (norm(y) * d_model^-0.5) @ shared^T  (v1.0, tied)  or  lm_head(norm(y))  (v1.1)
 * where norm is T5's LayerNorm, an RMS norm without mean subtraction or bias, computed in float32.
 * Attention scores are q k^T with no 1/sqrt(d_kv) scale (T5 folds it into the initialisation) plus
 * a learned bias per head indexed by a bucketed relative position (sec. 2.1, "Position
 * embeddings"): exact buckets for small distances, logarithmic ones up to max_distance. Only the
 * first block of each stack owns `relative_attention_bias`; the other blocks reuse its bias.
 * Buckets are bidirectional (sign-aware) in the encoder, causal (past only) in the decoder;
 * cross-attention has no position bias. The feed-forward is relu (v1.0, `wi`, `wo`) or gated
 * gelu_new (v1.1, `wo(gelu(wi_0 x) * wi_1 x)`). Padding masks are [B, T], 1 = token, 0 = padding.
 * Dropout (dropout_rate) is applied where transformers applies it, in training mode only: on the
 * embedded ids, on the attention weights, on each sublayer's output before its residual add, inside
 * the feed-forward after the activation, and after final_layer_norm. For generation the decoder
 * takes a KVCache per layer (self-attention, whose position bias then follows the positions the
 * cache returns) and a cross-attention cache that keeps the projected encoder keys/values.
 * Named intermediates carry the stack as a prefix: enc_inp_embd, then per block enc_attn_norm,
 * enc_attn_out, enc_ffn_inp, enc_ffn_norm, enc_ffn_out, enc_l_out, then enc_result_norm; the same
 * with dec_ plus dec_cross_norm and dec_cross_out after the self-attention; then result_output.
 */
import { add, cast, fail, fromTypedArray, matmul, mul, ones, where, Generator, type Tensor, withoutInit } from '../tensor/index.js';
import { gelu, relu, rmsNorm, scaledDotProductAttention, silu } from '../ops/index.js';
import {
  Dropout, Embedding, Linear, Module, ModuleList, attendFetched, fetchedPositions, layerCache, mergeHeads, named, shareDropoutGenerator,
  splitHeads, type CrossKVCache, type DecoderKVCache, type KVFetch, type LayerKVCache,
} from '../nn/index.js';
import type { TensorSource } from '../formats/index.js';
import { assignKnown, configToDict, requirePositiveInt, requireProbability } from './config.js';
import { keyPaddingMask } from './transformer.js';
import { loadWeights } from './weights.js';

/** T5Config with config.json field names; defaults are transformers' T5Config (t5-small). */
export class T5Config {
  model_type = 't5';
  vocab_size = 32128;
  d_model = 512;
  d_kv = 64;
  d_ff = 2048;
  num_layers = 6;
  /** Defaults to num_layers (config.json may say null or leave it out). */
  num_decoder_layers: number | null = null;
  num_heads = 8;
  relative_attention_num_buckets = 32;
  relative_attention_max_distance = 128;
  layer_norm_epsilon = 1e-6;
  /** '{act}' or 'gated-{act}'; 'relu' is T5 v1.0, 'gated-gelu' (meaning gelu_new, the tanh form) v1.1. */
  feed_forward_proj = 'relu';
  tie_word_embeddings = true;
  decoder_start_token_id = 0;
  pad_token_id = 0;
  eos_token_id = 1;
  /** Dropout probability everywhere T5 has dropout (training mode only). */
  dropout_rate = 0.1;

  static fromDict(dict: Readonly<Record<string, unknown>>): T5Config {
    const c = assignKnown(new T5Config(), dict, 'T5Config');
    if (c.num_decoder_layers === null) c.num_decoder_layers = c.num_layers;
    for (const f of ['vocab_size', 'd_model', 'd_kv', 'd_ff', 'num_layers', 'num_heads', 'relative_attention_num_buckets',
      'relative_attention_max_distance'] as const) requirePositiveInt('T5Config', f, c[f]);
    requirePositiveInt('T5Config', 'num_decoder_layers', c.num_decoder_layers);
    if (c.relative_attention_num_buckets < 4) fail('T5Config', `relative_attention_num_buckets must be >= 4, got ${c.relative_attention_num_buckets}`);
    c.feedForward(); // validates feed_forward_proj
    requireProbability('T5Config', 'dropout_rate', c.dropout_rate);
    return c;
  }

  /** config.json fields (fromDict(toDict()) gives an equal config). */
  toDict(): Record<string, unknown> {
    return configToDict(this);
  }

  get decoderLayers(): number {
    return this.num_decoder_layers ?? this.num_layers;
  }

  /** T5Config's parsing of feed_forward_proj: `gated-` prefix, then the activation ('gated-gelu' means gelu_new). */
  feedForward(): { gated: boolean; act: (x: Tensor) => Tensor } {
    const parts = this.feed_forward_proj.split('-');
    const gated = parts[0] === 'gated';
    if (parts.length > 2 || (parts.length === 2 && !gated)) {
      fail('T5Config', `feed_forward_proj '${this.feed_forward_proj}' is not of the form '{act}' or 'gated-{act}'`);
    }
    const name = this.feed_forward_proj === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1]!;
    const act = ACTIVATIONS[name];
    if (!act) fail('T5Config', `feed_forward_proj activation '${name}' is not supported (${Object.keys(ACTIVATIONS).join(', ')})`);
    return { gated, act };
  }
}

const ACTIVATIONS: Record<string, (x: Tensor) => Tensor> = {
  relu: (x) => relu(x),
  gelu: (x) => gelu(x),
  gelu_new: (x) => gelu(x, 'tanh'),
  gelu_pytorch_tanh: (x) => gelu(x, 'tanh'),
  silu: (x) => silu(x),
};

/** float32's most negative value: transformers' additive padding mask, (1 - mask) * finfo.min. */
const MASKED = -3.4028234663852886e38;

export interface BucketOptions {
  bidirectional: boolean;
  numBuckets: number;
  maxDistance: number;
}

/**
 * T5Attention._relative_position_bucket for one relative position (key - query). Bidirectional:
 * half the buckets for keys after the query. Within a half, distances below max_exact = half/2
 * get their own bucket; larger ones share logarithmically wider buckets up to max_distance, beyond
 * which everything falls in the last. The logarithm is evaluated in float32, step by step as
 * torch does it (on the fixture's settings and distances -300..300 plain double precision gives
 * the same buckets, but torch's arithmetic is the definition).
 */
export function relativePositionBucket(relativePosition: number, opts: BucketOptions): number {
  const f32 = Math.fround;
  let numBuckets = opts.numBuckets;
  let bucket = 0;
  let n: number;
  if (opts.bidirectional) {
    numBuckets = Math.floor(numBuckets / 2);
    if (relativePosition > 0) bucket += numBuckets;
    n = Math.abs(relativePosition);
  } else {
    n = Math.max(-relativePosition, 0); // the decoder sees only the past: future keys are distance 0
  }
  const maxExact = Math.floor(numBuckets / 2);
  if (n < maxExact) return bucket + n;
  const logRatio = f32(Math.log(f32(n / maxExact))); // torch.log(rel.float() / max_exact)
  const scaled = f32(f32(logRatio / f32(Math.log(opts.maxDistance / maxExact))) * (numBuckets - maxExact));
  return bucket + Math.min(maxExact + Math.trunc(scaled), numBuckets - 1);
}

/** Bucket ids int32 [Tq, Tk] for query positions 0..Tq-1 and key positions 0..Tk-1 (T5Attention.compute_bias). */
export function relativePositionBuckets(tq: number, tk: number, opts: BucketOptions): Tensor {
  return relativePositionBucketsAt(range(0, tq), range(0, tk), opts);
}

/** Bucket ids int32 [Tq, Tk] for the given query and key positions (a cached decoder step). */
export function relativePositionBucketsAt(queryPositions: ArrayLike<number>, keyPositions: ArrayLike<number>, opts: BucketOptions): Tensor {
  const [tq, tk] = [queryPositions.length, keyPositions.length];
  const ids = new Int32Array(tq * tk);
  for (let i = 0; i < tq; i++) for (let j = 0; j < tk; j++) ids[i * tk + j] = relativePositionBucket(keyPositions[j]! - queryPositions[i]!, opts);
  return fromTypedArray(ids, [tq, tk]); // [Tq, Tk]
}

function range(start: number, n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => start + i);
}

/** T5LayerNorm: x * rsqrt(mean(x^2) + eps) * weight, no mean subtraction, no bias, in float32. */
export class T5LayerNorm extends Module {
  readonly weight: Tensor;

  constructor(readonly dim: number, readonly eps: number) {
    super();
    this.weight = this.param('weight', ones([dim]));
  }

  forward(x: Tensor): Tensor {
    if (x.dtype === 'float32') return rmsNorm(x, { weight: this.weight, eps: this.eps });
    const y = rmsNorm(cast(x, 'float32'), { weight: cast(this.weight, 'float32'), eps: this.eps });
    return y.to(this.weight.dtype);
  }
}

/** T5Attention: q, k, v, o without biases; optional `relative_attention_bias` [num_buckets, n_heads]. */
export class T5Attention extends Module {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly relativeAttentionBias: Embedding | null;
  readonly isDecoder: boolean;
  readonly dropout: Dropout;

  constructor(readonly config: T5Config, opts: { isDecoder: boolean; hasRelativeAttentionBias: boolean; generator: Generator }) {
    super();
    const { d_model: d, d_kv: dkv, num_heads: nh } = config;
    const g = opts.generator;
    this.q = this.module('q', new Linear(d, nh * dkv, { bias: false, generator: g }));
    this.k = this.module('k', new Linear(d, nh * dkv, { bias: false, generator: g }));
    this.v = this.module('v', new Linear(d, nh * dkv, { bias: false, generator: g }));
    this.o = this.module('o', new Linear(nh * dkv, d, { bias: false, generator: g }));
    this.relativeAttentionBias = opts.hasRelativeAttentionBias
      ? this.module('relative_attention_bias', new Embedding(config.relative_attention_num_buckets, nh, { generator: g }))
      : null;
    this.isDecoder = opts.isDecoder;
    this.dropout = this.module('dropout', new Dropout(config.dropout_rate));
  }

  /** compute_bias: the learned bias per head for every (query, key) pair, [1, nh, Tq, Tk]. */
  positionBias(tq: number, tk: number): Tensor {
    return this.positionBiasAt(range(0, tq), range(0, tk));
  }

  /** compute_bias for arbitrary query and key positions (a cached decoder step): [1, nh, Tq, Tk]. */
  positionBiasAt(queryPositions: ArrayLike<number>, keyPositions: ArrayLike<number>): Tensor {
    const [tq, tk] = [queryPositions.length, keyPositions.length];
    if (!this.relativeAttentionBias) fail('T5Attention', 'positionBias needs the relative_attention_bias of the first block');
    const buckets = relativePositionBucketsAt(queryPositions, keyPositions, {
      bidirectional: !this.isDecoder,
      numBuckets: this.config.relative_attention_num_buckets,
      maxDistance: this.config.relative_attention_max_distance,
    });
    const values = this.relativeAttentionBias.forward(buckets); // [Tq, Tk, nh]
    return values.permute(2, 0, 1).reshape(1, this.config.num_heads, tq, tk); // [1, nh, Tq, Tk]
  }

  /**
   * x [B, Tq, d], kv [B, Tk, d] -> [B, Tq, d]. `mask` is the additive bias (position bias plus
   * padding) or a bool mask (true = attend), broadcastable to [B, nh, Tq, Tk]. With a self-attention
   * `cache` the bias comes from `biasAt` (it depends on the key positions the cache returns); with
   * a `cross` cache the keys/values of `kv` are projected once and reused.
   */
  forward(x: Tensor, kv: Tensor, opts: {
    mask?: Tensor | null; causal?: boolean;
    cache?: LayerKVCache; biasAt?: (queryStart: number, fetch: KVFetch) => Tensor; cross?: CrossKVCache;
  } = {}): Tensor {
    const nh = this.config.num_heads;
    const q = splitHeads(this.q.forward(x), nh); // [B, nh, Tq, dkv]
    const attn = { scale: 1, causal: opts.causal ?? false, dropout: this.dropout.rate, generator: this.dropout.generator };
    let out: Tensor;
    if (opts.cache) {
      const queryStart = opts.cache.offset;
      const fetch = opts.cache.updateAndFetch(splitHeads(this.k.forward(kv), nh), splitHeads(this.v.forward(kv), nh)); // [B, nh, L, dkv]
      const bias = opts.biasAt?.(queryStart, fetch);
      out = attendFetched(q, fetch, queryStart, { ...attn, ...(bias ? { mask: bias } : {}) }, opts.cache); // [B, nh, Tq, dkv]
    } else {
      const k = opts.cross?.keys ?? splitHeads(this.k.forward(kv), nh); // [B, nh, Tk, dkv]
      const v = opts.cross?.values ?? splitHeads(this.v.forward(kv), nh); // [B, nh, Tk, dkv]
      if (opts.cross && !opts.cross.keys) opts.cross.store(k, v);
      out = scaledDotProductAttention(q, k, v, { ...attn, ...(opts.mask ? { mask: opts.mask } : {}) }); // [B, nh, Tq, dkv]
    }
    return this.o.forward(mergeHeads(out)); // [B, Tq, nh * dkv] -> [B, Tq, d]
  }
}

/** Where a sublayer sits, for the names of its intermediates: the stack's prefix ('enc_', 'dec_') and the block. */
export interface T5Site {
  prefix: string;
  layer: number;
}

/** layer.0: x + dropout(SelfAttention(layer_norm(x))). */
export class T5LayerSelfAttention extends Module {
  readonly selfAttention: T5Attention;
  readonly layerNorm: T5LayerNorm;
  readonly dropout: Dropout;

  constructor(config: T5Config, opts: { isDecoder: boolean; hasRelativeAttentionBias: boolean; generator: Generator }, readonly site: T5Site = { prefix: '', layer: 0 }) {
    super();
    this.selfAttention = this.module('SelfAttention', new T5Attention(config, opts));
    this.layerNorm = this.module('layer_norm', new T5LayerNorm(config.d_model, config.layer_norm_epsilon));
    this.dropout = this.module('dropout', new Dropout(config.dropout_rate));
  }

  forward(x: Tensor, bias: Tensor | null, causal: boolean, cache?: { cache: LayerKVCache; biasAt: (queryStart: number, fetch: KVFetch) => Tensor }): Tensor {
    const { prefix: p, layer: il } = this.site;
    const h = named(this.layerNorm.forward(x), `${p}attn_norm`, il);
    const out = named(this.selfAttention.forward(h, h, { mask: bias, causal, ...cache }), `${p}attn_out`, il);
    return add(x, this.dropout.forward(out)); // [B, T, d]
  }
}

/** Decoder layer.1: y + dropout(EncDecAttention(layer_norm(y), memory)), no position bias. */
export class T5LayerCrossAttention extends Module {
  readonly encDecAttention: T5Attention;
  readonly layerNorm: T5LayerNorm;
  readonly dropout: Dropout;

  constructor(config: T5Config, g: Generator, readonly site: T5Site = { prefix: 'dec_', layer: 0 }) {
    super();
    this.encDecAttention = this.module('EncDecAttention', new T5Attention(config, { isDecoder: true, hasRelativeAttentionBias: false, generator: g }));
    this.layerNorm = this.module('layer_norm', new T5LayerNorm(config.d_model, config.layer_norm_epsilon));
    this.dropout = this.module('dropout', new Dropout(config.dropout_rate));
  }

  forward(y: Tensor, memory: Tensor, memoryKeyMask: Tensor | null, cross?: CrossKVCache): Tensor {
    const { prefix: p, layer: il } = this.site;
    const h = named(this.layerNorm.forward(y), `${p}cross_norm`, il);
    const out = named(this.encDecAttention.forward(h, memory, { mask: memoryKeyMask, ...(cross ? { cross } : {}) }), `${p}cross_out`, il);
    return add(y, this.dropout.forward(out)); // [B, T, d]
  }
}

/**
 * Last layer of a block: x + dropout(DenseReluDense(layer_norm(x))), relu (wi, wo) or gated (wi_0,
 * wi_1, wo), with DenseReluDense's own dropout before wo.
 */
export class T5LayerFF extends Module {
  readonly wi: Linear | null;
  readonly wi0: Linear | null;
  readonly wi1: Linear | null;
  readonly wo: Linear;
  readonly layerNorm: T5LayerNorm;
  readonly act: (x: Tensor) => Tensor;
  /** DenseReluDense.dropout (after the activation) and the layer's dropout (on its output). */
  readonly innerDropout: Dropout;
  readonly dropout: Dropout;

  constructor(config: T5Config, g: Generator, readonly site: T5Site = { prefix: '', layer: 0 }) {
    super();
    const { d_model: d, d_ff: ff } = config;
    const { gated, act } = config.feedForward();
    this.act = act;
    // HF nests the projections in a `DenseReluDense` module (T5DenseActDense / T5DenseGatedActDense)
    const dense = this.module('DenseReluDense', new DenseReluDense());
    this.wi = gated ? null : dense.add('wi', new Linear(d, ff, { bias: false, generator: g }));
    this.wi0 = gated ? dense.add('wi_0', new Linear(d, ff, { bias: false, generator: g })) : null;
    this.wi1 = gated ? dense.add('wi_1', new Linear(d, ff, { bias: false, generator: g })) : null;
    this.wo = dense.add('wo', new Linear(ff, d, { bias: false, generator: g }));
    this.innerDropout = dense.add('dropout', new Dropout(config.dropout_rate));
    this.layerNorm = this.module('layer_norm', new T5LayerNorm(d, config.layer_norm_epsilon));
    this.dropout = this.module('dropout', new Dropout(config.dropout_rate));
  }

  forward(x: Tensor): Tensor {
    const { prefix: p, layer: il } = this.site;
    named(x, `${p}ffn_inp`, il);
    const h = named(this.layerNorm.forward(x), `${p}ffn_norm`, il);
    const inner = this.wi ? this.act(this.wi.forward(h)) : mul(this.act(this.wi0!.forward(h)), this.wi1!.forward(h)); // [B, T, d_ff]
    const out = named(this.wo.forward(this.innerDropout.forward(inner)), `${p}ffn_out`, il); // [B, T, d]
    return add(x, this.dropout.forward(out)); // [B, T, d]
  }
}

/** A named container for the feed-forward projections (HF's `DenseReluDense`). */
class DenseReluDense extends Module {
  add<M extends Module>(name: string, m: M): M {
    return this.module(name, m);
  }
}

/** T5Block: `layer` = [self-attention, (cross-attention,) feed-forward]. */
export class T5Block extends Module {
  readonly selfAttention: T5LayerSelfAttention;
  readonly crossAttention: T5LayerCrossAttention | null;
  readonly ff: T5LayerFF;

  /** `layer` is the block index, for the names of intermediates (prefixed enc_ or dec_). */
  constructor(config: T5Config, opts: { isDecoder: boolean; hasRelativeAttentionBias: boolean; generator: Generator }, readonly layer = 0) {
    super();
    const g = opts.generator;
    const site = { prefix: opts.isDecoder ? 'dec_' : 'enc_', layer };
    this.selfAttention = new T5LayerSelfAttention(config, opts, site);
    this.crossAttention = opts.isDecoder ? new T5LayerCrossAttention(config, g, site) : null;
    this.ff = new T5LayerFF(config, g, site);
    const layers: Module[] = [this.selfAttention, ...(this.crossAttention ? [this.crossAttention] : []), this.ff];
    this.module('layer', new ModuleList<Module>(layers));
  }

  forward(x: Tensor, bias: Tensor | null, opts: {
    causal: boolean; memory?: Tensor; memoryKeyMask?: Tensor | null;
    cache?: { cache: LayerKVCache; biasAt: (queryStart: number, fetch: KVFetch) => Tensor }; cross?: CrossKVCache;
  }): Tensor {
    x = this.selfAttention.forward(x, bias, opts.causal, opts.cache);
    if (this.crossAttention) {
      if (!opts.memory) fail('T5Block', 'a decoder block needs the encoder output');
      x = this.crossAttention.forward(x, opts.memory, opts.memoryKeyMask ?? null, opts.cross);
    }
    return named(this.ff.forward(x), `${this.ff.site.prefix}l_out`, this.layer); // [B, T, d]
  }
}

/** T5Stack without its embedding (the model owns `shared`): `block`, then `final_layer_norm`. */
export class T5Stack extends Module {
  readonly block: ModuleList<T5Block>;
  readonly finalLayerNorm: T5LayerNorm;
  readonly dropout: Dropout;

  constructor(readonly config: T5Config, readonly isDecoder: boolean, g: Generator) {
    super();
    const n = isDecoder ? config.decoderLayers : config.num_layers;
    this.block = this.module('block', new ModuleList(Array.from({ length: n }, (_, i) =>
      new T5Block(config, { isDecoder, hasRelativeAttentionBias: i === 0, generator: g }, i))));
    this.finalLayerNorm = this.module('final_layer_norm', new T5LayerNorm(config.d_model, config.layer_norm_epsilon));
    this.dropout = this.module('dropout', new Dropout(config.dropout_rate));
  }

  /**
   * x [B, T, d] (embedded ids); keyMask [B, T] padding of this stack's own keys; for the decoder,
   * memory [B, S, d] and memoryMask [B, S], and optionally its caches (the tokens then sit at
   * positions offset..offset+T-1). -> [B, T, d]
   */
  forward(x: Tensor, opts: { keyMask?: Tensor; memory?: Tensor; memoryMask?: Tensor; cache?: DecoderKVCache } = {}): Tensor {
    const [b, t] = x.shape as [number, number, number];
    const p = this.isDecoder ? 'dec_' : 'enc_';
    x = this.dropout.forward(named(x, `${p}inp_embd`));
    const first = this.block.at(0).selfAttention.selfAttention;
    let bias: Tensor | null = null;
    if (opts.cache) {
      if (opts.keyMask) fail('T5Stack', 'a decoder padding mask cannot be combined with a KV cache');
    } else {
      // the first block's position bias, plus padding, is the additive mask of every block's self-attention
      bias = first.positionBias(t, t); // [1, nh, T, T]
      if (opts.keyMask) {
        const padding = where(keyPaddingMask(opts.keyMask, b, t), 0, MASKED); // [B, 1, 1, T]
        bias = add(bias, padding); // [B, nh, T, T]
      }
    }
    // with a cache, the same bias for the positions of the keys the cache returns
    const biasAt = (queryStart: number, fetch: KVFetch) =>
      first.positionBiasAt(range(queryStart, t), fetchedPositions(fetch, queryStart, t, 'T5Stack')); // [1, nh, T, L]
    const memoryKeyMask = opts.memory && opts.memoryMask ? keyPaddingMask(opts.memoryMask, b, opts.memory.shape[1]!) : null; // [B, 1, 1, S]
    for (const block of this.block) {
      const cache = layerCache(opts.cache?.self, block.layer, this.block.length, 'T5Stack');
      const cross = opts.cache?.cross?.[block.layer];
      x = block.forward(x, bias, {
        causal: this.isDecoder, ...(opts.memory ? { memory: opts.memory } : {}), memoryKeyMask,
        ...(cache ? { cache: { cache, biasAt } } : {}), ...(cross ? { cross } : {}),
      });
    }
    return this.dropout.forward(named(this.finalLayerNorm.forward(x), `${p}result_norm`)); // [B, T, d]
  }
}

export interface T5ForwardOptions {
  /** Encoder padding [B, S], 1 = token, 0 = padding; also masks the cross-attention keys. */
  attentionMask?: Tensor;
  /** Decoder padding [B, T] (on top of the causal mask). */
  decoderAttentionMask?: Tensor;
}

/** T5ForConditionalGeneration: `shared`, `encoder`, `decoder`, and `lm_head` unless tied. */
export class T5ForConditionalGeneration extends Module {
  readonly shared: Embedding;
  readonly encoder: T5Stack;
  readonly decoder: T5Stack;
  readonly lmHead: Linear | null;
  /** The generator every dropout of this model draws from (seed it, or save and restore its state with a checkpoint). */
  readonly dropoutGenerator: Generator;

  /** `generator` initialises the weights; `dropoutGenerator` draws dropout masks (default: a Generator seeded 0 each). */
  constructor(readonly config: T5Config, opts: { generator?: Generator; dropoutGenerator?: Generator } = {}) {
    super();
    const g = opts.generator ?? new Generator(0);
    this.shared = this.module('shared', new Embedding(config.vocab_size, config.d_model, { generator: g }));
    this.encoder = this.module('encoder', new T5Stack(config, false, g));
    this.decoder = this.module('decoder', new T5Stack(config, true, g));
    this.lmHead = config.tie_word_embeddings ? null : this.module('lm_head', new Linear(config.d_model, config.vocab_size, { bias: false, generator: g }));
    this.dropoutGenerator = shareDropoutGenerator(this, opts.dropoutGenerator ?? new Generator(0));
  }

  /** input ids [B, S] -> encoder states [B, S, d] */
  encode(inputIds: Tensor, attentionMask?: Tensor): Tensor {
    return this.encoder.forward(this.shared.forward(inputIds), attentionMask ? { keyMask: attentionMask } : {});
  }

  /** decoder ids [B, T], encoder states [B, S, d] -> logits [B, T, V]; `cache` for step-by-step decoding */
  decode(decoderInputIds: Tensor, memory: Tensor, opts: T5ForwardOptions & { cache?: DecoderKVCache } = {}): Tensor {
    const h = this.decoder.forward(this.shared.forward(decoderInputIds), {
      memory,
      ...(opts.attentionMask ? { memoryMask: opts.attentionMask } : {}),
      ...(opts.decoderAttentionMask ? { keyMask: opts.decoderAttentionMask } : {}),
      ...(opts.cache ? { cache: opts.cache } : {}),
    }); // [B, T, d]
    if (this.lmHead) return named(this.lmHead.forward(h), 'result_output'); // [B, T, V]
    // tied (v1.0): rescale before projecting onto the embedding (Mesh TensorFlow's convention)
    return named(matmul(mul(h, this.config.d_model ** -0.5), this.shared.weight.mT), 'result_output'); // [B, T, V]
  }

  /** input ids [B, S], decoder input ids [B, T] (int32) -> logits [B, T, V] */
  forward(inputIds: Tensor, decoderInputIds: Tensor, opts: T5ForwardOptions = {}): Tensor {
    if (inputIds.ndim !== 2 || decoderInputIds.ndim !== 2) fail('T5ForConditionalGeneration', 'input ids and decoder input ids must be [B, S] and [B, T]');
    return this.decode(decoderInputIds, this.encode(inputIds, opts.attentionMask), opts);
  }

  /**
   * Loads HF tensor names. Tied copies (`encoder.embed_tokens.weight`, `decoder.embed_tokens.weight`,
   * and `lm_head.weight` when tied) and old checkpoints' unused
   * `decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight` are skipped.
   */
  loadWeights(source: TensorSource): this {
    const tied = this.config.tie_word_embeddings;
    loadWeights(this, source, {
      what: 'T5ForConditionalGeneration.loadWeights',
      ignore: (n) => n === 'encoder.embed_tokens.weight' || n === 'decoder.embed_tokens.weight' || (tied && n === 'lm_head.weight')
        || n === 'decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight',
    });
    return this;
  }

  static fromPretrained(pretrained: { config: Readonly<Record<string, unknown>>; weights: TensorSource }): T5ForConditionalGeneration {
    return withoutInit(() => new T5ForConditionalGeneration(T5Config.fromDict(pretrained.config))).loadWeights(pretrained.weights);
  }
}
