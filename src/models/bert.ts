/**
 * BERT (Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers for Language
 * Understanding", arXiv:1810.04805). Reference implementation: Hugging Face transformers
 * `models/bert/modeling_bert.py` (BertModel, BertForMaskedLM, BertForSequenceClassification).
 *
 * An encoder-only transformer with learned absolute positions, segment (token-type) embeddings
 * and post-LayerNorm blocks (the original Transformer's arrangement):
 *   x = LayerNorm(word[ids] + position[pos] + token_type[types])
 *   x = LayerNorm(x + attn(x, padding mask));  x = LayerNorm(x + dense(act(dense(x))))   per layer
 *   masked LM:      logits = LayerNorm(act(dense(x))) @ word^T + cls.predictions.bias
 *   classification: logits = classifier(tanh(pooler.dense(x[:, 0])))     (x[:, 0] is [CLS])
 * Attention is bidirectional; `attentionMask` [B, T] (1 = token, 0 = padding) hides padded keys,
 * as transformers' get_extended_attention_mask. Tensor names are those of HF checkpoints
 * (`bert.encoder.layer.0.attention.self.query.weight`); old checkpoints' `LayerNorm.gamma/beta`
 * and BertModel checkpoints without the `bert.` prefix load too. Dropout is applied where transformers
 * applies it (hidden_dropout_prob after the embedding LayerNorm and on each sublayer's output before
 * its residual add, attention_probs_dropout_prob on the attention weights, classifier_dropout on
 * the pooled state) in training mode only. Named intermediates: inp_embd, inp_norm; per layer
 * attn_out, ffn_inp, ffn_out, l_out; result_output.
 */
import { add, fail, fromTypedArray, matmul, tanh, zeros, Generator, type Tensor, withoutInit } from '../tensor/index.js';
import { gelu, relu, scaledDotProductAttention } from '../ops/index.js';
import { Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, mergeHeads, named, shareDropoutGenerator, splitHeads } from '../nn/index.js';
import type { TensorSource } from '../formats/index.js';
import { assignKnown, configToDict, requirePositiveInt, requireProbability } from './config.js';
import { keyPaddingMask } from './transformer.js';
import { loadWeights } from './weights.js';

/** BertConfig with config.json field names; defaults are those of transformers' BertConfig (bert-base-uncased). */
export class BertConfig {
  model_type = 'bert';
  vocab_size = 30522;
  hidden_size = 768;
  num_hidden_layers = 12;
  num_attention_heads = 12;
  intermediate_size = 3072;
  hidden_act = 'gelu';
  max_position_embeddings = 512;
  type_vocab_size = 2;
  layer_norm_eps = 1e-12;
  pad_token_id = 0;
  position_embedding_type = 'absolute';
  initializer_range = 0.02;
  /** Dropout in training mode: after the embeddings and on each sublayer output / on the attention weights. */
  hidden_dropout_prob = 0.1;
  attention_probs_dropout_prob = 0.1;
  /** Dropout on the pooled state before the classifier; null means hidden_dropout_prob. */
  classifier_dropout: number | null = null;
  /** Classifier outputs; when config.json has only id2label (as saved configs do), its size. */
  num_labels = 2;
  id2label: Record<string, string> | null = null;

  static fromDict(dict: Readonly<Record<string, unknown>>): BertConfig {
    const c = assignKnown(new BertConfig(), dict, 'BertConfig');
    if (dict['num_labels'] === undefined && c.id2label) c.num_labels = Object.keys(c.id2label).length;
    for (const f of ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
      'max_position_embeddings', 'type_vocab_size', 'num_labels'] as const) requirePositiveInt('BertConfig', f, c[f]);
    if (c.hidden_size % c.num_attention_heads !== 0) fail('BertConfig', `hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
    if (!(c.hidden_act in ACTIVATIONS)) fail('BertConfig', `hidden_act '${c.hidden_act}' is not supported (${Object.keys(ACTIVATIONS).join(', ')})`);
    if (c.position_embedding_type !== 'absolute') fail('BertConfig', `position_embedding_type '${c.position_embedding_type}' is not supported (absolute)`);
    for (const f of ['hidden_dropout_prob', 'attention_probs_dropout_prob'] as const) requireProbability('BertConfig', f, c[f]);
    if (c.classifier_dropout !== null) requireProbability('BertConfig', 'classifier_dropout', c.classifier_dropout);
    return c;
  }

  /** config.json fields (fromDict(toDict()) gives an equal config); a null id2label is left out, as transformers then makes num_labels labels. */
  toDict(): Record<string, unknown> {
    const d = configToDict(this);
    if (d['id2label'] === null) delete d['id2label'];
    return d;
  }
}

const ACTIVATIONS: Record<string, (x: Tensor) => Tensor> = {
  gelu: (x) => gelu(x),
  gelu_new: (x) => gelu(x, 'tanh'),
  gelu_pytorch_tanh: (x) => gelu(x, 'tanh'),
  relu: (x) => relu(x),
};

/** Optional inputs besides the ids, as the keyword arguments of transformers' BertModel.forward. */
export interface BertInputs {
  /** [B, T] int32 segment ids (0 for sentence A, 1 for B); default all zeros. */
  tokenTypeIds?: Tensor;
  /** [B, T] 1 for tokens, 0 for padding (int32, float or bool); default all ones. */
  attentionMask?: Tensor;
}

/** word + position + token-type embeddings, then LayerNorm. */
export class BertEmbeddings extends Module {
  readonly wordEmbeddings: Embedding;
  readonly positionEmbeddings: Embedding;
  readonly tokenTypeEmbeddings: Embedding;
  readonly layerNorm: LayerNorm;
  readonly dropout: Dropout;

  constructor(readonly config: BertConfig, g: Generator) {
    super();
    const std = config.initializer_range;
    this.wordEmbeddings = this.module('word_embeddings', new Embedding(config.vocab_size, config.hidden_size, { std, generator: g }));
    this.positionEmbeddings = this.module('position_embeddings', new Embedding(config.max_position_embeddings, config.hidden_size, { std, generator: g }));
    this.tokenTypeEmbeddings = this.module('token_type_embeddings', new Embedding(config.type_vocab_size, config.hidden_size, { std, generator: g }));
    this.layerNorm = this.module('LayerNorm', new LayerNorm(config.hidden_size, config.layer_norm_eps));
    this.dropout = this.module('dropout', new Dropout(config.hidden_dropout_prob));
  }

  /** ids [B, T], tokenTypeIds [B, T] -> [B, T, D] */
  forward(inputIds: Tensor, tokenTypeIds: Tensor): Tensor {
    const t = inputIds.shape[inputIds.ndim - 1]!;
    if (t > this.config.max_position_embeddings) fail('BertEmbeddings', `sequence of ${t} tokens exceeds max_position_embeddings ${this.config.max_position_embeddings}`);
    const positions = fromTypedArray(Int32Array.from({ length: t }, (_, i) => i), [t]); // [T]
    const x = named(add(add(this.wordEmbeddings.forward(inputIds), this.tokenTypeEmbeddings.forward(tokenTypeIds)), this.positionEmbeddings.forward(positions)), 'inp_embd'); // [B, T, D]
    return this.dropout.forward(named(this.layerNorm.forward(x), 'inp_norm'));
  }
}

/** Bidirectional multi-head self-attention with separate query/key/value projections (`attention.self`). */
export class BertSelfAttention extends Module {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly dropout: Dropout;

  constructor(readonly config: BertConfig, g: Generator) {
    super();
    const d = config.hidden_size;
    this.query = this.module('query', new Linear(d, d, { generator: g }));
    this.key = this.module('key', new Linear(d, d, { generator: g }));
    this.value = this.module('value', new Linear(d, d, { generator: g }));
    this.dropout = this.module('dropout', new Dropout(config.attention_probs_dropout_prob));
  }

  /** x [B, T, D], keyMask bool [B, 1, 1, T] (true = attend) -> context [B, T, D] */
  forward(x: Tensor, keyMask: Tensor | null): Tensor {
    const nh = this.config.num_attention_heads;
    const q = splitHeads(this.query.forward(x), nh); // [B, nh, T, hd]
    const k = splitHeads(this.key.forward(x), nh); // [B, nh, T, hd]
    const v = splitHeads(this.value.forward(x), nh); // [B, nh, T, hd]
    const context = scaledDotProductAttention(q, k, v, {
      ...(keyMask ? { mask: keyMask } : {}), dropout: this.dropout.rate, generator: this.dropout.generator,
    }); // [B, nh, T, hd], scale 1/sqrt(hd)
    return mergeHeads(context); // [B, T, D]
  }
}

/**
 * Output projection, then the post-norm residual: LayerNorm(dropout(dense(h)) + input). BertSelfOutput
 * and BertOutput; `site` names the projection (attn_out or ffn_out) and its layer.
 */
export class BertResidualOutput extends Module {
  readonly dense: Linear;
  readonly layerNorm: LayerNorm;
  readonly dropout: Dropout;

  constructor(inFeatures: number, config: BertConfig, g: Generator, readonly site: { name: string; layer: number } = { name: 'out', layer: 0 }) {
    super();
    this.dense = this.module('dense', new Linear(inFeatures, config.hidden_size, { generator: g }));
    this.layerNorm = this.module('LayerNorm', new LayerNorm(config.hidden_size, config.layer_norm_eps));
    this.dropout = this.module('dropout', new Dropout(config.hidden_dropout_prob));
  }

  forward(hidden: Tensor, input: Tensor): Tensor {
    const projected = named(this.dense.forward(hidden), this.site.name, this.site.layer); // [B, T, D]
    return this.layerNorm.forward(add(this.dropout.forward(projected), input)); // [B, T, D]
  }
}

/** `attention`: self-attention (`self`) and its output (`output.dense`, `output.LayerNorm`). */
export class BertAttention extends Module {
  readonly self: BertSelfAttention;
  readonly output: BertResidualOutput;

  constructor(config: BertConfig, g: Generator, layer = 0) {
    super();
    this.self = this.module('self', new BertSelfAttention(config, g));
    this.output = this.module('output', new BertResidualOutput(config.hidden_size, config, g, { name: 'attn_out', layer }));
  }

  forward(x: Tensor, keyMask: Tensor | null): Tensor {
    return this.output.forward(this.self.forward(x, keyMask), x);
  }
}

/** `intermediate`: act(dense(x)), width intermediate_size. */
export class BertIntermediate extends Module {
  readonly dense: Linear;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: BertConfig, g: Generator) {
    super();
    this.dense = this.module('dense', new Linear(config.hidden_size, config.intermediate_size, { generator: g }));
    this.act = ACTIVATIONS[config.hidden_act]!;
  }

  forward(x: Tensor): Tensor {
    return this.act(this.dense.forward(x)); // [B, T, I]
  }
}

/** One post-norm encoder layer (`encoder.layer.N`). */
export class BertLayer extends Module {
  readonly attention: BertAttention;
  readonly intermediate: BertIntermediate;
  readonly output: BertResidualOutput;

  /** `layer` is the layer index, for the names of intermediates. */
  constructor(config: BertConfig, g: Generator, readonly layer = 0) {
    super();
    this.attention = this.module('attention', new BertAttention(config, g, layer));
    this.intermediate = this.module('intermediate', new BertIntermediate(config, g));
    this.output = this.module('output', new BertResidualOutput(config.intermediate_size, config, g, { name: 'ffn_out', layer }));
  }

  forward(x: Tensor, keyMask: Tensor | null): Tensor {
    const attended = named(this.attention.forward(x, keyMask), 'ffn_inp', this.layer); // LayerNorm(x + attn(x))
    return named(this.output.forward(this.intermediate.forward(attended), attended), 'l_out', this.layer); // LayerNorm(. + ffn(.))
  }
}

/** `encoder`: the stack of layers. */
export class BertEncoder extends Module {
  readonly layer: ModuleList<BertLayer>;

  constructor(config: BertConfig, g: Generator) {
    super();
    this.layer = this.module('layer', new ModuleList(Array.from({ length: config.num_hidden_layers }, (_, i) => new BertLayer(config, g, i))));
  }

  forward(x: Tensor, keyMask: Tensor | null): Tensor {
    for (const layer of this.layer) x = layer.forward(x, keyMask);
    return x;
  }
}

/** `pooler`: tanh(dense(hidden of the first token, [CLS])). */
export class BertPooler extends Module {
  readonly dense: Linear;

  constructor(config: BertConfig, g: Generator) {
    super();
    this.dense = this.module('dense', new Linear(config.hidden_size, config.hidden_size, { generator: g }));
  }

  /** hidden [B, T, D] -> [B, D] */
  forward(hidden: Tensor): Tensor {
    const first = hidden.narrow(1, 0, 1).squeeze(1); // [B, D]
    return tanh(this.dense.forward(first));
  }
}

/** The encoder trunk (`bert.*` in checkpoints); the pooler is optional, as in transformers (add_pooling_layer). */
export class BertModel extends Module {
  readonly embeddings: BertEmbeddings;
  readonly encoder: BertEncoder;
  readonly pooler: BertPooler | null;

  constructor(readonly config: BertConfig, opts: { addPoolingLayer?: boolean; generator?: Generator } = {}) {
    super();
    const g = opts.generator ?? new Generator(0);
    this.embeddings = this.module('embeddings', new BertEmbeddings(config, g));
    this.encoder = this.module('encoder', new BertEncoder(config, g));
    this.pooler = opts.addPoolingLayer === false ? null : this.module('pooler', new BertPooler(config, g));
  }

  /** ids [B, T] int32 -> last hidden states [B, T, D] */
  forward(inputIds: Tensor, inputs: BertInputs = {}): Tensor {
    const [b, t] = inputIds.shape as [number, number];
    if (inputIds.ndim !== 2) fail('BertModel', `input ids must be [B, T], got rank ${inputIds.ndim}`);
    const types = inputs.tokenTypeIds ?? zeros([b, t], { dtype: 'int32' });
    const x = this.embeddings.forward(inputIds, types); // [B, T, D]
    return this.encoder.forward(x, inputs.attentionMask ? keyPaddingMask(inputs.attentionMask, b, t) : null);
  }

  /** hidden [B, T, D] -> pooled [B, D] (needs the pooler). */
  pool(hidden: Tensor): Tensor {
    if (!this.pooler) fail('BertModel', 'this model was built without a pooling layer');
    return this.pooler.forward(hidden);
  }
}

/** `cls.predictions.transform`: LayerNorm(act(dense(x))). */
export class BertPredictionHeadTransform extends Module {
  readonly dense: Linear;
  readonly layerNorm: LayerNorm;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: BertConfig, g: Generator) {
    super();
    this.dense = this.module('dense', new Linear(config.hidden_size, config.hidden_size, { generator: g }));
    this.layerNorm = this.module('LayerNorm', new LayerNorm(config.hidden_size, config.layer_norm_eps));
    this.act = ACTIVATIONS[config.hidden_act]!;
  }

  forward(x: Tensor): Tensor {
    return this.layerNorm.forward(this.act(this.dense.forward(x))); // [B, T, D]
  }
}

/** `cls.predictions`: the transform, then the decoder tied to the word embeddings plus its own `bias`. */
export class BertLMPredictionHead extends Module {
  readonly transform: BertPredictionHeadTransform;
  readonly bias: Tensor;

  constructor(config: BertConfig, g: Generator) {
    super();
    this.transform = this.module('transform', new BertPredictionHeadTransform(config, g));
    this.bias = this.param('bias', zeros([config.vocab_size]));
  }

  /** hidden [B, T, D], word embeddings [V, D] -> logits [B, T, V] */
  forward(hidden: Tensor, wordEmbeddings: Tensor): Tensor {
    return add(matmul(this.transform.forward(hidden), wordEmbeddings.mT), this.bias); // [B, T, V]
  }
}

/** `cls` of BertForMaskedLM: holds only `predictions`. */
export class BertOnlyMLMHead extends Module {
  readonly predictions: BertLMPredictionHead;

  constructor(config: BertConfig, g: Generator) {
    super();
    this.predictions = this.module('predictions', new BertLMPredictionHead(config, g));
  }
}

/** Names that HF BERT checkpoints may hold under older or other layouts, mapped to ours. */
function bertRename(name: string): string {
  const n = name.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias'); // TF-converted checkpoints
  return n.startsWith('bert.') || n.startsWith('cls.') || n.startsWith('classifier.') ? n : `bert.${n}`;
}

/** BERT with the masked-language-model head (`cls.predictions`); the pooler is not built. */
export class BertForMaskedLM extends Module {
  readonly bert: BertModel;
  readonly cls: BertOnlyMLMHead;
  /** The generator every dropout of this model draws from (seed it, or save and restore its state with a checkpoint). */
  readonly dropoutGenerator: Generator;

  /** `generator` initialises the weights; `dropoutGenerator` draws dropout masks (default: a Generator seeded 0 each). */
  constructor(readonly config: BertConfig, opts: { generator?: Generator; dropoutGenerator?: Generator } = {}) {
    super();
    const g = opts.generator ?? new Generator(0);
    this.bert = this.module('bert', new BertModel(config, { addPoolingLayer: false, generator: g }));
    this.cls = this.module('cls', new BertOnlyMLMHead(config, g));
    this.dropoutGenerator = shareDropoutGenerator(this, opts.dropoutGenerator ?? new Generator(0));
  }

  /** ids [B, T] int32 -> logits [B, T, V] */
  forward(inputIds: Tensor, inputs: BertInputs = {}): Tensor {
    const hidden = this.bert.forward(inputIds, inputs); // [B, T, D]
    return named(this.cls.predictions.forward(hidden, this.bert.embeddings.wordEmbeddings.weight), 'result_output'); // [B, T, V]
  }

  /**
   * Loads a Hugging Face BERT checkpoint (BertForMaskedLM or BertForPreTraining, as
   * bert-base-uncased): the pooler, the next-sentence head `cls.seq_relationship`, the
   * `position_ids` buffer and the tied decoder copies (`cls.predictions.decoder.*`) are skipped.
   */
  loadWeights(source: TensorSource): this {
    loadWeights(this, source, {
      what: 'BertForMaskedLM.loadWeights',
      rename: bertRename,
      ignore: (n) => n.startsWith('bert.pooler.') || n.startsWith('cls.seq_relationship.') || n.startsWith('cls.predictions.decoder.') || n.endsWith('.position_ids'),
    });
    return this;
  }

  static fromPretrained(pretrained: { config: Readonly<Record<string, unknown>>; weights: TensorSource }): BertForMaskedLM {
    return withoutInit(() => new BertForMaskedLM(BertConfig.fromDict(pretrained.config))).loadWeights(pretrained.weights);
  }
}

/** BERT with the pooler and a linear `classifier` over the pooled [CLS] state. */
export class BertForSequenceClassification extends Module {
  readonly bert: BertModel;
  readonly dropout: Dropout;
  readonly classifier: Linear;
  /** The generator every dropout of this model draws from (seed it, or save and restore its state with a checkpoint). */
  readonly dropoutGenerator: Generator;

  /** `generator` initialises the weights; `dropoutGenerator` draws dropout masks (default: a Generator seeded 0 each). */
  constructor(readonly config: BertConfig, opts: { generator?: Generator; dropoutGenerator?: Generator } = {}) {
    super();
    const g = opts.generator ?? new Generator(0);
    this.bert = this.module('bert', new BertModel(config, { generator: g }));
    this.dropout = this.module('dropout', new Dropout(config.classifier_dropout ?? config.hidden_dropout_prob));
    this.classifier = this.module('classifier', new Linear(config.hidden_size, config.num_labels, { generator: g }));
    this.dropoutGenerator = shareDropoutGenerator(this, opts.dropoutGenerator ?? new Generator(0));
  }

  /** ids [B, T] int32 -> logits [B, num_labels] */
  forward(inputIds: Tensor, inputs: BertInputs = {}): Tensor {
    const hidden = this.bert.forward(inputIds, inputs); // [B, T, D]
    return named(this.classifier.forward(this.dropout.forward(this.bert.pool(hidden))), 'result_output'); // [B, num_labels]
  }

  /** Loads a Hugging Face BertForSequenceClassification checkpoint; pre-training heads (`cls.*`) and `position_ids` are skipped. */
  loadWeights(source: TensorSource): this {
    loadWeights(this, source, {
      what: 'BertForSequenceClassification.loadWeights',
      rename: bertRename,
      ignore: (n) => n.startsWith('cls.') || n.endsWith('.position_ids'),
    });
    return this;
  }

  static fromPretrained(pretrained: { config: Readonly<Record<string, unknown>>; weights: TensorSource }): BertForSequenceClassification {
    return withoutInit(() => new BertForSequenceClassification(BertConfig.fromDict(pretrained.config))).loadWeights(pretrained.weights);
  }
}
