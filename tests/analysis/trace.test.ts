/**
 * Named intermediates and traces: the names, blocks and shapes one forward pass records for GPT-2,
 * LLaMA, BERT, T5 (v1.0 and v1.1) and the original Transformer, recorded tensors that are the
 * model's own (result_output is the logits; l_out of the last block feeds result_norm; the
 * encoder's result norm is what the decoder attends to), recorders that leave no trace once
 * removed, and the tiny same-structure config for presets too large to instantiate.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  BertConfig, BertForMaskedLM, LlamaConfig, PRESETS, RMSNorm, T5Config, T5ForConditionalGeneration, Transformer, TransformerConfig,
  loadModel, loadPretrained, matmul, modelFromConfig, named, noGrad, readHfFolder, tensor, traceConfig, traceForward,
  traceInput, withRecorder, type NamedIntermediate, type Seq2SeqLM,
} from '../../src/index.js';
import { FIXTURES, maxAbsDiff } from '../helpers.js';

const BLOCK = ['attn_norm', 'attn_out', 'ffn_inp', 'ffn_norm', 'ffn_out', 'l_out'];

function expectedNames(layers: number): string[] {
  return ['-:inp_embd', ...Array.from({ length: layers }, (_, l) => BLOCK.map((n) => `${l}:${n}`)).flat(), '-:result_norm', '-:result_output'];
}

describe('named intermediates', () => {
  it('named() returns its tensor and shows it only to installed recorders, nested ones included', () => {
    const t = tensor([1, 2]);
    const outer: string[] = [];
    const inner: string[] = [];
    assert.equal(named(t, 'before'), t);
    withRecorder((x) => outer.push(x.name), () => {
      named(t, 'a', 0);
      withRecorder((x) => inner.push(`${x.name}@${x.layer}`), () => named(t, 'b', 3));
      named(t, 'c');
    });
    named(t, 'after');
    assert.deepEqual(outer, ['a', 'b', 'c']);
    assert.deepEqual(inner, ['b@3']);
  });

  for (const name of ['gpt2', 'llama']) {
    it(`${name}: every block's intermediates in execution order, with shapes; result_output is the logits`, () => {
      const model = loadPretrained(readHfFolder(join(FIXTURES, `models-${name}`)));
      const ids = traceInput(5, 64);
      const entries = traceForward(model, ids);
      assert.deepEqual(entries.map((e) => `${e.layer ?? '-'}:${e.name}`), expectedNames(2));
      for (const e of entries) assert.deepEqual(e.shape, e.name === 'result_output' ? [1, 5, 64] : [1, 5, 32], `${e.name} shape`);
      const seen: NamedIntermediate[] = [];
      const logits = noGrad(() => withRecorder((x) => seen.push(x), () => model.forward(ids)));
      assert.deepEqual(seen.at(-1)!.tensor.toTypedArray(), logits.toTypedArray());
      if (name === 'llama') {
        // result_norm = model.norm(l_out of the last block): the recorded tensors are the ones used
        const lastOut = seen.find((x) => x.name === 'l_out' && x.layer === 1)!.tensor;
        const norm = (model as unknown as { model: { norm: RMSNorm } }).model.norm;
        assert.deepEqual(noGrad(() => norm.forward(lastOut)).toTypedArray(), seen.find((x) => x.name === 'result_norm')!.tensor.toTypedArray());
      }
    });
  }

  it('traceConfig keeps small configs and shrinks large ones keeping head counts and GQA grouping', () => {
    const small = { model_type: 'llama', vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4 };
    assert.deepEqual(traceConfig(small), { config: small, shrunk: false });
    const big = PRESETS['llama-2-70b']!.config;
    const { config, shrunk } = traceConfig(big);
    assert.ok(shrunk);
    const c = LlamaConfig.fromDict(config);
    assert.equal(c.num_attention_heads, big['num_attention_heads']);
    assert.equal(c.numKeyValueHeads, big['num_key_value_heads']);
    assert.equal(c.headDim, 8);
    assert.equal(c.num_hidden_layers, 2);
    const entries = traceForward(modelFromConfig(config), traceInput(3, c.vocab_size));
    assert.deepEqual(entries.map((e) => `${e.layer ?? '-'}:${e.name}`), expectedNames(2));
    assert.throws(() => modelFromConfig({ model_type: 'bart' }), /model_type "bart" has no named intermediates \(gpt2, llama, mistral, qwen2, bert, t5, transformer do\)/);
  });
});

/** `layer:name` strings of a trace, '-' for points outside the blocks. */
const keys = (entries: { name: string; layer: number | null }[]) => entries.map((e) => `${e.layer ?? '-'}:${e.name}`);
const perLayer = (layers: number, names: string[]) => Array.from({ length: layers }, (_, l) => names.map((n) => `${l}:${n}`)).flat();

const BERT_LAYER = ['attn_out', 'ffn_inp', 'ffn_out', 'l_out'];
const T5_ENC = ['enc_attn_norm', 'enc_attn_out', 'enc_ffn_inp', 'enc_ffn_norm', 'enc_ffn_out', 'enc_l_out'];
const T5_DEC = ['dec_attn_norm', 'dec_attn_out', 'dec_cross_norm', 'dec_cross_out', 'dec_ffn_inp', 'dec_ffn_norm', 'dec_ffn_out', 'dec_l_out'];
const TR_ENC = ['enc_attn_out', 'enc_ffn_inp', 'enc_ffn_out', 'enc_l_out'];
const TR_DEC = ['dec_attn_out', 'dec_cross_inp', 'dec_cross_out', 'dec_ffn_inp', 'dec_ffn_out', 'dec_l_out'];

function t5Names(enc: number, dec: number): string[] {
  return ['-:enc_inp_embd', ...perLayer(enc, T5_ENC), '-:enc_result_norm', '-:dec_inp_embd', ...perLayer(dec, T5_DEC), '-:dec_result_norm', '-:result_output'];
}

function transformerNames(enc: number, dec: number): string[] {
  return ['-:enc_inp_embd', ...perLayer(enc, TR_ENC), '-:enc_result_norm', '-:dec_inp_embd', ...perLayer(dec, TR_DEC), '-:dec_result_norm', '-:result_output'];
}

describe('named intermediates of the encoder and encoder-decoder families', () => {
  it('bert: inp_embd, inp_norm, four points per layer, result_output = the MLM logits', () => {
    const { model } = loadModel(readHfFolder(join(FIXTURES, 'models-bert')));
    const ids = traceInput(6, 64);
    const entries = traceForward(model as BertForMaskedLM, ids);
    assert.deepEqual(keys(entries), ['-:inp_embd', '-:inp_norm', ...perLayer(2, BERT_LAYER), '-:result_output']);
    for (const e of entries) assert.deepEqual(e.shape, e.name === 'result_output' ? [1, 6, 64] : [1, 6, 32], `${e.name} shape`);
    const seen: NamedIntermediate[] = [];
    const logits = noGrad(() => withRecorder((x) => seen.push(x), () => (model as BertForMaskedLM).forward(ids)));
    assert.equal(seen.at(-1)!.tensor, logits);
    // ffn_inp is the attention sublayer's LayerNorm(x + attn_out): recomputing it from the recorded tensors agrees
    const bert = model as BertForMaskedLM;
    const out = bert.bert.encoder.layer.at(0).attention.output;
    const x0 = seen.find((x) => x.name === 'inp_norm')!.tensor;
    const attnOut = seen.find((x) => x.name === 'attn_out' && x.layer === 0)!.tensor;
    const ffnInp = seen.find((x) => x.name === 'ffn_inp' && x.layer === 0)!.tensor;
    assert.deepEqual(noGrad(() => out.layerNorm.forward(attnOut.add(x0))).toTypedArray(), ffnInp.toTypedArray());
  });

  for (const [folder, enc, dec] of [['models-t5', 2, 2], ['models-t5-v1_1', 2, 3]] as const) {
    it(`${folder}: enc_ and dec_ points per block (cross-attention in the decoder), enc_result_norm is the memory`, () => {
      const model = T5ForConditionalGeneration.fromPretrained(readHfFolder(join(FIXTURES, folder)));
      const ids = traceInput(5, 40);
      const dec3 = traceInput(3, 40);
      const entries = traceForward(model, ids, { decoderInputIds: dec3 });
      assert.deepEqual(keys(entries), t5Names(enc, dec));
      for (const e of entries) {
        const t = e.name.startsWith('enc_') ? 5 : 3;
        assert.deepEqual(e.shape, e.name === 'result_output' ? [1, 3, 40] : [1, t, 32], `${e.name} shape`);
      }
      const seen: NamedIntermediate[] = [];
      const logits = noGrad(() => withRecorder((x) => seen.push(x), () => model.forward(ids, dec3)));
      assert.deepEqual(seen.find((x) => x.name === 'enc_result_norm')!.tensor.toTypedArray(), noGrad(() => model.encode(ids)).toTypedArray());
      assert.equal(seen.at(-1)!.tensor, logits);
    });
  }

  it('transformer: post-norm points (dec_cross_inp = norm1 output), result_output = dec_result_norm @ embedding^T', () => {
    const { model } = loadModel(readHfFolder(join(FIXTURES, 'models-transformer')));
    const tr = model as Transformer;
    const ids = traceInput(7, 48);
    const dec = traceInput(4, 48);
    const entries = traceForward(model as Seq2SeqLM, ids, { decoderInputIds: dec });
    assert.deepEqual(keys(entries), transformerNames(2, 2));
    for (const e of entries) {
      const t = e.name.startsWith('enc_') ? 7 : 4;
      assert.deepEqual(e.shape, e.name === 'result_output' ? [1, 4, 48] : [1, t, 32], `${e.name} shape`);
    }
    const seen: NamedIntermediate[] = [];
    const logits = noGrad(() => withRecorder((x) => seen.push(x), () => tr.forward(ids, dec)));
    const hidden = seen.find((x) => x.name === 'dec_result_norm')!.tensor;
    assert.ok(maxAbsDiff(noGrad(() => matmul(hidden, tr.embedding.weight.mT)).toTypedArray(), logits.toTypedArray()) === 0);
  });

  it('traceConfig shrinks bert-base, t5-small and transformer-base keeping head counts; their traces run', () => {
    const cases: [string, (c: Readonly<Record<string, unknown>>) => number, string[]][] = [
      ['bert-base', (c) => BertConfig.fromDict(c).num_attention_heads, ['-:inp_embd', '-:inp_norm', ...perLayer(2, BERT_LAYER), '-:result_output']],
      ['t5-small', (c) => T5Config.fromDict(c).num_heads, t5Names(2, 2)],
      ['transformer-base', (c) => TransformerConfig.fromDict(c).nhead, transformerNames(2, 2)],
    ];
    for (const [preset, heads, names] of cases) {
      const big = PRESETS[preset]!.config;
      const { config, shrunk } = traceConfig(big);
      assert.ok(shrunk, preset);
      assert.equal(heads(config), heads(big), `${preset} heads`);
      const model = modelFromConfig(config);
      const decoderInputIds = preset === 'bert-base' ? undefined : traceInput(2, 256);
      const entries = traceForward(model, traceInput(3, 256), decoderInputIds ? { decoderInputIds } : {});
      assert.deepEqual(keys(entries), names, preset);
    }
  });
});
