/** Configs from config.json dictionaries and checkpoint loading errors that name the tensors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, MistralConfig, Qwen2Config, Generator,
  mapSource, tensor, zeros, loadPretrained, loadModel, readHfFolder, BertForMaskedLM, T5ForConditionalGeneration, Transformer, type Tensor,
} from '../../src/index.js';
import { join } from 'node:path';
import { FIXTURES } from '../helpers.js';

const tinyLlama = { vocab_size: 16, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1 };
const tinyGpt2 = { vocab_size: 16, n_positions: 8, n_embd: 8, n_layer: 1, n_head: 2 };

describe('configs', () => {
  it('fromDict reads Hugging Face field names and ignores unknown keys', () => {
    const c = LlamaConfig.fromDict({ ...tinyLlama, architectures: ['LlamaForCausalLM'], torch_dtype: 'bfloat16', rope_theta: 500000 });
    assert.equal(c.hidden_size, 8);
    assert.equal(c.numKeyValueHeads, 1);
    assert.equal(c.headDim, 4);
    assert.equal(c.rope_theta, 500000);
    assert.equal((c as unknown as Record<string, unknown>)['architectures'], undefined);
    const m = MistralConfig.fromDict({ ...tinyLlama, sliding_window: 7 });
    assert.ok(m instanceof MistralConfig);
    assert.equal(m.sliding_window, 7);
    assert.equal(GPT2Config.fromDict({ ...tinyGpt2, n_inner: null }).n_inner, null);
  });

  it('reads rope_scaling (rope_type or the legacy type key) into a RopeScaling', () => {
    assert.equal(LlamaConfig.fromDict(tinyLlama).ropeScaling, null);
    assert.deepEqual(LlamaConfig.fromDict({ ...tinyLlama, rope_scaling: { type: 'linear', factor: 2 } }).ropeScaling, { type: 'linear', factor: 2 });
    assert.deepEqual(LlamaConfig.fromDict({ ...tinyLlama, max_position_embeddings: 32, rope_scaling: { rope_type: 'dynamic', factor: 4 } }).ropeScaling,
      { type: 'dynamic', factor: 4, maxPositionEmbeddings: 32 });
    assert.deepEqual(LlamaConfig.fromDict({ ...tinyLlama, max_position_embeddings: 32, rope_scaling: { rope_type: 'yarn', factor: 4, beta_fast: 16 } }).ropeScaling,
      { type: 'yarn', factor: 4, originalMaxPositionEmbeddings: 32, betaFast: 16 });
    assert.equal(LlamaConfig.fromDict({ ...tinyLlama, rope_scaling: { rope_type: 'default' } }).ropeScaling, null);
  });

  it('names the field that is wrong', () => {
    assert.throws(() => LlamaConfig.fromDict({ ...tinyLlama, hidden_size: '8' }), /LlamaConfig: hidden_size must be number, got "8"/);
    assert.throws(() => LlamaConfig.fromDict({ ...tinyLlama, num_key_value_heads: 3 }), /num_attention_heads 2 is not a multiple of num_key_value_heads 3/);
    assert.throws(() => GPT2Config.fromDict({ ...tinyGpt2, n_head: 3 }), /GPT2Config: n_embd 8 is not divisible by n_head 3/);
    assert.throws(() => GPT2Config.fromDict({ ...tinyGpt2, activation_function: 'swish' }), /activation_function 'swish' is not supported/);
    assert.throws(() => Qwen2Config.fromDict({ ...tinyLlama, use_sliding_window: true }), /use_sliding_window is not supported yet/);
    assert.throws(() => LlamaConfig.fromDict({ ...tinyLlama, rope_scaling: { type: 'longrope', factor: 2 } }), /LlamaConfig: rope_scaling type "longrope" is not supported/);
    assert.throws(() => LlamaConfig.fromDict({ ...tinyLlama, rope_scaling: { rope_type: 'yarn' } }), /LlamaConfig: rope_scaling.factor must be a number, got undefined/);
    assert.throws(() => LlamaConfig.fromDict({ ...tinyLlama, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, original_max_position_embeddings: 64 } }), /rope_scaling.high_freq_factor must be a number/);
    assert.throws(() => loadPretrained({ config: { model_type: 't5' }, weights: mapSource(new Map()) }), /model_type "t5" is not supported/);
  });
});

describe('loadModel', () => {
  it('tags each fixture folder with its kind and the class of that kind; unknown model_types name the supported ones', () => {
    const cases: [string, string, new (...a: never[]) => unknown][] = [
      ['models-bert', 'encoder-only', BertForMaskedLM],
      ['models-t5', 'encoder-decoder', T5ForConditionalGeneration],
      ['models-t5-v1_1', 'encoder-decoder', T5ForConditionalGeneration],
      ['models-transformer', 'encoder-decoder', Transformer],
      ['models-gpt2', 'decoder-only', GPT2LMHeadModel],
      ['models-llama', 'decoder-only', LlamaForCausalLM],
    ];
    for (const [folder, kind, cls] of cases) {
      const m = loadModel(readHfFolder(join(FIXTURES, folder)));
      assert.equal(m.kind, kind, folder);
      assert.ok(m.model instanceof cls, folder);
    }
    assert.throws(() => loadModel({ config: { model_type: 'bart' }, weights: mapSource(new Map()) }), /loadModel: model_type "bart" is not supported \(bert, gpt2, llama, mistral, qwen2, t5, transformer\)/);
  });
});

describe('checkpoint loading', () => {
  function stateOf(m: { stateDict(): Map<string, Tensor> }): Map<string, Tensor> {
    return new Map([...m.stateDict()].map(([k, v]) => [k, v.detach()]));
  }

  it('lists every missing, unexpected and mis-shaped tensor by name', () => {
    const model = new LlamaForCausalLM(LlamaConfig.fromDict(tinyLlama), { generator: new Generator(1) });
    const state = stateOf(model);
    state.delete('model.norm.weight');
    state.set('model.layers.0.self_attn.q_proj.weight', zeros([8, 4]));
    state.set('model.layers.0.self_attn.q_norm.weight', zeros([4]));
    assert.throws(() => model.loadWeights(mapSource(state)), (e: Error) => {
      assert.match(e.message, /^LlamaForCausalLM.loadWeights: /);
      assert.match(e.message, /missing tensors: model.norm.weight/);
      assert.match(e.message, /unexpected tensors: model.layers.0.self_attn.q_norm.weight;/);
      assert.match(e.message, /model.layers.0.self_attn.q_proj.weight: expected shape \[8,8\], got \[8,4\]/);
      return true;
    });
  });

  it('loads the original gpt2 layout (no transformer. prefix, attn.bias buffers) and a tied lm_head.weight', () => {
    const src = new GPT2LMHeadModel(GPT2Config.fromDict(tinyGpt2), { generator: new Generator(2) });
    const flat = new Map<string, Tensor>();
    for (const [k, v] of stateOf(src)) flat.set(k.replace(/^transformer\./, ''), v);
    flat.set('h.0.attn.bias', zeros([1, 1, 8, 8]));
    flat.set('lm_head.weight', flat.get('wte.weight')!);
    const dst = new GPT2LMHeadModel(GPT2Config.fromDict(tinyGpt2), { generator: new Generator(3) }).loadWeights(mapSource(flat));
    const ids = tensor([[1, 2, 3]], { dtype: 'int32' });
    assert.deepEqual(Array.from(dst.forward(ids).toTypedArray()), Array.from(src.forward(ids).toTypedArray()));
    assert.throws(() => dst.loadWeights(mapSource(new Map([...flat].filter(([k]) => k !== 'wpe.weight')))), /missing tensors: transformer.wpe.weight/);
  });

  it('converts float16/bfloat16 checkpoints to the float32 parameters', () => {
    const model = new LlamaForCausalLM(LlamaConfig.fromDict({ ...tinyLlama, tie_word_embeddings: true }), { generator: new Generator(4) });
    const half = new Map([...stateOf(model)].map(([k, v]) => [k, v.to('bfloat16')]));
    const before = model.model.norm.weight.toTypedArray().slice();
    model.loadWeights(mapSource(half));
    assert.equal(model.model.norm.weight.dtype, 'float32');
    for (let i = 0; i < before.length; i++) assert.ok(Math.abs(model.model.norm.weight.toTypedArray()[i]! - before[i]!) <= Math.abs(before[i]!) / 128);
  });
});
