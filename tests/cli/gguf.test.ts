/**
 * `attn convert` to and from .gguf, and `--model FILE.gguf` where the CLI loads models:
 * - models-llama -> .gguf (f32) -> `attn logits` gives the torch reference logits (1e-4); q8_0 and
 *   q4_0 files give the logits of the dequantized reference (scripts/reference/gguf_files.py);
 * - a folder with a trained byte-level BPE tokenizer.json -> .gguf carries the vocabulary, and
 *   .gguf -> folder writes a tokenizer.json giving the same ids; `attn generate` runs the .gguf
 *   (weights kept q4_0, the file's tokenizer) as the library does;
 * - the options that cannot work are refused.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  CL100K_PATTERN, GgufFile, LlamaForCausalLM, configFromGguf, createModel, fromTypedArray, generateAll, generativeModel, loadGgufModel, loadPretrained, loadTokenizerJson, readGguf, readHfFolder, serializeGguf,
  toGgufExport, toHfExport, tokenizerFromGguf, trainBpe, trainedTokenizerJson, writeHfFolder,
} from '../../src/index.js';
import { FIXTURES, loadFixture, maxAbsDiff } from '../helpers.js';
import { englishProse } from '../tokenizers/corpus.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function attn(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const ggufDoc = loadFixture<never>('gguf-llama.json') as unknown as { input_ids: number[][]; files: Record<string, { logits: number[] }> };
const ids = ggufDoc.input_ids[0]!;
const V = 64;

let work: string;
before(() => { work = mkdtempSync(join(tmpdir(), 'attn-gguf-cli-')); });
after(() => { rmSync(work, { recursive: true, force: true }); });

/** `attn logits` of the first fixture row, read back from its --out file. */
function logitsOf(model: string): Float32Array {
  const out = join(work, `logits-${Math.random().toString(36).slice(2)}.bin`);
  const r = attn('logits', '--model', model, '--ids', ids.join(','), '--out', out);
  assert.equal(r.code, 0, r.stderr);
  const b = readFileSync(out);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

describe('attn convert <-> .gguf', () => {
  for (const dtype of ['f32', 'q8_0', 'q4_0']) {
    it(`models-llama -> ${dtype}.gguf: attn logits on the file matches the reference`, () => {
      const file = join(work, `llama-${dtype}.gguf`);
      const r = attn('convert', '--model', join(FIXTURES, 'models-llama'), '--out', file, '--dtype', dtype);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`wrote .*llama-${dtype}.gguf: llama ${dtype}, 21 tensors`));
      const got = logitsOf(file);
      if (dtype === 'q4_0') {
        // attn writes the output matrix as Q8_0 where the reference file has Q4_0: compare with the
        // library's own export of the same model
        const hf = loadPretrained(readHfFolder(join(FIXTURES, 'models-llama')));
        const exp = toGgufExport(hf, { fileType: 'q4_0' });
        const { model } = loadGgufModel(new GgufFile(serializeGguf({ metadata: exp.metadata, tensors: exp.tensors })));
        const expected = model.forward(fromTypedArray(Int32Array.from(ids), [1, ids.length])).toTypedArray();
        assert.ok(maxAbsDiff(got, expected) <= 1e-5, `q4_0: ${maxAbsDiff(got, expected)}`);
      } else {
        const expected = ggufDoc.files[dtype]!.logits.slice(0, ids.length * V);
        assert.ok(maxAbsDiff(got, expected) <= 1e-4, `${dtype}: ${maxAbsDiff(got, expected)}`);
      }
    });
  }

  it('.gguf -> folder -> .gguf: the folder holds float32 weights giving the same logits', () => {
    const folder = join(work, 'from-gguf');
    const r = attn('convert', '--model', join(FIXTURES, 'gguf', 'llama-q8_0.gguf'), '--out', folder);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(folder).sort(), ['config.json', 'model.safetensors']);
    assert.ok(maxAbsDiff(logitsOf(folder), ggufDoc.files['q8_0']!.logits.slice(0, ids.length * V)) <= 1e-4);
    const again = join(work, 'again.gguf');
    assert.equal(attn('convert', '--model', folder, '--out', again).code, 0);
    assert.equal(readGguf(again).value('llama.block_count'), 2);
  });

  it('a byte-level BPE tokenizer.json travels into the .gguf and back out as a tokenizer.json with the same ids', () => {
    const texts = englishProse(30_000);
    const trained = trainBpe(texts, { vocabSize: 400, pattern: CL100K_PATTERN });
    const folder = join(work, 'with-tokenizer');
    const model = createModel({ model_type: 'llama', vocab_size: 401, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2 });
    const exp = toHfExport(model);
    writeHfFolder(folder, { config: exp.config, tensors: exp.tensors, files: new Map([['tokenizer.json', JSON.stringify(trainedTokenizerJson(trained, { specialTokens: ['<|endoftext|>'] }))]]) });
    const file = join(work, 'with-tokenizer.gguf');
    const r = attn('convert', '--model', folder, '--out', file, '--dtype', 'f16');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /tokenizer.json as llama-bpe BPE/);
    const meta = readGguf(file).plainMetadata();
    assert.equal(meta['tokenizer.ggml.eos_token_id'], 400, '<|endoftext|> is the end of text without an eos_token_id');
    const back = join(work, 'with-tokenizer-back');
    const r2 = attn('convert', '--model', file, '--out', back);
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /tokenizer.json from the GGUF vocabulary/);
    const original = loadTokenizerJson(join(folder, 'tokenizer.json'));
    const written = loadTokenizerJson(join(back, 'tokenizer.json'));
    const fromGguf = tokenizerFromGguf(meta).tokenizer;
    for (const t of texts.slice(0, 20)) {
      const expected = original.encode(t);
      assert.deepEqual(written.encode(t), expected);
      assert.deepEqual(fromGguf.encode(t, { addSpecialTokens: false } as never), expected);
    }
  });

  it('attn generate --model FILE.gguf (q4_0) gives the library\'s tokens from the same file, tokenizer included', async () => {
    const folder = join(work, 'with-tokenizer');
    const file = join(work, 'gen-q4_0.gguf');
    assert.equal(attn('convert', '--model', folder, '--out', file, '--dtype', 'q4_0').code, 0);
    const r = attn('generate', '--model', file, '--prompt', 'The Congress', '--max-tokens', '10', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { ids: number[]; text: string };
    const gguf = readGguf(file);
    const loaded = loadGgufModel(gguf);
    assert.equal((loaded.model as LlamaForCausalLM).model.layers.at(0).mlp.upProj.weight.dtype, 'int4', 'Linear weights stay q4_0');
    const { tokenizer } = tokenizerFromGguf(gguf.plainMetadata());
    const want = await generateAll(generativeModel(loaded, { config: configFromGguf(gguf) }), tokenizer, 'The Congress', { maxTokens: 10 });
    assert.deepEqual(out.ids, want.ids);
    assert.equal(out.text, want.text);
    assert.equal(out.ids.length, 10);

    // --activations q8_0: llama.cpp's arithmetic, the library's tokens with the same option
    const q = attn('generate', '--model', file, '--prompt', 'The Congress', '--max-tokens', '10', '--json', '--activations', 'q8_0');
    assert.equal(q.code, 0, q.stderr);
    const q8 = loadGgufModel(gguf, { activations: 'q8_0' });
    assert.equal((q8.model as LlamaForCausalLM).model.layers.at(0).mlp.upProj.activations, 'q8_0');
    const wantQ8 = await generateAll(generativeModel(q8, { config: configFromGguf(gguf) }), tokenizer, 'The Congress', { maxTokens: 10 });
    assert.deepEqual((JSON.parse(q.stdout) as { ids: number[] }).ids, wantQ8.ids);
    assert.match(attn('generate', '--model', file, '--prompt', 'x', '--activations', 'int4').stderr, /--activations: expected float32 or q8_0, got 'int4'/);
    assert.match(attn('generate', '--model', folder, '--prompt', 'x', '--activations', 'q8_0').stderr, /--activations applies to the quantized weights of a .gguf model/);
  });

  it('--model FILE.gguf works for trace and eval-style loading; bad options are refused', () => {
    const t = attn('trace', '--model', join(FIXTURES, 'gguf', 'llama-q4_0.gguf'), '--seq', '3');
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /weights loaded/);
    assert.match(t.stdout, /result_output/);
    const bad: [string[], RegExp][] = [
      [['convert', '--model', join(FIXTURES, 'models-llama'), '--out', join(work, 'x'), '--dtype', 'q8_0'], /--dtype: a folder is written as f32, f16 or bf16, got 'q8_0' \(q8_0 and q4_0: write a .gguf\)/],
      [['convert', '--model', join(FIXTURES, 'models-llama'), '--out', join(work, 'x.gguf'), '--dtype', 'bf16'], /--dtype: a .gguf is written as f32, f16, q8_0, q4_0, got 'bf16'/],
      [['convert', '--model', join(FIXTURES, 'models-gpt2'), '--out', join(work, 'g.gguf')], /GPT2LMHeadModel is not a LLaMA-family model/],
      [['convert', '--model', join(FIXTURES, 'models-llama.json'), '--out', join(work, 'y')], /is neither a model folder nor a .gguf file/],
      [['logits', '--model', join(FIXTURES, 'models-llama.json'), '--ids', '1'], /is neither a model folder nor a .gguf file/],
    ];
    for (const [args, re] of bad) {
      const r = attn(...args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, re, args.join(' '));
    }
    const existing = join(work, 'exists.gguf');
    writeFileSync(existing, 'x');
    const r = attn('convert', '--model', join(FIXTURES, 'models-llama'), '--out', existing);
    assert.match(r.stderr, /--out: '.*exists.gguf' exists \(pass --force to replace it\)/);
    assert.equal(attn('convert', '--model', join(FIXTURES, 'models-llama'), '--out', existing, '--force').code, 0);
  });
});
