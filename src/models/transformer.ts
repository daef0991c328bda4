/**
 * The Transformer (Vaswani et al. 2017, "Attention Is All You Need", arXiv:1706.03762).
 * Reference implementation: PyTorch's `torch.nn.Transformer` (torch/nn/modules/transformer.py and
 * nn.MultiheadAttention), whose state dict this model loads by its own names; the embedding,
 * positional-encoding and output wrapper follows the paper (sec. 3.4, 3.5).
 *
 * An encoder-decoder with post-LayerNorm sublayers (sec. 3.1: LayerNorm(x + Sublayer(x))):
 *   e(ids)  = embedding[ids] * sqrt(d_model) + PE[pos]      one embedding shared by source and target
 *   memory  = encoder.norm(encoder layers(e(src)))           self-attention over non-padded keys
 *   h       = decoder.norm(decoder layers(e(tgt), memory))   causal self-attention, cross-attention
 *   logits  = h @ embedding^T                                pre-softmax projection tied to the embedding
 * with PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)) and a ReLU
 * feed-forward linear2(relu(linear1(x))). The final encoder.norm / decoder.norm are nn.Transformer's
 * (the paper's layers end in a LayerNorm already; torch adds one per stack). Attention projections
 * are packed as torch packs them: in_proj_weight = [W_q; W_k; W_v] ([3 d, d]), in_proj_bias [3 d].
 * Padding masks use attn's convention, [B, T] with 1 = token and 0 = padding (torch's
 * key_padding_mask is its negation). Dropout (`dropout`, P_drop in the paper) is applied in training
 * mode only, where the paper and torch apply it: to the sums of embeddings and positional encodings
 * (sec. 5.4), to the attention weights (nn.MultiheadAttention's dropout), after the ReLU inside the
 * feed-forward, and to each sublayer's output before its residual add (dropout1/2/3).
 * Named intermediates carry the stack as a prefix: enc_inp_embd, per layer enc_attn_out, enc_ffn_inp,
 * enc_ffn_out, enc_l_out, then enc_result_norm (encoder.norm); dec_inp_embd, per layer dec_attn_out,
 * dec_cross_inp, dec_cross_out, dec_ffn_inp, dec_ffn_out, dec_l_out, then dec_result_norm; result_output.
 * For generation the decoder takes a DecoderKVCache: self-attention keys/values per layer, and the
 * projected encoder keys/values per layer, computed at the first step and reused.
 */
import { add, compare, fail, fromTypedArray, matmul, mul, uniform, zeros, Generator, type Tensor, withoutInit } from '../tensor/index.js';
import { gelu, linear, relu } from '../ops/index.js';
import {
  Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, attentionWithCache, cacheOffset, layerCache, mergeHeads, named,
  shareDropoutGenerator, splitHeads, type CrossKVCache, type DecoderKVCache, type LayerKVCache,
} from '../nn/index.js';
import type { TensorSource } from '../formats/index.js';
import { assignKnown, configToDict, requirePositiveInt, requireProbability } from './config.js';
import { loadWeights } from './weights.js';

/** Hyper-parameters with torch.nn.Transformer's argument names; defaults are the paper's base model (Table 3). */
export class TransformerConfig {
  model_type = 'transformer';
  vocab_size = 37000;
  d_model = 512;
  nhead = 8;
  num_encoder_layers = 6;
  num_decoder_layers = 6;
  dim_feedforward = 2048;
  layer_norm_eps = 1e-5;
  /** 'relu' (the paper) or 'gelu', as nn.Transformer's activation argument. */
  activation = 'relu';
  pad_token_id = 0;
  /** P_drop (training mode only); nn.Transformer's dropout argument, 0.1 in the paper's base model. */
  dropout = 0.1;

  static fromDict(dict: Readonly<Record<string, unknown>>): TransformerConfig {
    const c = assignKnown(new TransformerConfig(), dict, 'TransformerConfig');
    for (const f of ['vocab_size', 'd_model', 'nhead', 'num_encoder_layers', 'num_decoder_layers', 'dim_feedforward'] as const) {
      requirePositiveInt('TransformerConfig', f, c[f]);
    }
    if (c.d_model % c.nhead !== 0) fail('TransformerConfig', `d_model ${c.d_model} is not divisible by nhead ${c.nhead}`);
    if (!(c.activation in ACTIVATIONS)) fail('TransformerConfig', `activation '${c.activation}' is not supported (${Object.keys(ACTIVATIONS).join(', ')})`);
    if (dict['norm_first'] === true) fail('TransformerConfig', 'norm_first (pre-LayerNorm) is not supported: this is the post-norm original');
    requireProbability('TransformerConfig', 'dropout', c.dropout);
    return c;
  }

  /**
   * config.json fields (fromDict(toDict()) gives an equal config), with nn.Transformer's other
   * arguments that this model fixes, so the file also says how to rebuild it in torch.
   */
  toDict(): Record<string, unknown> {
    return { ...configToDict(this), batch_first: true, norm_first: false };
  }
}

const ACTIVATIONS: Record<string, (x: Tensor) => Tensor> = {
  relu: (x) => relu(x),
  gelu: (x) => gelu(x),
};

/** Sinusoidal positional encoding (sec. 3.5) for positions start..start+T-1: [T, d], computed in double precision. */
export function sinusoidalPositions(t: number, d: number, start = 0): Tensor {
  return sinusoidalPositionsAt(Array.from({ length: t }, (_, row) => start + row), d); // [T, d]
}

/** The same table for explicit positions (a padded batch's per-row positions): [N, d]. */
export function sinusoidalPositionsAt(positions: ArrayLike<number>, d: number): Tensor {
  const n = positions.length;
  const pe = new Float32Array(n * d);
  for (let row = 0; row < n; row++) {
    const pos = positions[row]!;
    for (let i = 0; i < d; i += 2) {
      const angle = pos / Math.pow(10000, i / d);
      pe[row * d + i] = Math.sin(angle);
      if (i + 1 < d) pe[row * d + i + 1] = Math.cos(angle);
    }
  }
  return fromTypedArray(pe, [n, d]); // [N, d]
}

/** Padding mask [B, T] (1 = token, 0 = padding; int, float or bool) -> bool [B, 1, 1, T], true = attend. */
export function keyPaddingMask(mask: Tensor, b: number, t: number): Tensor {
  if (mask.ndim !== 2 || mask.shape[0] !== b || mask.shape[1] !== t) {
    fail('keyPaddingMask', `padding mask must be [${b}, ${t}], got [${mask.shape.join(', ')}]`);
  }
  return compare('ne', mask, 0).reshape(b, 1, 1, t); // [B, 1, 1, T]: broadcast over heads and queries
}

/**
 * torch.nn.MultiheadAttention: q, k, v projections packed in `in_proj_weight` [3 d, d] and
 * `in_proj_bias` [3 d] (rows 0..d-1 are W_q, then W_k, then W_v), and `out_proj`.
 */
export class PackedMultiheadAttention extends Module {
  readonly inProjWeight: Tensor;
  readonly inProjBias: Tensor;
  readonly outProj: Linear;
  /** Dropout on the attention weights (nn.MultiheadAttention's dropout argument). */
  readonly dropout: Dropout;

  constructor(readonly dModel: number, readonly numHeads: number, g: Generator, opts: { dropout?: number } = {}) {
    super();
    const bound = Math.sqrt(6 / (dModel + 3 * dModel)); // xavier_uniform_ over [3 d, d], as torch
    this.inProjWeight = this.param('in_proj_weight', uniform([3 * dModel, dModel], -bound, bound, { generator: g }));
    this.inProjBias = this.param('in_proj_bias', zeros([3 * dModel]));
    this.outProj = this.module('out_proj', new Linear(dModel, dModel, { generator: g }));
    this.dropout = this.module('dropout', new Dropout(opts.dropout ?? 0));
  }

  /**
   * query [B, Tq, d], key/value [B, Tk, d]; keyMask bool [B, 1, 1, Tk] -> [B, Tq, d]. With a
   * self-attention `cache` the new keys/values are stored and attention reads all it keeps; with a
   * `cross` cache the keys/values of keyValue are projected once and reused.
   */
  forward(query: Tensor, keyValue: Tensor, opts: { keyMask?: Tensor | null; causal?: boolean; cache?: LayerKVCache; cross?: CrossKVCache } = {}): Tensor {
    const d = this.dModel;
    const proj = (x: Tensor, i: number) => linear(x, this.inProjWeight.narrow(0, i * d, d), this.inProjBias.narrow(0, i * d, d));
    const q = splitHeads(proj(query, 0), this.numHeads); // [B, nh, Tq, hd]
    const k = opts.cross?.keys ?? splitHeads(proj(keyValue, 1), this.numHeads); // [B, nh, Tk, hd]
    const v = opts.cross?.values ?? splitHeads(proj(keyValue, 2), this.numHeads); // [B, nh, Tk, hd]
    if (opts.cross && !opts.cross.keys) opts.cross.store(k, v);
    const attn = attentionWithCache(q, k, v, opts.cache, {
      causal: opts.causal ?? false, ...(opts.keyMask ? { mask: opts.keyMask } : {}), dropout: this.dropout.rate, generator: this.dropout.generator,
    }); // [B, nh, Tq, hd]
    return this.outProj.forward(mergeHeads(attn)); // [B, Tq, d]
  }
}

/**
 * Position-wise feed-forward (sec. 3.3): linear2(dropout(act(linear1(x)))); the names are the
 * layer's own (`linear1`, `dropout`, `linear2`).
 */
function feedForward(layer: { linear1: Linear; linear2: Linear; dropout: Dropout; act: (x: Tensor) => Tensor }, x: Tensor): Tensor {
  return layer.linear2.forward(layer.dropout.forward(layer.act(layer.linear1.forward(x)))); // [B, T, d]
}

/**
 * nn.TransformerEncoderLayer (norm_first=False): x = norm1(x + dropout1(self_attn(x)));
 * x = norm2(x + dropout2(ffn(x))).
 */
export class TransformerEncoderLayer extends Module {
  readonly selfAttn: PackedMultiheadAttention;
  readonly linear1: Linear;
  readonly dropout: Dropout;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly dropout1: Dropout;
  readonly dropout2: Dropout;
  readonly act: (x: Tensor) => Tensor;

  /** `layer` is the layer index, for the names of intermediates. */
  constructor(config: TransformerConfig, g: Generator, readonly layer = 0) {
    super();
    const { d_model: d, dim_feedforward: ff, layer_norm_eps: eps } = config;
    this.selfAttn = this.module('self_attn', new PackedMultiheadAttention(d, config.nhead, g, { dropout: config.dropout }));
    this.linear1 = this.module('linear1', new Linear(d, ff, { generator: g }));
    this.dropout = this.module('dropout', new Dropout(config.dropout));
    this.linear2 = this.module('linear2', new Linear(ff, d, { generator: g }));
    this.norm1 = this.module('norm1', new LayerNorm(d, eps));
    this.norm2 = this.module('norm2', new LayerNorm(d, eps));
    this.dropout1 = this.module('dropout1', new Dropout(config.dropout));
    this.dropout2 = this.module('dropout2', new Dropout(config.dropout));
    this.act = ACTIVATIONS[config.activation]!;
  }

  /** x [B, S, d], srcKeyMask bool [B, 1, 1, S] -> [B, S, d] */
  forward(x: Tensor, srcKeyMask: Tensor | null): Tensor {
    const il = this.layer;
    const attnOut = named(this.selfAttn.forward(x, x, { keyMask: srcKeyMask }), 'enc_attn_out', il); // [B, S, d]
    x = named(this.norm1.forward(add(x, this.dropout1.forward(attnOut))), 'enc_ffn_inp', il);
    const ffnOut = named(feedForward(this, x), 'enc_ffn_out', il); // [B, S, d]
    return named(this.norm2.forward(add(x, this.dropout2.forward(ffnOut))), 'enc_l_out', il);
  }
}

/**
 * nn.TransformerDecoderLayer (norm_first=False): x = norm1(x + dropout1(self_attn(x, causal)));
 * x = norm2(x + dropout2(multihead_attn(x, memory))); x = norm3(x + dropout3(ffn(x))).
 */
export class TransformerDecoderLayer extends Module {
  readonly selfAttn: PackedMultiheadAttention;
  readonly multiheadAttn: PackedMultiheadAttention;
  readonly linear1: Linear;
  readonly dropout: Dropout;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly norm3: LayerNorm;
  readonly dropout1: Dropout;
  readonly dropout2: Dropout;
  readonly dropout3: Dropout;
  readonly act: (x: Tensor) => Tensor;

  /** `layer` is the layer index, for the names of intermediates. */
  constructor(config: TransformerConfig, g: Generator, readonly layer = 0) {
    super();
    const { d_model: d, dim_feedforward: ff, layer_norm_eps: eps } = config;
    this.selfAttn = this.module('self_attn', new PackedMultiheadAttention(d, config.nhead, g, { dropout: config.dropout }));
    this.multiheadAttn = this.module('multihead_attn', new PackedMultiheadAttention(d, config.nhead, g, { dropout: config.dropout }));
    this.linear1 = this.module('linear1', new Linear(d, ff, { generator: g }));
    this.dropout = this.module('dropout', new Dropout(config.dropout));
    this.linear2 = this.module('linear2', new Linear(ff, d, { generator: g }));
    this.norm1 = this.module('norm1', new LayerNorm(d, eps));
    this.norm2 = this.module('norm2', new LayerNorm(d, eps));
    this.norm3 = this.module('norm3', new LayerNorm(d, eps));
    this.dropout1 = this.module('dropout1', new Dropout(config.dropout));
    this.dropout2 = this.module('dropout2', new Dropout(config.dropout));
    this.dropout3 = this.module('dropout3', new Dropout(config.dropout));
    this.act = ACTIVATIONS[config.activation]!;
  }

  /** x [B, T, d], memory [B, S, d]; key masks bool [B, 1, 1, T] / [B, 1, 1, S] -> [B, T, d] */
  forward(x: Tensor, memory: Tensor, masks: { tgtKeyMask: Tensor | null; memoryKeyMask: Tensor | null }, cache: { self?: LayerKVCache; cross?: CrossKVCache } = {}): Tensor {
    const il = this.layer;
    const attnOut = named(this.selfAttn.forward(x, x, { keyMask: masks.tgtKeyMask, causal: true, ...(cache.self ? { cache: cache.self } : {}) }), 'dec_attn_out', il); // [B, T, d]
    x = named(this.norm1.forward(add(x, this.dropout1.forward(attnOut))), 'dec_cross_inp', il);
    const crossOut = named(this.multiheadAttn.forward(x, memory, { keyMask: masks.memoryKeyMask, ...(cache.cross ? { cross: cache.cross } : {}) }), 'dec_cross_out', il); // [B, T, d]
    x = named(this.norm2.forward(add(x, this.dropout2.forward(crossOut))), 'dec_ffn_inp', il);
    const ffnOut = named(feedForward(this, x), 'dec_ffn_out', il); // [B, T, d]
    return named(this.norm3.forward(add(x, this.dropout3.forward(ffnOut))), 'dec_l_out', il);
  }
}

/** nn.TransformerEncoder: `layers`, then the final `norm`. */
export class TransformerEncoder extends Module {
  readonly layers: ModuleList<TransformerEncoderLayer>;
  readonly norm: LayerNorm;

  constructor(config: TransformerConfig, g: Generator) {
    super();
    this.layers = this.module('layers', new ModuleList(Array.from({ length: config.num_encoder_layers }, (_, i) => new TransformerEncoderLayer(config, g, i))));
    this.norm = this.module('norm', new LayerNorm(config.d_model, config.layer_norm_eps));
  }

  forward(x: Tensor, srcKeyMask: Tensor | null): Tensor {
    for (const layer of this.layers) x = layer.forward(x, srcKeyMask);
    return named(this.norm.forward(x), 'enc_result_norm'); // [B, S, d]
  }
}

/** nn.TransformerDecoder: `layers`, then the final `norm`. */
export class TransformerDecoder extends Module {
  readonly layers: ModuleList<TransformerDecoderLayer>;
  readonly norm: LayerNorm;

  constructor(config: TransformerConfig, g: Generator) {
    super();
    this.layers = this.module('layers', new ModuleList(Array.from({ length: config.num_decoder_layers }, (_, i) => new TransformerDecoderLayer(config, g, i))));
    this.norm = this.module('norm', new LayerNorm(config.d_model, config.layer_norm_eps));
  }

  forward(x: Tensor, memory: Tensor, masks: { tgtKeyMask: Tensor | null; memoryKeyMask: Tensor | null }, cache?: DecoderKVCache): Tensor {
    for (const layer of this.layers) {
      const self = layerCache(cache?.self, layer.layer, this.layers.length, 'TransformerDecoder');
      const cross = cache?.cross?.[layer.layer];
      x = layer.forward(x, memory, masks, { ...(self ? { self } : {}), ...(cross ? { cross } : {}) });
    }
    return named(this.norm.forward(x), 'dec_result_norm'); // [B, T, d]
  }
}

/** Padding masks, [B, S] / [B, T], 1 = token and 0 = padding; absent means no padding. */
export interface Seq2SeqMasks {
  srcMask?: Tensor;
  tgtMask?: Tensor;
}

/**
 * The whole model: shared `embedding`, `encoder`, `decoder` (nn.Transformer's names) and the
 * output projection tied to the embedding.
 */
export class Transformer extends Module {
  readonly embedding: Embedding;
  readonly encoder: TransformerEncoder;
  readonly decoder: TransformerDecoder;
  /** Dropout on the sums of embeddings and positional encodings (sec. 5.4); not part of nn.Transformer. */
  readonly dropout: Dropout;
  /** The generator every dropout of this model draws from (seed it, or save and restore its state with a checkpoint). */
  readonly dropoutGenerator: Generator;

  /** `generator` initialises the weights; `dropoutGenerator` draws dropout masks (default: a Generator seeded 0 each). */
  constructor(readonly config: TransformerConfig, opts: { generator?: Generator; dropoutGenerator?: Generator } = {}) {
    super();
    const g = opts.generator ?? new Generator(0);
    // N(0, d^-1/2): after the sqrt(d) scale the embeddings have unit variance, as the positions
    this.embedding = this.module('embedding', new Embedding(config.vocab_size, config.d_model, { std: 1 / Math.sqrt(config.d_model), generator: g }));
    this.encoder = this.module('encoder', new TransformerEncoder(config, g));
    this.decoder = this.module('decoder', new TransformerDecoder(config, g));
    this.dropout = this.module('dropout', new Dropout(config.dropout));
    this.dropoutGenerator = shareDropoutGenerator(this, opts.dropoutGenerator ?? new Generator(0));
  }

  /** ids [B, T] at positions start..start+T-1 -> embedding[ids] * sqrt(d_model) + PE [B, T, d] (before dropout) */
  embed(ids: Tensor, start = 0): Tensor {
    const d = this.config.d_model;
    return add(mul(this.embedding.forward(ids), Math.sqrt(d)), sinusoidalPositions(ids.shape[1]!, d, start)); // [B, T, d]
  }

  /** src ids [B, S] -> memory [B, S, d] */
  encode(srcIds: Tensor, srcMask?: Tensor): Tensor {
    const [b, s] = srcIds.shape as [number, number];
    const x = this.dropout.forward(named(this.embed(srcIds), 'enc_inp_embd')); // [B, S, d]
    return this.encoder.forward(x, srcMask ? keyPaddingMask(srcMask, b, s) : null);
  }

  /** tgt ids [B, T], memory [B, S, d] -> decoder states [B, T, d] (causal: position t sees targets <= t) */
  decode(tgtIds: Tensor, memory: Tensor, masks: Seq2SeqMasks = {}, cache?: DecoderKVCache): Tensor {
    const [b, t] = tgtIds.shape as [number, number];
    const s = memory.shape[1]!;
    if (cache && masks.tgtMask) fail('Transformer', 'a target padding mask cannot be combined with a KV cache');
    // with a cache the targets sit at positions offset..offset+T-1 and attend to the cached ones too
    const x = this.dropout.forward(named(this.embed(tgtIds, cacheOffset(cache?.self, 'Transformer')), 'dec_inp_embd')); // [B, T, d]
    return this.decoder.forward(x, memory, {
      tgtKeyMask: masks.tgtMask ? keyPaddingMask(masks.tgtMask, b, t) : null,
      memoryKeyMask: masks.srcMask ? keyPaddingMask(masks.srcMask, b, s) : null,
    }, cache);
  }

  /** decoder states [B, T, d] -> logits [B, T, V]: the pre-softmax projection tied to the embedding. */
  logits(hidden: Tensor): Tensor {
    return named(matmul(hidden, this.embedding.weight.mT), 'result_output'); // [B, T, V], tied: hidden @ embedding^T
  }

  /** src ids [B, S], tgt ids [B, T] (int32) -> logits [B, T, V] for the next target token */
  forward(srcIds: Tensor, tgtIds: Tensor, masks: Seq2SeqMasks = {}): Tensor {
    if (srcIds.ndim !== 2 || tgtIds.ndim !== 2) fail('Transformer', `source and target ids must be [B, S] and [B, T]`);
    const memory = this.encode(srcIds, masks.srcMask); // [B, S, d]
    const hidden = this.decode(tgtIds, memory, masks); // [B, T, d]
    return this.logits(hidden); // [B, T, V]
  }

  /** Loads a state dict saved from torch: nn.Transformer's names plus `embedding.weight`. */
  loadWeights(source: TensorSource): this {
    loadWeights(this, source, { what: 'Transformer.loadWeights' });
    return this;
  }

  static fromPretrained(pretrained: { config: Readonly<Record<string, unknown>>; weights: TensorSource }): Transformer {
    return withoutInit(() => new Transformer(TransformerConfig.fromDict(pretrained.config))).loadWeights(pretrained.weights);
  }
}
