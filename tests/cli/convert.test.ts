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
  BertConfig, GPT2Config, GPT2LMHeadModel, LlamaConfig, MistralConfig, Qwen2Config, T5Config, T5ForConditionalGeneration,
  TransformerConfig, readHfFolder, toHfExport, writeHfFolder, zeros, type TensorSource,
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

/** Runs `attn logits` and returns the float32 logits it wrote. */
function logitsOf(args: string[], file: string): Float32Array {
  const l = attn('logits', ...args, '--out', file);
  assert.equal(l.code, 0, l.stderr);
  const buf = readFileSync(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** Asserts that `conv` holds `names`, each with the shape and the exact float32 bits of `orig`'s tensor of that name. */
function assertSameTensors(conv: TensorSource, orig: TensorSource, names: string[]): void {
  assert.deepEqual(conv.keys().sort(), [...names].sort(), 'tensor names');
  for (const key of names) {
    assert.equal(conv.get(key).dtype, 'float32', key);
    assert.deepEqual([...conv.get(key).shape], [...orig.get(key).shape], `${key} shape`);
    const va = values(orig, key);
    const vb = values(conv, key);
    assert.deepEqual(new Uint32Array(vb.buffer.slice(vb.byteOffset, vb.byteOffset + vb.byteLength)),
      new Uint32Array(va.buffer.slice(va.byteOffset, va.byteOffset + va.byteLength)), `${key} bits`);
  }
}

describe('attn convert: encoder-decoder models', () => {
  const t5 = loadFixture<never>('models-t5.json') as unknown as {
    models: { folder: string; input_ids: number[][]; attention_mask: number[][]; decoder_input_ids: number[][]; logits_shape: number[]; logits: number[] }[];
  };
  for (const m of t5.models) {
    it(`${m.folder}: T5ForConditionalGeneration's names without the tied copies, bit-exact values, config round trip, logits within 1e-4`, () => {
      const src = join(FIXTURES, m.folder);
      const out = join(work, `${m.folder}-f32`);
      const r = attn('convert', '--model', src, '--out', out);
      assert.equal(r.code, 0, r.stderr);
      const orig = readHfFolder(src);
      const conv = readHfFolder(out);
      // save_pretrained's layout: shared.weight once, no encoder/decoder.embed_tokens copies, lm_head.weight iff untied
      const tied = orig.config['tie_word_embeddings'] !== false;
      const expected = orig.weights.keys().filter((n) => !n.endsWith('.embed_tokens.weight') && !(tied && n === 'lm_head.weight'));
      assert.ok(expected.includes('shared.weight'));
      if (tied) assert.ok(expected.length < orig.weights.keys().length, 'the v1.0 fixture holds the tied copies, which are not written');
      assert.deepEqual([...new T5ForConditionalGeneration(T5Config.fromDict(orig.config)).stateDict().keys()].sort(), [...expected].sort());
      assertSameTensors(conv.weights, orig.weights, expected);
      assert.deepEqual(T5Config.fromDict(conv.config), T5Config.fromDict(orig.config));
      assert.deepEqual(conv.config['architectures'], ['T5ForConditionalGeneration']);
      assert.equal(conv.config['model_type'], 't5');
      const [, t, v] = m.logits_shape as [number, number, number];
      const b = m.attention_mask.findIndex((row) => row.every((x) => x === 1));
      const got = logitsOf(['--model', out, '--ids', m.input_ids[b]!.join(','), '--decoder-ids', m.decoder_input_ids[b]!.join(',')], join(work, `${m.folder}.logits`));
      const diff = maxAbsDiff(got, m.logits.slice(b * t * v, (b + 1) * t * v));
      assert.ok(diff <= 1e-4, `${m.folder}: max |logits diff| ${diff}`);
    });
  }

  it("transformer: torch.nn.Transformer's state-dict names exactly, bit-exact values, nn.Transformer's arguments in config.json, logits within 1e-4", () => {
    const doc = loadFixture<never>('models-transformer.json') as unknown as {
      folder: string; src_ids: number[][]; tgt_ids: number[][]; src_key_padding_mask: boolean[][]; tgt_key_padding_mask: boolean[][];
      logits_shape: number[]; logits: number[];
    };
    const src = join(FIXTURES, doc.folder);
    const out = join(work, 'transformer-f32');
    const r = attn('convert', '--model', src, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const orig = readHfFolder(src);
    const conv = readHfFolder(out);
    assertSameTensors(conv.weights, orig.weights, orig.weights.keys()); // written by torch's state_dict(): the same set
    assert.deepEqual(TransformerConfig.fromDict(conv.config), TransformerConfig.fromDict(orig.config));
    for (const k of ['d_model', 'nhead', 'num_encoder_layers', 'num_decoder_layers', 'dim_feedforward', 'dropout', 'activation', 'layer_norm_eps', 'batch_first', 'norm_first']) {
      assert.deepEqual(conv.config[k], orig.config[k], `config.json ${k}`);
    }
    assert.equal(conv.config['model_type'], 'transformer');
    const [, t, v] = doc.logits_shape as [number, number, number];
    const b = doc.src_key_padding_mask.findIndex((m, i) => m.every((x) => !x) && doc.tgt_key_padding_mask[i]!.every((x) => !x));
    const got = logitsOf(['--model', out, '--ids', doc.src_ids[b]!.join(','), '--decoder-ids', doc.tgt_ids[b]!.join(',')], join(work, 'transformer.logits'));
    const diff = maxAbsDiff(got, doc.logits.slice(b * t * v, (b + 1) * t * v));
    assert.ok(diff <= 1e-4, `transformer: max |logits diff| ${diff}`);
  });
});

describe('attn convert: attn-only GPT-2 variants are refused', () => {
  it('toHfExport and attn convert name the variant; a plain GPT-2 config.json carries no attn fields', () => {
    const base = readHfFolder(join(FIXTURES, 'models-gpt2')).config;
    for (const [field, value] of [['position_embedding_type', 'alibi'], ['norm_position', 'post']] as const) {
      const model = new GPT2LMHeadModel(GPT2Config.fromDict({ ...base, [field]: value }));
      assert.throws(() => toHfExport(model), new RegExp(`toHfExport: GPT2LMHeadModel: ${field} '${value}' is an attn variant that transformers' GPT-2 does not have`));
      const dir = join(work, `variant-${value}`);
      writeHfFolder(dir, { config: model.config.toDict(), tensors: model.stateDict() });
      assert.equal(readHfFolder(dir).config[field], value, 'the variant round-trips through its own config.json');
      const r = attn('convert', '--model', dir, '--out', join(work, `variant-${value}-out`));
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`${field} '${value}' is an attn variant`));
    }
    const plain = toHfExport(new GPT2LMHeadModel(GPT2Config.fromDict(base))).config;
    for (const k of ['position_embedding_type', 'norm_position', 'rope_theta']) assert.ok(!(k in plain), k);
  });
});

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
    assert.match(d.stderr, /--dtype: a folder is written as f32, f16 or bf16, got 'f8'/);
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
