/**
 * GPT-2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners").
 * Reference implementation: Hugging Face transformers `models/gpt2/modeling_gpt2.py`
 * (GPT2LMHeadModel); cross-checked against nanoGPT's model.py.
 *
 * A decoder-only transformer with learned absolute positions and pre-LayerNorm blocks:
 *   x = wte[ids] + wpe[pos]
 *   x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))       for each of n_layer blocks
 *   logits = ln_f(x) @ wte^T                          (lm_head tied to wte)
 * Checkpoint layout: OpenAI's Conv1D stores weights [in, out] (y = x W + b), so c_attn.weight is
 * [n_embd, 3 n_embd] and holds q, k, v side by side. Tensor names are those of GPT2LMHeadModel
 * (`transformer.h.0.attn.c_attn.weight`); the original `gpt2` upload without the `transformer.`
 * prefix, and its `attn.bias` mask buffers, load too. Dropout is applied where transformers applies
 * it (embd_pdrop on the embedding sum, attn_pdrop on the attention weights, resid_pdrop on each
 * sublayer's output) in training mode only; models start, and load, in evaluation mode.
 *
 * Variants for experiments (attn's own config fields, not transformers'; defaults are GPT-2):
 * `position_embedding_type` 'learned' (wpe, GPT-2), 'sinusoidal' (Vaswani et al. 2017's fixed
 * table added to the token embeddings), 'rope' (rotary q/k, Su et al. 2021, base rope_theta),
 * 'alibi' (linear attention biases, Press et al. 2022) or 'none' (causal attention alone, NoPE);
 * and `norm_position` 'pre' (GPT-2) or 'post' (LayerNorm after each residual add, as the original
 * Transformer and GPT-1; no ln_f, following Xiong et al. 2020, "On Layer Normalization in the
 * Transformer Architecture"). Only learned positions are bounded by n_positions. Such a model
 * round-trips through config.json/safetensors with attn but is not exported as a transformers
 * folder (toHfExport refuses it). For generation the forward takes a KV cache per layer; positions
 * (learned, sinusoidal, RoPE angles, ALiBi distances) then start at the cache's offset. A padded
 * batch passes HF's attention_mask; each row's positions then count its real tokens (nn/padding.ts).
 */
import { add, fail, fromTypedArray, matmul, normal, zeros, Generator, type Tensor, withoutInit } from '../tensor/index.js';
import { gelu, relu, split } from '../ops/index.js';
import {
  Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, RotaryEmbedding, alibiBias, alibiBiasAt, attendFetched, attentionWithCache,
  cacheOffset, fetchedPositions, keepLast, layerCache, mergeHeads, named, paddedPositions, readAttentionMask, shareDropoutGenerator, splitHeads,
  type CachedForwardOptions, type KVFetch, type LayerKVCache, type ModelKVCache, type BatchPadding, type RopeAngles,
} from '../nn/index.js';
import type { TensorSource } from '../formats/index.js';
import { assignKnown, configToDict, requirePositiveInt, requireProbability } from './config.js';
import { sinusoidalPositions, sinusoidalPositionsAt } from './transformer.js';
import { loadWeights } from './weights.js';

/** How positions enter a GPT2-family model (attn extension; 'learned' is GPT-2). */
export const GPT2_POSITION_TYPES = ['learned', 'sinusoidal', 'rope', 'alibi', 'none'] as const;
export type GPT2PositionType = (typeof GPT2_POSITION_TYPES)[number];

/** GPT2Config with config.json field names; defaults are those of transformers' GPT2Config (gpt2 small). */
export class GPT2Config {
  model_type = 'gpt2';
  vocab_size = 50257;
  n_positions = 1024;
  n_embd = 768;
  n_layer = 12;
  n_head = 12;
  /** MLP width; null means 4 * n_embd. */
  n_inner: number | null = null;
  activation_function = 'gelu_new';
  layer_norm_epsilon = 1e-5;
  initializer_range = 0.02;
  tie_word_embeddings = true;
  /** Dropout on the embedding sum, the attention weights, and each sublayer's output (training mode only). */
  embd_pdrop = 0.1;
  attn_pdrop = 0.1;
  resid_pdrop = 0.1;
  /** attn extension: 'learned' (GPT-2's wpe), 'sinusoidal', 'rope', 'alibi' or 'none'. */
  position_embedding_type: string = 'learned';
  /** attn extension: 'pre' (GPT-2) or 'post' LayerNorm. */
  norm_position: string = 'pre';
  /** attn extension: the RoPE base when position_embedding_type is 'rope'. */
  rope_theta = 10000;

  static fromDict(dict: Readonly<Record<string, unknown>>): GPT2Config {
    const c = assignKnown(new GPT2Config(), dict, 'GPT2Config');
    for (const f of ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head'] as const) requirePositiveInt('GPT2Config', f, c[f]);
    if (c.n_embd % c.n_head !== 0) fail('GPT2Config', `n_embd ${c.n_embd} is not divisible by n_head ${c.n_head}`);
    if (!(c.activation_function in ACTIVATIONS)) fail('GPT2Config', `activation_function '${c.activation_function}' is not supported (${Object.keys(ACTIVATIONS).join(', ')})`);
    for (const f of ['embd_pdrop', 'attn_pdrop', 'resid_pdrop'] as const) requireProbability('GPT2Config', f, c[f]);
    if (!(GPT2_POSITION_TYPES as readonly string[]).includes(c.position_embedding_type)) {
      fail('GPT2Config', `position_embedding_type '${c.position_embedding_type}' is not supported (${GPT2_POSITION_TYPES.join(', ')})`);
    }
    if (c.norm_position !== 'pre' && c.norm_position !== 'post') fail('GPT2Config', `norm_position '${c.norm_position}' is not supported (pre, post)`);
    if (c.position_embedding_type === 'rope' && (c.n_embd / c.n_head) % 2 !== 0) fail('GPT2Config', `rope needs an even head dim, got ${c.n_embd / c.n_head}`);
    if (!(c.rope_theta > 0)) fail('GPT2Config', `rope_theta must be positive, got ${c.rope_theta}`);
    return c;
  }

  /**
   * config.json fields (fromDict(toDict()) gives an equal config). attn's extension fields are
   * written only when they differ from GPT-2, so a plain GPT-2 config stays transformers' own.
   */
  toDict(): Record<string, unknown> {
    const d = configToDict(this);
    if (d['position_embedding_type'] === 'learned') delete d['position_embedding_type'];
    if (d['norm_position'] === 'pre') delete d['norm_position'];
    if (this.position_embedding_type !== 'rope' && d['rope_theta'] === 10000) delete d['rope_theta'];
    return d;
  }

  /** Why transformers' GPT-2 cannot run this config (a variant attn added), or null for plain GPT-2. */
  transformersIncompatibility(): string | null {
    const variants: string[] = [];
    if (this.position_embedding_type !== 'learned') variants.push(`position_embedding_type '${this.position_embedding_type}'`);
    if (this.norm_position !== 'pre') variants.push(`norm_position '${this.norm_position}'`);
    return variants.length ? `${variants.join(' and ')} is an attn variant that transformers' GPT-2 does not have` : null;
  }
}

/** What the position scheme gives the attention of every block, for one forward pass. */
export interface GPT2AttentionPositions {
  /** RoPE angles of the T positions ('rope'). */
  angles?: RopeAngles;
  /** Additive attention bias [1, nh, T, T] ('alibi'). */
  bias?: Tensor;
  /** With a cache: the ALiBi bias [1, nh, T, L] for the key positions the cache returns ('alibi'). */
  biasAt?: (queryStart: number, fetch: KVFetch) => Tensor;
  /** A padded batch: which columns hold real tokens (padded keys are masked in every block). */
  padding?: BatchPadding | null;
}

const ACTIVATIONS: Record<string, (x: Tensor) => Tensor> = {
  gelu_new: (x) => gelu(x, 'tanh'),
  gelu_pytorch_tanh: (x) => gelu(x, 'tanh'),
  gelu: (x) => gelu(x),
  relu: (x) => relu(x),
};

/** OpenAI's Conv1D: y = x W + b with W stored [in, out] (the transpose of nn.Linear). */
export class Conv1D extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { std?: number; generator?: Generator } = {}) {
    super();
    this.weight = this.param('weight', normal([inFeatures, outFeatures], 0, opts.std ?? 0.02, opts.generator ? { generator: opts.generator } : {}));
    this.bias = this.param('bias', zeros([outFeatures]));
  }

  forward(x: Tensor): Tensor {
    return add(matmul(x, this.weight), this.bias); // [..., out]
  }
}

/** Causal self-attention with the fused q/k/v projection c_attn. */
export class GPT2Attention extends Module {
  readonly cAttn: Conv1D;
  readonly cProj: Conv1D;
  readonly attnDropout: Dropout;
  readonly residDropout: Dropout;
  /** RoPE on q and k (position_embedding_type 'rope'). */
  readonly rope: RotaryEmbedding | null;

  constructor(readonly config: GPT2Config, g: Generator) {
    super();
    const d = config.n_embd;
    this.cAttn = this.module('c_attn', new Conv1D(d, 3 * d, { std: config.initializer_range, generator: g }));
    this.cProj = this.module('c_proj', new Conv1D(d, d, { std: config.initializer_range, generator: g }));
    this.attnDropout = this.module('attn_dropout', new Dropout(config.attn_pdrop));
    this.residDropout = this.module('resid_dropout', new Dropout(config.resid_pdrop));
    this.rope = config.position_embedding_type === 'rope' ? new RotaryEmbedding({ dim: d / config.n_head, base: config.rope_theta, layout: 'half' }) : null;
  }

  /**
   * x [B, T, D] -> [B, T, D]; `positions` carries RoPE angles or the ALiBi bias for the variants
   * that use them; with a cache, the T tokens are stored and attend to all it keeps.
   */
  forward(x: Tensor, positions: GPT2AttentionPositions = {}, cache?: LayerKVCache): Tensor {
    const { n_embd: d, n_head: nh } = this.config;
    const [query, key, value] = split(this.cAttn.forward(x), d, -1) as [Tensor, Tensor, Tensor]; // 3 x [B, T, D]
    let q = splitHeads(query, nh); // [B, nh, T, hd]
    let k = splitHeads(key, nh); // [B, nh, T, hd]
    const v = splitHeads(value, nh); // [B, nh, T, hd]
    if (this.rope) {
      if (!positions.angles) fail('GPT2Attention', 'rope positions need the RoPE angles');
      q = this.rope.apply(q, positions.angles);
      k = this.rope.apply(k, positions.angles);
    }
    const attn = { causal: true, dropout: this.attnDropout.rate, generator: this.attnDropout.generator, padding: positions.padding ?? null };
    let attnOutput: Tensor; // [B, nh, T, hd], scale 1/sqrt(hd)
    if (cache && positions.biasAt) {
      const queryStart = cache.offset;
      const fetch = cache.updateAndFetch(k, v); // ALiBi's bias depends on the positions of the keys the cache returns
      attnOutput = attendFetched(q, fetch, queryStart, { ...attn, mask: positions.biasAt(queryStart, fetch) }, cache);
    } else {
      attnOutput = attentionWithCache(q, k, v, cache, { ...attn, ...(positions.bias ? { mask: positions.bias } : {}) });
    }
    return this.residDropout.forward(this.cProj.forward(mergeHeads(attnOutput))); // [B, T, D]
  }
}

/** Position-wise feed-forward: c_proj(act(c_fc(x))), width n_inner (4 D by default). */
export class GPT2MLP extends Module {
  readonly cFc: Conv1D;
  readonly cProj: Conv1D;
  readonly dropout: Dropout;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: GPT2Config, g: Generator) {
    super();
    const inner = config.n_inner ?? 4 * config.n_embd;
    this.cFc = this.module('c_fc', new Conv1D(config.n_embd, inner, { std: config.initializer_range, generator: g }));
    this.cProj = this.module('c_proj', new Conv1D(inner, config.n_embd, { std: config.initializer_range, generator: g }));
    this.dropout = this.module('dropout', new Dropout(config.resid_pdrop));
    this.act = ACTIVATIONS[config.activation_function]!;
  }

  forward(x: Tensor): Tensor {
    const hidden = this.act(this.cFc.forward(x)); // [B, T, inner]
    return this.dropout.forward(this.cProj.forward(hidden)); // [B, T, D]
  }
}

/** Pre-LN block: x + attn(ln_1(x)), then + mlp(ln_2(.)); with norm_position 'post': ln_1(x + attn(x)), then ln_2(. + mlp(.)). */
export class GPT2Block extends Module {
  readonly ln1: LayerNorm;
  readonly attn: GPT2Attention;
  readonly ln2: LayerNorm;
  readonly mlp: GPT2MLP;

  /** `layer` is the block index, for the names of intermediates. */
  constructor(readonly config: GPT2Config, g: Generator, readonly layer = 0) {
    super();
    this.ln1 = this.module('ln_1', new LayerNorm(config.n_embd, config.layer_norm_epsilon));
    this.attn = this.module('attn', new GPT2Attention(config, g));
    this.ln2 = this.module('ln_2', new LayerNorm(config.n_embd, config.layer_norm_epsilon));
    this.mlp = this.module('mlp', new GPT2MLP(config, g));
  }

  forward(x: Tensor, positions: GPT2AttentionPositions = {}, cache?: LayerKVCache): Tensor {
    const il = this.layer;
    if (this.config.norm_position === 'post') return this.forwardPostNorm(x, positions, cache);
    const attnNorm = named(this.ln1.forward(x), 'attn_norm', il); // [B, T, D]
    const attnOut = named(this.attn.forward(attnNorm, positions, cache), 'attn_out', il); // [B, T, D]
    const afterAttn = named(add(x, attnOut), 'ffn_inp', il); // [B, T, D]
    const ffnNorm = named(this.ln2.forward(afterAttn), 'ffn_norm', il); // [B, T, D]
    const mlpOut = named(this.mlp.forward(ffnNorm), 'ffn_out', il); // [B, T, D]
    return named(add(afterAttn, mlpOut), 'l_out', il); // [B, T, D]
  }

  /** Post-LN (the original Transformer's order): each sublayer's residual sum is normalised. */
  private forwardPostNorm(x: Tensor, positions: GPT2AttentionPositions, cache?: LayerKVCache): Tensor {
    const il = this.layer;
    const attnOut = named(this.attn.forward(x, positions, cache), 'attn_out', il); // [B, T, D]
    const afterAttn = named(this.ln1.forward(add(x, attnOut)), 'ffn_inp', il); // [B, T, D]
    const mlpOut = named(this.mlp.forward(afterAttn), 'ffn_out', il); // [B, T, D]
    return named(this.ln2.forward(add(afterAttn, mlpOut)), 'l_out', il); // [B, T, D]
  }
}

/** The transformer trunk (`transformer.*` in checkpoints): embeddings, blocks, final norm. */
export class GPT2Model extends Module {
  readonly wte: Embedding;
  /** Learned positions (GPT-2); null for the other position_embedding_types. */
  readonly wpe: Embedding | null;
  readonly drop: Dropout;
  readonly h: ModuleList<GPT2Block>;
  /** The final LayerNorm of pre-norm models; null with norm_position 'post'. */
  readonly lnF: LayerNorm | null;

  constructor(readonly config: GPT2Config, g: Generator) {
    super();
    const std = config.initializer_range;
    this.wte = this.module('wte', new Embedding(config.vocab_size, config.n_embd, { std, generator: g }));
    this.wpe = config.position_embedding_type === 'learned' ? this.module('wpe', new Embedding(config.n_positions, config.n_embd, { std, generator: g })) : null;
    this.drop = this.module('drop', new Dropout(config.embd_pdrop));
    this.h = this.module('h', new ModuleList(Array.from({ length: config.n_layer }, (_, i) => new GPT2Block(config, g, i))));
    this.lnF = config.norm_position === 'pre' ? this.module('ln_f', new LayerNorm(config.n_embd, config.layer_norm_epsilon)) : null;
  }

  /**
   * ids [B, T] int32 -> hidden states [B, T, D]; with a cache the tokens sit at positions
   * offset..offset+T-1. An `attentionMask` [B, offset + T] with padding gives each row its own
   * positions (cumsum(mask) - 1: learned, sinusoidal, RoPE) and hides its padded keys; ALiBi's
   * bias depends only on column differences, which padding does not change for real tokens.
   */
  forward(inputIds: Tensor, cache?: ModelKVCache | null, attentionMask?: Tensor | null): Tensor {
    const t = inputIds.shape[inputIds.ndim - 1]!;
    const start = cacheOffset(cache, 'GPT2Model');
    const padding = readAttentionMask(attentionMask, inputIds.ndim === 2 ? inputIds.shape[0]! : 1, start + t, 'GPT2Model');
    const positionIds = padding ? paddedPositions(padding, t) : null; // [B, T] row-major
    let x = named(this.embed(inputIds, start, positionIds), 'inp_embd'); // [B, T, D]
    x = this.drop.forward(x);
    const positions = { ...this.attentionPositions(t, start, Boolean(cache), positionIds), padding };
    for (const block of this.h) x = block.forward(x, positions, layerCache(cache, block.layer, this.h.length, 'GPT2Model'));
    return this.lnF ? named(this.lnF.forward(x), 'result_norm') : x;
  }

  /**
   * Token embeddings plus, for learned and sinusoidal positions, the embeddings of positions
   * start..start+T-1, or of each row's `positionIds` [B, T] (row-major) in a padded batch: [B, T, D].
   */
  embed(inputIds: Tensor, start = 0, positionIds: Int32Array | null = null): Tensor {
    const t = inputIds.shape[inputIds.ndim - 1]!;
    const b = positionIds ? positionIds.length / t : 1;
    const tokens = this.wte.forward(inputIds); // [B, T, D]
    switch (this.config.position_embedding_type) {
      case 'learned': {
        const last = positionIds ? positionIds.reduce((m, p) => Math.max(m, p), 0) : start + t - 1;
        if (last >= this.config.n_positions) {
          const what = positionIds ? `position ${last} exceeds` : start === 0 ? `sequence of ${t} tokens exceeds` : `positions ${start}..${start + t - 1} exceed`;
          fail('GPT2Model', `${what} n_positions ${this.config.n_positions} (learned positions; sinusoidal, rope, alibi and none have no limit)`);
        }
        const positions = positionIds
          ? fromTypedArray(positionIds, [b, t]) // [B, T]
          : fromTypedArray(Int32Array.from({ length: t }, (_, i) => start + i), [t]); // [T]
        return add(tokens, this.wpe!.forward(positions)); // [B, T, D]
      }
      case 'sinusoidal': {
        const d = this.config.n_embd;
        if (positionIds) return add(tokens, sinusoidalPositionsAt(positionIds, d).reshape(b, t, d)); // [B, T, D]
        return add(tokens, sinusoidalPositions(t, d, start)); // [B, T, D]
      }
      default: return tokens;
    }
  }

  /**
   * RoPE angles or the ALiBi bias for positions start..start+T-1 (RoPE: or each row's
   * `positionIds` [B, T]), shared by every block (empty for the other types). With a cache ALiBi's bias depends on the key positions each layer's cache
   * returns, so it is computed per layer from them.
   */
  attentionPositions(t: number, start = 0, cached = false, positionIds: Int32Array | null = null): GPT2AttentionPositions {
    const nh = this.config.n_head;
    switch (this.config.position_embedding_type) {
      case 'rope': {
        const rope = this.h.at(0).attn.rope!;
        if (positionIds) return { angles: rope.anglesPerRow(positionIds, positionIds.length / t) }; // cos, sin [B, T, hd/2]: each row's own positions
        return { angles: rope.angles(Array.from({ length: t }, (_, i) => start + i)) }; // cos, sin [T, hd/2]
      }
      case 'alibi':
        if (!cached) return { bias: alibiBias(nh, t, t) }; // [1, nh, T, T]
        return {
          biasAt: (queryStart, fetch) => alibiBiasAt(nh, Array.from({ length: t }, (_, i) => queryStart + i), fetchedPositions(fetch, queryStart, t, 'GPT2Model')), // [1, nh, T, L]
        };
      default: return {};
    }
  }
}

/** GPT-2 with its language-model head (tied to wte unless tie_word_embeddings is false). */
export class GPT2LMHeadModel extends Module {
  readonly transformer: GPT2Model;
  readonly lmHead: Linear | null;
  /** The generator every dropout of this model draws from (seed it, or save and restore its state with a checkpoint). */
  readonly dropoutGenerator: Generator;

  /** `generator` initialises the weights; `dropoutGenerator` draws dropout masks (default: a Generator seeded 0 each). */
  constructor(readonly config: GPT2Config, opts: { generator?: Generator; dropoutGenerator?: Generator } = {}) {
    super();
    const g = opts.generator ?? new Generator(0);
    this.transformer = this.module('transformer', new GPT2Model(config, g));
    this.lmHead = config.tie_word_embeddings ? null : this.module('lm_head', new Linear(config.n_embd, config.vocab_size, { bias: false, generator: g }));
    this.dropoutGenerator = shareDropoutGenerator(this, opts.dropoutGenerator ?? new Generator(0));
  }

  /** ids [B, T] int32 -> logits [B, T, V] (the last logitsToKeep positions when given); attentionMask for a padded batch */
  forward(inputIds: Tensor, opts: CachedForwardOptions = {}): Tensor {
    const hidden = keepLast(this.transformer.forward(inputIds, opts.cache, opts.attentionMask), opts.logitsToKeep); // [B, T, D]
    if (this.lmHead) return named(this.lmHead.forward(hidden), 'result_output'); // [B, T, V]
    return named(matmul(hidden, this.transformer.wte.weight.mT), 'result_output'); // [B, T, V], tied: hidden @ wte^T
  }

  /**
   * Loads a Hugging Face GPT-2 checkpoint: names with or without the `transformer.` prefix;
   * the causal-mask buffers (`attn.bias`, `attn.masked_bias`) and, when tied, `lm_head.weight`
   * are skipped.
   */
  loadWeights(source: TensorSource): this {
    loadWeights(this, source, {
      what: 'GPT2LMHeadModel.loadWeights',
      rename: (n) => (n.startsWith('transformer.') || n.startsWith('lm_head.') ? n : `transformer.${n}`),
      ignore: (n) => /\.attn\.(bias|masked_bias)$/.test(n) || (this.lmHead === null && n === 'lm_head.weight'),
    });
    return this;
  }

  static fromPretrained(pretrained: { config: Readonly<Record<string, unknown>>; weights: TensorSource }): GPT2LMHeadModel {
    return withoutInit(() => new GPT2LMHeadModel(GPT2Config.fromDict(pretrained.config))).loadWeights(pretrained.weights);
  }
}
