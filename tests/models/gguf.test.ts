/**
 * LLaMA-family models through GGUF.
 * - Reading files converted as llama.cpp's convert_hf_to_gguf.py does (scripts/reference/gguf_files.py
 *   applies its Q/K row permutation and tensor names independently): the logits of the models-llama
 *   input ids equal the torch reference (f32) or the reference run on the dequantized weights
 *   (q8_0, q4_0), within 1e-4, whether Linear weights stay quantized or are dequantized.
 * - Writing: attn's export of the same model has the reference file's tensor bytes; export ->
 *   import round-trips the config and the tensors (exactly for f32 / f16, the quantized values
 *   for q8_0 / q4_0) and the logits (equal for f32; KL reported for the others).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  GgufFile, LlamaForCausalLM, MistralForCausalLM, compareLogits, configFromGguf, fromTypedArray, ggufRowOrder, loadGgufModel,
  loadPretrained, readGguf, readHfFolder, serializeGguf, toGgufExport, createModel, Linear, gguf, quantizeInt4, quantizeInt8,
  quantizeModel, type CausalLM, type GgufFileType, type Tensor,
} from '../../src/index.js';
import { FIXTURES, loadFixture, maxAbsDiff } from '../helpers.js';

interface FileDoc { path: string; logits: number[]; tensors: { name: string; type: string; offset: number; nbytes: number }[] }
const doc = loadFixture<never>('gguf-llama.json') as unknown as { input_ids: number[][]; config: Record<string, unknown>; files: Record<string, FileDoc> };
const ids = fromTypedArray(Int32Array.from(doc.input_ids.flat()), [doc.input_ids.length, doc.input_ids[0]!.length]);

function roundTrip(model: CausalLM, fileType: GgufFileType): GgufFile {
  const exp = toGgufExport(model, { fileType });
  return new GgufFile(serializeGguf({ metadata: exp.metadata, tensors: exp.tensors }), `export-${fileType}`);
}

describe('GGUF -> model (files converted as convert_hf_to_gguf.py does)', () => {
  it('metadata -> config: the models-llama config.json fields', () => {
    const c = configFromGguf(readGguf(join(FIXTURES, doc.files['f32']!.path)));
    for (const key of ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads',
      'rms_norm_eps', 'rope_theta', 'max_position_embeddings', 'tie_word_embeddings', 'bos_token_id', 'eos_token_id']) {
      assert.deepEqual(c[key], doc.config[key], key);
    }
    assert.equal(c['model_type'], 'llama');
  });

  for (const label of ['f32', 'q8_0', 'q4_0']) {
    it(`${label}: logits equal the reference within 1e-4 (Linear weights kept quantized, and dequantized)`, () => {
      const file = readGguf(join(FIXTURES, doc.files[label]!.path));
      for (const keepQuantized of [true, false]) {
        const { model } = loadGgufModel(file, { keepQuantized });
        const q = (model as LlamaForCausalLM).model.layers.at(0).selfAttn.qProj.weight;
        assert.equal(q.dtype, !keepQuantized || label === 'f32' ? 'float32' : label === 'q8_0' ? 'int8' : 'int4');
        const diff = maxAbsDiff(model.forward(ids).toTypedArray(), doc.files[label]!.logits);
        assert.ok(diff <= 1e-4, `${label} keepQuantized=${keepQuantized}: max |logits diff| ${diff}`);
      }
    });
  }

  it('the q/k row order is convert_hf_to_gguf\'s permute: GGUF row h*d + 2i + j holds HF row h*d + j*d/2 + i', () => {
    assert.deepEqual(Array.from(ggufRowOrder(8, 2)), [0, 2, 1, 3, 4, 6, 5, 7]);
    const hf = loadPretrained(readHfFolder(join(FIXTURES, 'models-llama'))) as LlamaForCausalLM;
    const file = readGguf(join(FIXTURES, doc.files['f32']!.path));
    const gq = file.get('blk.1.attn_k.weight').toArray() as number[][];
    const hq = hf.model.layers.at(1).selfAttn.kProj.weight.toArray() as number[][];
    const d = 8; // head_dim 32 / 4
    for (let h = 0; h < 2; h++) for (let i = 0; i < d / 2; i++) for (let j = 0; j < 2; j++) assert.deepEqual(gq[h * d + 2 * i + j], hq[h * d + j * (d / 2) + i]);
  });

  it('refuses what it cannot map, naming it', () => {
    const meta = (extra: [string, ReturnType<typeof gguf.str>][]) => new GgufFile(serializeGguf({ metadata: extra, tensors: [] }), 'x.gguf');
    assert.throws(() => configFromGguf(meta([['general.architecture', gguf.str('gpt2')]])), /x.gguf: architecture 'gpt2' is not supported \(llama, qwen2\)/);
    assert.throws(() => configFromGguf(meta([['general.architecture', gguf.str('llama')]])), /x.gguf: metadata 'llama.embedding_length' is missing/);
    const base: [string, ReturnType<typeof gguf.str>][] = [['general.architecture', gguf.str('llama')], ['llama.embedding_length', gguf.u32(8)], ['llama.attention.head_count', gguf.u32(2)]];
    assert.throws(() => configFromGguf(meta([...base, ['llama.rope.dimension_count', gguf.u32(2)]])), /rope.dimension_count 2 rotates part of a head of 4/);
  });
});

describe('model -> GGUF -> model', () => {
  const hf = loadPretrained(readHfFolder(join(FIXTURES, 'models-llama')));
  const reference = hf.forward(ids);

  it('f32 and q8_0 exports hold the reference converter\'s tensor bytes (same permutation, names and Q8_0 blocks)', () => {
    for (const label of ['f32', 'q8_0'] as const) {
      const ours = roundTrip(hf, label);
      const theirs = readGguf(join(FIXTURES, doc.files[label]!.path));
      assert.deepEqual(ours.keys().sort(), theirs.keys().sort());
      for (const t of theirs.tensorInfos) {
        const o = ours.info(t.name);
        assert.equal(o.typeName, t.typeName, `${label} ${t.name}: type`);
        const a = ours.tensorBytes(o.name);
        const b = theirs.tensorBytes(t.name);
        assert.ok(Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0, `${label} ${t.name}: bytes differ`);
      }
    }
  });

  it('f32: config, every tensor and the logits round-trip exactly', () => {
    const file = roundTrip(hf, 'f32');
    const { model } = loadGgufModel(file);
    const original = (hf as LlamaForCausalLM).config.toDict();
    const back = (model as LlamaForCausalLM).config.toDict();
    for (const [k, v] of Object.entries(original)) assert.deepEqual(back[k], v, `config ${k}`);
    const a = hf.stateDict();
    for (const [name, t] of model.stateDict()) assert.deepEqual(t.toTypedArray(), a.get(name)!.toTypedArray(), name);
    assert.equal(maxAbsDiff(model.forward(ids).toTypedArray(), reference.toTypedArray()), 0);
  });

  it('f16: tensors are the float16 values; q8_0 / q4_0: the quantized values; logits close, KL reported', () => {
    const state = hf.stateDict();
    for (const fileType of ['f16', 'q8_0', 'q4_0'] as const) {
      const exp = toGgufExport(hf, { fileType });
      const file = new GgufFile(serializeGguf({ metadata: exp.metadata, tensors: exp.tensors }), fileType);
      const { model } = loadGgufModel(file);
      for (const [name, t] of model.stateDict()) {
        const orig = state.get(name)!;
        if (orig.ndim === 1) {
          assert.deepEqual(t.toTypedArray(), orig.toTypedArray(), `${fileType} ${name}`);
          continue;
        }
        // the exported tensor, un-permuted, is what the model holds
        const expected = fileType === 'f16' || orig.shape[1]! % 32 !== 0 ? orig.to('float16').to('float32')
          : quantValues(orig, fileType === 'q8_0' || name === 'lm_head.weight' ? 'q8_0' : 'q4_0');
        assert.deepEqual(t.to('float32').toTypedArray(), expected.toTypedArray(), `${fileType} ${name}`);
      }
      const cmp = compareLogits(reference, model.forward(ids));
      console.log(`# models-llama ${fileType}: KL mean ${cmp.klMean.toExponential(3)} max ${cmp.klMax.toExponential(3)}, top-1 ${cmp.top1Agreement}, max |logit diff| ${cmp.maxAbsDiff.toExponential(3)}`);
      assert.ok(cmp.klMean < (fileType === 'q4_0' ? 0.1 : 0.01), `${fileType}: KL ${cmp.klMean}`);
    }
  });

  it('qwen2 (not permuted, q/k/v biases, tied embeddings) and GQA round-trip; llama with attention_bias too', () => {
    for (const folder of ['models-qwen2', 'models-llama-bias']) {
      const m = loadPretrained(readHfFolder(join(FIXTURES, folder)));
      const file = roundTrip(m, 'f32');
      assert.equal(file.value('general.architecture'), folder === 'models-qwen2' ? 'qwen2' : 'llama');
      assert.ok(!file.has('output.weight'), 'tied: no output.weight');
      const { model } = loadGgufModel(file);
      assert.equal(model.constructor, m.constructor);
      assert.equal(maxAbsDiff(model.forward(ids).toTypedArray(), m.forward(ids).toTypedArray()), 0, folder);
    }
  });

  it('quantized Linear weights of a quantizeModel\'d model are written as they are', () => {
    const m = loadPretrained(readHfFolder(join(FIXTURES, 'models-llama')));
    quantizeModel(m, { scheme: 'q4_0' });
    const exp = toGgufExport(m, { fileType: 'q4_0' });
    const q = exp.tensors.find(([n]) => n === 'blk.0.attn_v.weight')![1];
    const v = (m as LlamaForCausalLM).model.layers.at(0).selfAttn.vProj.weight;
    assert.equal(q.storage.data, v.storage.data, 'attn_v (not permuted) is the same buffer');
  });

  it('refuses models llama.cpp would run differently', () => {
    const mistral = createModel({ model_type: 'mistral', vocab_size: 16, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 2, sliding_window: 4, max_position_embeddings: 32 });
    assert.ok(mistral instanceof MistralForCausalLM);
    assert.throws(() => toGgufExport(mistral), /sliding_window 4 < max_position_embeddings 32/);
    const yarn = createModel({ model_type: 'llama', vocab_size: 16, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, rope_scaling: { rope_type: 'yarn', factor: 2 } });
    assert.throws(() => toGgufExport(yarn), /rope_scaling type 'yarn' is not written/);
    assert.throws(() => toGgufExport(new Linear(2, 2)), /Linear is not a LLaMA-family model/);
  });
});

/** The float32 values of a weight after the scheme's quantizer (what the file holds). */
function quantValues(w: Tensor, scheme: 'q8_0' | 'q4_0'): Tensor {
  return (scheme === 'q8_0' ? quantizeInt8(w, { blockSize: 32, scaleFormat: 'float16' }) : quantizeInt4(w)).to('float32');
}
