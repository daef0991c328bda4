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
 * prefix, and its `attn.bias` mask buffers, load too. Dropout is not applied (inference semantics).
 */
import { add, fail, fromTypedArray, matmul, normal, zeros, Generator, type Tensor } from '../tensor/index.js';
import { gelu, relu, split } from '../ops/index.js';
import {
  Embedding, LayerNorm, Linear, Module, ModuleList, attentionWithCache, cacheOffset, keepLast, layerCache, mergeHeads, named, splitHeads,
  type CachedForwardOptions, type LayerKVCache, type ModelKVCache,
} from '../nn/index.js';
import type { TensorSource } from '../formats/index.js';
import { assignKnown, configToDict, requirePositiveInt } from './config.js';
import { loadWeights } from './weights.js';

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

  static fromDict(dict: Readonly<Record<string, unknown>>): GPT2Config {
    const c = assignKnown(new GPT2Config(), dict, 'GPT2Config');
    for (const f of ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head'] as const) requirePositiveInt('GPT2Config', f, c[f]);
    if (c.n_embd % c.n_head !== 0) fail('GPT2Config', `n_embd ${c.n_embd} is not divisible by n_head ${c.n_head}`);
    if (!(c.activation_function in ACTIVATIONS)) fail('GPT2Config', `activation_function '${c.activation_function}' is not supported (${Object.keys(ACTIVATIONS).join(', ')})`);
    return c;
  }

  /** config.json fields (fromDict(toDict()) gives an equal config). */
  toDict(): Record<string, unknown> {
    return configToDict(this);
  }
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

  constructor(readonly config: GPT2Config, g: Generator) {
    super();
    const d = config.n_embd;
    this.cAttn = this.module('c_attn', new Conv1D(d, 3 * d, { std: config.initializer_range, generator: g }));
    this.cProj = this.module('c_proj', new Conv1D(d, d, { std: config.initializer_range, generator: g }));
  }

  /** x [B, T, D] -> [B, T, D]; with a cache, the T tokens are stored and attend to all it keeps. */
  forward(x: Tensor, cache?: LayerKVCache): Tensor {
    const { n_embd: d, n_head: nh } = this.config;
    const [query, key, value] = split(this.cAttn.forward(x), d, -1) as [Tensor, Tensor, Tensor]; // 3 x [B, T, D]
    const q = splitHeads(query, nh); // [B, nh, T, hd]
    const k = splitHeads(key, nh); // [B, nh, T, hd]
    const v = splitHeads(value, nh); // [B, nh, T, hd]
    const attnOutput = attentionWithCache(q, k, v, cache, { causal: true }); // [B, nh, T, hd], scale 1/sqrt(hd)
    return this.cProj.forward(mergeHeads(attnOutput)); // [B, T, D]
  }
}

/** Position-wise feed-forward: c_proj(act(c_fc(x))), width n_inner (4 D by default). */
export class GPT2MLP extends Module {
  readonly cFc: Conv1D;
  readonly cProj: Conv1D;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: GPT2Config, g: Generator) {
    super();
    const inner = config.n_inner ?? 4 * config.n_embd;
    this.cFc = this.module('c_fc', new Conv1D(config.n_embd, inner, { std: config.initializer_range, generator: g }));
    this.cProj = this.module('c_proj', new Conv1D(inner, config.n_embd, { std: config.initializer_range, generator: g }));
    this.act = ACTIVATIONS[config.activation_function]!;
  }

  forward(x: Tensor): Tensor {
    const hidden = this.act(this.cFc.forward(x)); // [B, T, inner]
    return this.cProj.forward(hidden); // [B, T, D]
  }
}

/** Pre-LN block: x + attn(ln_1(x)), then + mlp(ln_2(.)). */
export class GPT2Block extends Module {
  readonly ln1: LayerNorm;
  readonly attn: GPT2Attention;
  readonly ln2: LayerNorm;
  readonly mlp: GPT2MLP;

  /** `layer` is the block index, for the names of intermediates. */
  constructor(config: GPT2Config, g: Generator, readonly layer = 0) {
    super();
    this.ln1 = this.module('ln_1', new LayerNorm(config.n_embd, config.layer_norm_epsilon));
    this.attn = this.module('attn', new GPT2Attention(config, g));
    this.ln2 = this.module('ln_2', new LayerNorm(config.n_embd, config.layer_norm_epsilon));
    this.mlp = this.module('mlp', new GPT2MLP(config, g));
  }

  forward(x: Tensor, cache?: LayerKVCache): Tensor {
    const il = this.layer;
    const attnNorm = named(this.ln1.forward(x), 'attn_norm', il); // [B, T, D]
    const attnOut = named(this.attn.forward(attnNorm, cache), 'attn_out', il); // [B, T, D]
    const afterAttn = named(add(x, attnOut), 'ffn_inp', il); // [B, T, D]
    const ffnNorm = named(this.ln2.forward(afterAttn), 'ffn_norm', il); // [B, T, D]
    const mlpOut = named(this.mlp.forward(ffnNorm), 'ffn_out', il); // [B, T, D]
    return named(add(afterAttn, mlpOut), 'l_out', il); // [B, T, D]
  }
}

/** The transformer trunk (`transformer.*` in checkpoints): embeddings, blocks, final norm. */
export class GPT2Model extends Module {
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly h: ModuleList<GPT2Block>;
  readonly lnF: LayerNorm;

  constructor(readonly config: GPT2Config, g: Generator) {
    super();
    const std = config.initializer_range;
    this.wte = this.module('wte', new Embedding(config.vocab_size, config.n_embd, { std, generator: g }));
    this.wpe = this.module('wpe', new Embedding(config.n_positions, config.n_embd, { std, generator: g }));
    this.h = this.module('h', new ModuleList(Array.from({ length: config.n_layer }, (_, i) => new GPT2Block(config, g, i))));
    this.lnF = this.module('ln_f', new LayerNorm(config.n_embd, config.layer_norm_epsilon));
  }

  /** ids [B, T] int32 -> hidden states [B, T, D]; with a cache the tokens sit at positions offset..offset+T-1. */
  forward(inputIds: Tensor, cache?: ModelKVCache | null): Tensor {
    const t = inputIds.shape[inputIds.ndim - 1]!;
    const start = cacheOffset(cache, 'GPT2Model');
    if (start + t > this.config.n_positions) fail('GPT2Model', `positions up to ${start + t} exceed n_positions ${this.config.n_positions}`);
    const positions = fromTypedArray(Int32Array.from({ length: t }, (_, i) => start + i), [t]); // [T]
    let x = named(add(this.wte.forward(inputIds), this.wpe.forward(positions)), 'inp_embd'); // [B, T, D]
    for (const block of this.h) x = block.forward(x, layerCache(cache, block.layer, this.h.length, 'GPT2Model'));
    return named(this.lnF.forward(x), 'result_norm');
  }
}

/** GPT-2 with its language-model head (tied to wte unless tie_word_embeddings is false). */
export class GPT2LMHeadModel extends Module {
  readonly transformer: GPT2Model;
  readonly lmHead: Linear | null;

  constructor(readonly config: GPT2Config, opts: { generator?: Generator } = {}) {
    super();
    const g = opts.generator ?? new Generator(0);
    this.transformer = this.module('transformer', new GPT2Model(config, g));
    this.lmHead = config.tie_word_embeddings ? null : this.module('lm_head', new Linear(config.n_embd, config.vocab_size, { bias: false, generator: g }));
  }

  /** ids [B, T] int32 -> logits [B, T, V] (the last logitsToKeep positions when given) */
  forward(inputIds: Tensor, opts: CachedForwardOptions = {}): Tensor {
    const hidden = keepLast(this.transformer.forward(inputIds, opts.cache), opts.logitsToKeep); // [B, T, D]
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
    return new GPT2LMHeadModel(GPT2Config.fromDict(pretrained.config)).loadWeights(pretrained.weights);
  }
}
