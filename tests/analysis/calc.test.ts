/** Calculators: published model sizes, KV-cache bytes, and exact agreement with instantiated models. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM,
  gpt2ParamCount, kvCacheBytes, kvCacheBytesFor, llamaParamCount, type Module, type ParamBreakdown,
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

  it('is 2 x layers x kv heads x head dim x tokens x bytes', () => {
    assert.equal(kvCacheBytes({ numLayers: 1, numKeyValueHeads: 1, headDim: 1, tokens: 1, dtype: 'float32' }), 8);
    assert.throws(() => kvCacheBytes({ numLayers: 1, numKeyValueHeads: 1, headDim: 1, tokens: 1, dtype: 'int8' }), /int8 caches carry per-block scales/);
  });
});
