/**
 * `attn convert`: every decoder-only fixture folder (written by scripts/reference/models.py with
 * torch, not by attn) is converted and the result compared with the original: the same tensor
 * names, shapes and values (float32 bit-exact; float16/bfloat16 within their rounding), a
 * config.json that fromDict reads to an equal config, and `attn logits` on the converted folder
 * matching the fixture's reference logits within 1e-4. Also: --out refusal and --force, and
 * writeHfFolder leaving nothing behind when it fails.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  BertConfig, GPT2Config, LlamaConfig, MistralConfig, Qwen2Config, readHfFolder, writeHfFolder, zeros,
  type TensorSource,
} from '../../src/index.js';
import { FIXTURES, loadFixture, maxAbsDiff } from '../helpers.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function attn(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const CONFIGS: Record<string, { fromDict(d: Readonly<Record<string, unknown>>): object }> = {
  gpt2: GPT2Config, llama: LlamaConfig, mistral: MistralConfig, qwen2: Qwen2Config, bert: BertConfig,
};

/** Values of a tensor from a source as float32 numbers (stored f16/bf16 widened). */
function values(src: TensorSource, name: string): Float32Array {
  return src.get(name).to('float32').toTypedArray() as Float32Array;
}

interface ModelFixture { folder: string; input_ids: number[][]; logits_shape: number[]; logits: number[] }

const DECODERS = ['gpt2', 'llama', 'llama-bias', 'llama-dynamic', 'llama-yarn', 'mistral', 'qwen2'];

let work: string;
before(() => { work = mkdtempSync(join(tmpdir(), 'attn-convert-')); });
after(() => { rmSync(work, { recursive: true, force: true }); });

for (const name of DECODERS) {
  describe(`attn convert models-${name}`, () => {
    const doc = loadFixture<never>(`models-${name}.json`) as unknown as ModelFixture;
    const src = join(FIXTURES, doc.folder);

    it('f32: exactly the original tensor names, shapes and bit-exact values; config round-trips; logits match', () => {
      const out = join(work, `${name}-f32`);
      const r = attn('convert', '--model', src, '--out', out);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(readdirSync(out).sort(), ['config.json', 'model.safetensors']);
      const orig = readHfFolder(src);
      const conv = readHfFolder(out);
      assert.deepEqual(conv.weights.keys().sort(), orig.weights.keys().sort(), 'tensor names');
      for (const key of orig.weights.keys()) {
        const a = orig.weights.get(key);
        const b = conv.weights.get(key);
        assert.equal(b.dtype, 'float32', key);
        assert.deepEqual([...b.shape], [...a.shape], `${key} shape`);
        const va = values(orig.weights, key);
        const vb = values(conv.weights, key);
        assert.deepEqual(new Uint32Array(vb.buffer.slice(vb.byteOffset, vb.byteOffset + vb.byteLength)),
          new Uint32Array(va.buffer.slice(va.byteOffset, va.byteOffset + va.byteLength)), `${key} bits`);
      }
      // config.json: read back by the family's fromDict to an equal config, with HF bookkeeping keys.
      const type = orig.config['model_type'] as string;
      const family = CONFIGS[type]!;
      assert.deepEqual(family.fromDict(conv.config), family.fromDict(orig.config));
      assert.equal(conv.config['model_type'], type);
      assert.equal(conv.config['torch_dtype'], 'float32');
      assert.ok(Array.isArray(conv.config['architectures']) && /^(GPT2LMHeadModel|LlamaForCausalLM|MistralForCausalLM|Qwen2ForCausalLM)$/.test((conv.config['architectures'] as string[])[0]!));
      // Keys attn does not model are kept (bos/eos ids, transformers_version).
      for (const k of ['bos_token_id', 'eos_token_id', 'transformers_version']) {
        if (k in orig.config) assert.deepEqual(conv.config[k], orig.config[k], k);
      }
      // Tied heads as transformers writes them: lm_head.weight present iff untied.
      assert.equal(conv.weights.has('lm_head.weight'), orig.config['tie_word_embeddings'] === false);

      // attn logits on the converted folder vs the fixture's torch logits (row 0 of the batch).
      const logitsFile = join(work, `${name}.logits`);
      const ids = doc.input_ids[0]!;
      const l = attn('logits', '--model', out, '--ids', ids.join(','), '--out', logitsFile);
      assert.equal(l.code, 0, l.stderr);
      const buf = readFileSync(logitsFile);
      const got = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      const v = doc.logits_shape[2]!;
      assert.equal(got.length, ids.length * v);
      const diff = maxAbsDiff(got, doc.logits.slice(0, ids.length * v));
      assert.ok(diff <= 1e-4, `${name}: max |logits diff| ${diff}`);
    });

    it('f16 and bf16: same names and shapes, values within the dtype\'s rounding, torch_dtype set', () => {
      for (const [flag, dtype, relHalfUlp, minNormal] of [['f16', 'float16', 2 ** -11, 2 ** -14], ['bf16', 'bfloat16', 2 ** -8, 2 ** -126]] as const) {
        const out = join(work, `${name}-${flag}`);
        const r = attn('convert', '--model', src, '--out', out, '--dtype', flag);
        assert.equal(r.code, 0, r.stderr);
        const orig = readHfFolder(src);
        const conv = readHfFolder(out);
        assert.equal(conv.config['torch_dtype'], dtype);
        assert.deepEqual(conv.weights.keys().sort(), orig.weights.keys().sort());
        for (const key of orig.weights.keys()) {
          const b = conv.weights.get(key);
          assert.equal(b.dtype, dtype, key);
          assert.deepEqual([...b.shape], [...orig.weights.get(key).shape], key);
          const va = values(orig.weights, key);
          const vb = values(conv.weights, key);
          for (let i = 0; i < va.length; i++) {
            // Round-to-nearest: within half an ulp, relative for normals, absolute below them.
            const tol = Math.max(Math.abs(va[i]!) * relHalfUlp, minNormal * relHalfUlp * 2);
            assert.ok(Math.abs(va[i]! - vb[i]!) <= tol, `${key}[${i}]: ${va[i]} -> ${vb[i]} (${dtype})`);
          }
        }
      }
    });
  });
}

describe('attn convert: --out handling and atomic writes', () => {
  it('refuses a non-empty --out without --force and leaves it untouched; --force replaces it', () => {
    const out = join(work, 'busy');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    const r = attn('convert', '--model', join(FIXTURES, 'models-gpt2'), '--out', out);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /exists and is not empty \(pass --force to replace it\)/);
    assert.deepEqual(readdirSync(out), ['keep.txt']);
    const f = attn('convert', '--model', join(FIXTURES, 'models-gpt2'), '--out', out, '--force');
    assert.equal(f.code, 0, f.stderr);
    assert.deepEqual(readdirSync(out).sort(), ['config.json', 'model.safetensors']);
    assert.deepEqual(readdirSync(work).filter((n) => n.startsWith('.')), [], 'no temporary folders left');
  });

  it('an empty existing --out is filled; bert converts (tied decoder, pooler and NSP head not written)', () => {
    const out = join(work, 'empty');
    mkdirSync(out);
    const r = attn('convert', '--model', join(FIXTURES, 'models-bert'), '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const conv = readHfFolder(out);
    const names = conv.weights.keys();
    assert.ok(names.includes('cls.predictions.bias') && names.includes('bert.embeddings.word_embeddings.weight'));
    assert.ok(!names.some((n) => n.startsWith('cls.predictions.decoder.') || n.startsWith('bert.pooler.') || n.startsWith('cls.seq_relationship.')));
    assert.deepEqual(BertConfig.fromDict(conv.config), BertConfig.fromDict(readHfFolder(join(FIXTURES, 'models-bert')).config));
  });

  it('usage errors: missing options, bad --dtype, unknown model folder', () => {
    assert.equal(attn('convert', '--out', join(work, 'x')).code, 2);
    assert.equal(attn('convert', '--model', join(FIXTURES, 'models-gpt2')).code, 2);
    const d = attn('convert', '--model', join(FIXTURES, 'models-gpt2'), '--out', join(work, 'x'), '--dtype', 'f8');
    assert.equal(d.code, 2);
    assert.match(d.stderr, /--dtype: expected f32, f16 or bf16/);
    assert.equal(attn('convert', '--model', join(work, 'nope'), '--out', join(work, 'x')).code, 2);
  });

  it('writeHfFolder: a failure mid-write leaves the existing folder as it was and no temporary folder', () => {
    const parent = mkdtempSync(join(work, 'atomic-'));
    const out = join(parent, 'model');
    writeHfFolder(out, { config: { model_type: 'gpt2' }, tensors: new Map([['a', zeros([2])]]) });
    const before = readFileSync(join(out, 'model.safetensors'));
    // A BigInt in the config makes JSON.stringify throw after the temporary folder exists.
    assert.throws(() => writeHfFolder(out, { config: { bad: 1n }, tensors: new Map([['b', zeros([3])]]), overwrite: true }), /BigInt/);
    assert.deepEqual(readdirSync(parent), ['model']);
    assert.deepEqual(readFileSync(join(out, 'model.safetensors')), before);
    assert.throws(() => writeHfFolder(out, { config: {}, tensors: new Map() }), /exists and is not empty/);
  });
});
