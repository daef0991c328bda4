/** Calculators: published model sizes, KV-cache bytes, and exact agreement with instantiated models. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BertConfig, BertModel, T5Config, T5ForConditionalGeneration, Transformer, TransformerConfig, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM,
  PRESETS, attendedPairs, calcModel, forwardFlops, gpt2ParamCount, kvCacheBytes, modelShape, kvCacheBytesFor, llamaParamCount, type Module, type ParamBreakdown,
} from '../../src/index.js';

/** Sums an instantiated model's parameters into the calculator's categories, by checkpoint name. */
function breakdownOf(m: Module): ParamBreakdown {
  const b = { embeddings: 0, attention: 0, ffn: 0, norms: 0, head: 0, total: 0 };
  for (const [name, p] of m.namedParameters()) {
    const key = /\b(wte|wpe|embed_tokens)\./.test(name) ? 'embeddings'
      : /\.(attn|self_attn)\./.test(name) ? 'attention'
      : /\.mlp\./.test(name) ? 'ffn'
      : /(ln_\d|ln_f|norm|layernorm)\./.test(name) ? 'norms'
      : /^lm_head\./.test(name) ? 'head'
      : assert.fail(`uncategorised parameter ${name}`);
    b[key] += p.size;
    b.total += p.size;
  }
  return b;
}

describe('parameter counts', () => {
  it('GPT-2 medium (24 layers, d 1024, 16 heads, vocab 50257): ~354M', () => {
    const c = GPT2Config.fromDict({ n_layer: 24, n_embd: 1024, n_head: 16, vocab_size: 50257, n_positions: 1024 });
    const b = gpt2ParamCount(c);
    assert.equal(b.total, 354_823_168); // HF gpt2-medium GPT2LMHeadModel.num_parameters()
    assert.equal(b.head, 0);
    assert.equal(b.embeddings, 50257 * 1024 + 1024 * 1024);
  });

  it('LLaMA-7B: 6,738,415,616 (~6.74B)', () => {
    const c = LlamaConfig.fromDict({ vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32 });
    const b = llamaParamCount(c);
    assert.equal(b.total, 6_738_415_616);
    assert.equal(b.head, 32000 * 4096);
  });

  const tiny = { vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 };
  const cases: [string, () => { model: Module; calc: ParamBreakdown }][] = [
    ['gpt2 (tied)', () => { const c = GPT2Config.fromDict({ vocab_size: 40, n_positions: 8, n_embd: 16, n_layer: 2, n_head: 4 }); return { model: new GPT2LMHeadModel(c), calc: gpt2ParamCount(c) }; }],
    ['gpt2 (untied, n_inner 20)', () => { const c = GPT2Config.fromDict({ vocab_size: 40, n_positions: 8, n_embd: 16, n_layer: 2, n_head: 4, n_inner: 20, tie_word_embeddings: false }); return { model: new GPT2LMHeadModel(c), calc: gpt2ParamCount(c) }; }],
    ['llama (GQA, untied)', () => { const c = LlamaConfig.fromDict(tiny); return { model: new LlamaForCausalLM(c), calc: llamaParamCount(c) }; }],
    ['llama (attention_bias, tied)', () => { const c = LlamaConfig.fromDict({ ...tiny, attention_bias: true, tie_word_embeddings: true }); return { model: new LlamaForCausalLM(c), calc: llamaParamCount(c) }; }],
    ['mistral (MQA)', () => { const c = MistralConfig.fromDict({ ...tiny, num_key_value_heads: 1, sliding_window: 4 }); return { model: new MistralForCausalLM(c), calc: llamaParamCount(c) }; }],
    ['qwen2 (q/k/v biases, tied)', () => { const c = Qwen2Config.fromDict({ ...tiny, tie_word_embeddings: true }); return { model: new Qwen2ForCausalLM(c), calc: llamaParamCount(c) }; }],
  ];
  for (const [name, make] of cases) {
    it(`${name}: calculator == instantiated parameters, per component`, () => {
      const { model, calc } = make();
      assert.deepEqual(calc, breakdownOf(model));
      assert.equal(calc.total, model.numParameters());
    });
  }
});

describe('KV-cache bytes', () => {
  it('GPT-2 medium at 8192 tokens in f16: 805,306,368 bytes', () => {
    const c = GPT2Config.fromDict({ n_layer: 24, n_embd: 1024, n_head: 16, vocab_size: 50257 });
    assert.equal(kvCacheBytesFor(c, { tokens: 8192, dtype: 'float16' }), 805_306_368);
  });

  it('llama-2-70b (80 layers, d 8192, 64 heads, 8 KV heads) at 32768 tokens in f16: 10,737,418,240 bytes per sequence', () => {
    const c = LlamaConfig.fromDict({ num_hidden_layers: 80, hidden_size: 8192, num_attention_heads: 64, num_key_value_heads: 8, intermediate_size: 28672 });
    assert.equal(kvCacheBytesFor(c, { tokens: 32768 }), 10_737_418_240);
    assert.equal(kvCacheBytesFor(c, { tokens: 32768, dtype: 'float32', batch: 3 }), 6 * 10_737_418_240);
  });

  it('is 2 x layers x kv heads x head dim x tokens x bytes; int8 adds one f32 scale per cached vector', () => {
    assert.equal(kvCacheBytes({ numLayers: 1, numKeyValueHeads: 1, headDim: 1, tokens: 1, dtype: 'float32' }), 8);
    assert.equal(kvCacheBytes({ numLayers: 2, numKeyValueHeads: 3, headDim: 64, tokens: 5, dtype: 'bfloat16', batch: 2 }), 2 * 2 * 3 * 64 * 5 * 2 * 2);
    assert.equal(kvCacheBytes({ numLayers: 2, numKeyValueHeads: 3, headDim: 64, tokens: 5, dtype: 'int8' }), 2 * 2 * 3 * 5 * (64 + 4));
    assert.throws(() => kvCacheBytes({ numLayers: 1, numKeyValueHeads: 1, headDim: 1, tokens: 1, dtype: 'int32' }), /not int32/);
  });
});

describe('presets', () => {
  // Published counts: HF num_parameters() of gpt2, gpt2-medium, huggyllama/llama-7b, Llama-2-70b-hf,
  // Mistral-7B-v0.1, bert-base-uncased (BertModel, with pooler) and t5-small.
  const published: Record<string, number> = {
    gpt2: 124_439_808, 'gpt2-medium': 354_823_168, 'llama-7b': 6_738_415_616, 'llama-2-70b': 68_976_648_192,
    'mistral-7b': 7_241_732_096, 'bert-base': 109_482_240, 't5-small': 60_506_624,
    // Original Transformer base as attn builds it (torch.nn.Transformer layout), shared 32000 vocabulary,
    // sinusoidal positions: embeddings 32000 x 512 = 16,384,000; encoder layer 4(512^2+512) + (2*512*2048+2048+512)
    // + 2*1024 = 3,152,384; decoder layer 8(512^2+512) + 2,099,712 + 3*1024 = 4,204,032; two final LayerNorms 2*1024;
    // 16,384,000 + 6(3,152,384 + 4,204,032) + 2,048 = 60,524,544. (The paper's 65M used a 37000-token vocabulary.)
    'transformer-base': 60_524_544,
  };
  it('every preset is listed with its published parameter count', () => {
    assert.deepEqual(Object.keys(PRESETS).sort(), Object.keys(published).sort());
    for (const [name, preset] of Object.entries(PRESETS)) {
      assert.equal(calcModel(preset.config, { seq: 1 }).params.total, published[name], name);
    }
  });

  it('transformer-base with a 37000 vocabulary grows by the extra shared embedding rows only', () => {
    const c = { ...PRESETS['transformer-base']!.config, vocab_size: 37000 };
    assert.equal(calcModel(c, { seq: 1 }).params.total, 60_524_544 + 5000 * 512);
  });

  // The encoder and encoder-decoder presets, shrunk: the calculator equals the parameters of the
  // attn model built from the same config (BERT counted as BertModel with its pooler, the "110M").
  const tiny: [string, Record<string, unknown>, (c: Record<string, unknown>) => Module][] = [
    ['bert-base', { vocab_size: 40, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 24, max_position_embeddings: 8 },
      (c) => new BertModel(BertConfig.fromDict(c))],
    ['t5-small', { vocab_size: 40, d_model: 16, d_kv: 4, d_ff: 24, num_layers: 2, num_heads: 4, relative_attention_num_buckets: 8 },
      (c) => new T5ForConditionalGeneration(T5Config.fromDict(c))],
    ['t5-small', { vocab_size: 40, d_model: 16, d_kv: 4, d_ff: 24, num_layers: 2, num_decoder_layers: 3, num_heads: 4, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false },
      (c) => new T5ForConditionalGeneration(T5Config.fromDict(c))],
    ['transformer-base', { vocab_size: 40, d_model: 16, nhead: 4, num_encoder_layers: 2, num_decoder_layers: 3, dim_feedforward: 24 },
      (c) => new Transformer(TransformerConfig.fromDict(c))],
  ];
  for (const [name, shrink, build] of tiny) {
    it(`${name} (shrunk: ${JSON.stringify(shrink).slice(0, 60)}...): calculator == instantiated parameters`, () => {
      const c = { ...PRESETS[name]!.config, ...shrink };
      assert.equal(calcModel(c, { seq: 4 }).params.total, build(c).numParameters());
    });
  }

  // Every preset whose family attn instantiates, shrunk to a tiny size with its structure kept
  // (tying, GQA ratio, sliding window): the calculator equals the instantiated parameters exactly.
  const classes: Record<string, (c: Record<string, unknown>) => Module> = {
    gpt2: (c) => new GPT2LMHeadModel(GPT2Config.fromDict(c)),
    llama: (c) => new LlamaForCausalLM(LlamaConfig.fromDict(c)),
    mistral: (c) => new MistralForCausalLM(MistralConfig.fromDict(c)),
  };
  for (const [name, preset] of Object.entries(PRESETS)) {
    const type = preset.config['model_type'] as string;
    if (!(type in classes)) continue;
    it(`${name} (shrunk): calculator == instantiated ${type} parameters, per component`, () => {
      const c: Record<string, unknown> = type === 'gpt2'
        ? { ...preset.config, vocab_size: 40, n_positions: 8, n_embd: 16, n_layer: 2, n_head: 4 }
        : {
          ...preset.config, vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4,
          num_key_value_heads: preset.config['num_key_value_heads'] === preset.config['num_attention_heads'] ? 4 : 2,
          ...(preset.config['sliding_window'] ? { sliding_window: 4 } : {}),
        };
      const model = classes[type]!(c);
      const calc = calcModel(c, { seq: 4 }).params;
      assert.deepEqual(calc, breakdownOf(model));
      assert.equal(calc.total, model.numParameters());
    });
  }
});

describe('FLOPs (multiply-add = 2)', () => {
  it('attended pairs: causal T(T+1)/2, sliding window, bidirectional T^2 (against a brute-force count)', () => {
    for (const seq of [1, 2, 7, 16]) {
      for (const window of [null, 1, 3, 8, 40]) {
        let n = 0;
        for (let t = 0; t < seq; t++) for (let k = 0; k <= t; k++) if (window === null || t - k < window) n++;
        assert.equal(attendedPairs(seq, 'causal', window), n, `seq ${seq} window ${window}`);
      }
      assert.equal(attendedPairs(seq, 'bidirectional'), seq * seq);
    }
  });

  it('llama-7b: weight matmuls are 2 x the non-embedding, non-norm parameters per token; attention 2 x L x d per pair for QK^T and again for AV', () => {
    const shape = modelShape(PRESETS['llama-7b']!.config);
    const p = shape.params;
    const f = forwardFlops(shape, { seq: 2048, batch: 3 });
    assert.equal(f.matmulPerToken, 2 * (p.total - p.embeddings - p.norms));
    assert.equal(f.matmul, 3 * 2048 * f.matmulPerToken);
    assert.equal(f.attentionScores, 3 * 2 * 32 * 4096 * (2048 * 2049) / 2);
    assert.equal(f.attentionValues, f.attentionScores);
    assert.equal(f.total, f.matmul + f.attentionScores + f.attentionValues);
    assert.equal(f.perToken, f.total / (3 * 2048));
    assert.equal(f.training, 3 * f.total);
  });

  it('gpt2 (tied): the head still costs 2 x d x vocab per token; biases are not counted', () => {
    const shape = modelShape(PRESETS.gpt2!.config);
    const d = 768, L = 12;
    const f = forwardFlops(shape, { seq: 1 });
    assert.equal(f.matmulPerToken, 2 * (L * (4 * d * d + 8 * d * d) + d * 50257));
    assert.equal(f.attentionScores, 2 * L * d * 1);
  });

  it('mistral-7b: the sliding window caps attention work and the rolling KV buffer at 4096 positions', () => {
    const shape = modelShape(PRESETS['mistral-7b']!.config);
    const f = forwardFlops(shape, { seq: 8192 });
    assert.equal(f.attentionScores, 2 * 32 * 4096 * (4096 * 4097 / 2 + 4096 * 4096));
    const r = calcModel(PRESETS['mistral-7b']!.config, { seq: 32768, dtype: 'float16' });
    assert.equal(r.kvCache?.selfTokens, 4096);
    assert.equal(r.kvCache?.bytes, 2 * 32 * 8 * 128 * 4096 * 2);
  });

  it('t5-small: encoder + decoder matmuls, cross-attention on seq^2 pairs, and a KV cache for self and cross attention', () => {
    const r = calcModel(PRESETS['t5-small']!.config, { seq: 10, dtype: 'float32' });
    const d = 512, inner = 512, ff = 2048;
    const enc = 6 * (4 * d * inner + 2 * d * ff);
    const dec = 6 * (8 * d * inner + 2 * d * ff);
    assert.equal(r.flops.matmulPerToken, 2 * (enc + dec + d * 32128));
    assert.equal(r.flops.attentionScores, 2 * inner * (6 * 100 + 6 * (55 + 100)));
    assert.deepEqual(r.kvCache, { bytes: 2 * 2 * 6 * 8 * 64 * 10 * 4, dtype: 'float32', selfTokens: 10, crossTokens: 10 });
  });

  it('bert-base: bidirectional attention, the pooler once per sequence, and no KV cache', () => {
    const r = calcModel(PRESETS['bert-base']!.config, { seq: 128, batch: 2 });
    assert.equal(r.kvCache, null);
    assert.equal(r.flops.matmul, 2 * (128 * 2 * 12 * (4 * 768 * 768 + 2 * 768 * 3072) + 2 * 768 * 768));
    assert.equal(r.flops.attentionScores, 2 * 2 * 12 * 768 * 128 * 128);
  });

  it('unknown model types and bad sizes fail naming them', () => {
    assert.throws(() => calcModel({ model_type: 'rwkv' }, { seq: 1 }), /model_type "rwkv" is not known/);
    assert.throws(() => calcModel(PRESETS.gpt2!.config, { seq: 0 }), /seq must be a positive integer/);
  });
});
