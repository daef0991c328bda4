/** `attn calc` and `attn logits`: spawns the CLI. logits are checked against the torch fixtures of tests/models/families.test.ts. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { PRESETS, calcModel } from '../../src/index.js';
import { FIXTURES, maxAbsDiff, tempDir } from '../helpers.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function attn(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('attn calc', () => {
  it('llama-2-70b at 32768 tokens in f16 --json: 10,737,418,240 KV bytes and the published parameter count', () => {
    const r = attn('calc', '--preset', 'llama-2-70b', '--seq', '32768', '--dtype', 'f16', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { kvCacheBytes: number; params: { total: number }; seq: number; dtype: string; flops: { training: number; total: number } };
    assert.equal(out.kvCacheBytes, 10_737_418_240);
    assert.equal(out.params.total, 68_976_648_192);
    assert.equal(out.seq, 32768);
    assert.equal(out.dtype, 'f16');
    assert.equal(out.flops.training, 3 * out.flops.total);
  });

  it('--json equals the library calculator; --batch and --dtype scale the KV bytes', () => {
    const r = attn('calc', '--preset', 'gpt2-medium', '--seq', '8192', '--batch', '2', '--dtype', 'f32', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    const lib = calcModel(PRESETS['gpt2-medium']!.config, { seq: 8192, batch: 2, dtype: 'float32' });
    assert.deepEqual(out['params'], lib.params);
    assert.deepEqual(out['flops'], lib.flops);
    assert.equal(out['kvCacheBytes'], 4 * 805_306_368);
  });

  it('text output shows the breakdown, FLOPs and KV bytes; --model reads a folder\'s config.json', () => {
    const t = attn('calc', '--preset', 'gpt2-medium', '--seq', '8192');
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /parameters 354,823,168/);
    for (const label of ['embeddings', 'attention', 'ffn', 'norms', 'head', 'attention QK\\^T', 'attention AV', 'training FLOPs']) assert.match(t.stdout, new RegExp(label));
    assert.match(t.stdout, /KV cache, f16, batch 1, 8192 positions: 805,306,368 bytes/);
    const m = attn('calc', '--model', join(FIXTURES, 'models-llama'), '--seq', '8', '--json');
    assert.equal(m.code, 0, m.stderr);
    const cfg = JSON.parse(readFileSync(join(FIXTURES, 'models-llama', 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual((JSON.parse(m.stdout) as { params: unknown }).params, calcModel(cfg, { seq: 8 }).params);
    assert.match(attn('calc', '--preset', 'bert-base').stdout, /KV cache: none \(encoder-only model\)/);
  });

  it('bad arguments fail with messages naming them', () => {
    const cases: [string[], RegExp][] = [
      [[], /exactly one of --model DIR or --preset NAME/],
      [['--preset', 'gpt2', '--model', '.'], /exactly one of/],
      [['--preset', 'gpt5'], /unknown preset 'gpt5' \(transformer-base, /],
      [['--preset', 'gpt2', '--dtype', 'f8'], /--dtype: expected f32, f16, bf16 or int8, got 'f8'/],
      [['--preset', 'gpt2', '--seq', '0'], /--seq: expected an integer >= 1, got '0'/],
    ];
    for (const [args, message] of cases) {
      const r = attn('calc', ...args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message);
    }
    const missing = attn('calc', '--model', '/nonexistent/attn-model');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\/nonexistent\/attn-model: no such folder/);
  });
});

interface ModelFixture { folder: string; input_ids: number[][]; logits_shape: number[]; logits: number[] }

describe('attn logits', () => {
  // decoder-only families here; BERT, T5 and the Transformer (other inputs) further down
  const decoderOnly = new Set(['gpt2', 'llama', 'mistral', 'qwen2']);
  const names = readdirSync(FIXTURES).filter((f) => {
    if (!/^models-.*\.json$/.test(f)) return false;
    const folder = (JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as { folder?: string }).folder;
    if (!folder || !existsSync(join(FIXTURES, folder, 'config.json'))) return false;
    const cfg = JSON.parse(readFileSync(join(FIXTURES, folder, 'config.json'), 'utf8')) as { model_type?: string };
    return decoderOnly.has(cfg.model_type ?? '');
  });
  it('finds the model fixtures', () => assert.ok(names.length >= 4, names.join(', ')));
  for (const name of names) {
    it(`${name}: --out writes float32 LE [seq, vocab] matching the torch logits within 1e-4`, () => {
      const doc = JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as ModelFixture;
      const [, t, v] = doc.logits_shape as [number, number, number];
      const ids = doc.input_ids[0]!;
      const out = join(tempDir('attn-logits-'), 'logits.f32');
      const r = attn('logits', '--model', join(FIXTURES, doc.folder), '--ids', ids.join(','), '--out', out);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`\\[${t}, ${v}\\]`));
      const bytes = readFileSync(out);
      assert.equal(bytes.length, t * v * 4);
      const got = Array.from({ length: t * v }, (_, i) => bytes.readFloatLE(4 * i));
      const diff = maxAbsDiff(Float32Array.from(got), doc.logits.slice(0, t * v));
      assert.ok(diff <= 1e-4, `max |diff| ${diff}`);
      assert.deepEqual(readdirSync(dirname(out)), ['logits.f32'], 'no temporary file is left behind');
    });
  }

  /** Runs `attn logits ... --out` and compares [t, v] to `expected` (one batch row of a fixture). */
  function checkLogits(args: string[], t: number, v: number, expected: number[]): number {
    assert.equal(expected.length, t * v);
    const out = join(tempDir('attn-logits-'), 'logits.f32');
    const r = attn('logits', ...args, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`\\[${t}, ${v}\\]`));
    const bytes = readFileSync(out);
    assert.equal(bytes.length, t * v * 4);
    const got = Float32Array.from({ length: t * v }, (_, i) => bytes.readFloatLE(4 * i));
    return maxAbsDiff(got, expected);
  }
  /** The first batch row whose mask has no padding (1/true = token). */
  function unpaddedRow(mask: (number | boolean)[][]): number {
    const b = mask.findIndex((m) => m.every((x) => x === 1 || x === true));
    assert.ok(b >= 0, 'the fixture has a row without padding');
    return b;
  }

  it('bert (encoder-only MLM): --ids with --token-type-ids match the torch logits of an unpadded row within 1e-4', () => {
    const doc = JSON.parse(readFileSync(join(FIXTURES, 'models-bert.json'), 'utf8')) as
      { folder: string; input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][]; logits_shape: number[]; logits: number[] };
    const [, t, v] = doc.logits_shape as [number, number, number];
    const b = unpaddedRow(doc.attention_mask);
    assert.ok(doc.token_type_ids[b]!.some((x) => x !== 0), 'the row has a sentence B, so token types matter');
    const expected = doc.logits.slice(b * t * v, (b + 1) * t * v);
    const folder = join(FIXTURES, doc.folder);
    const diff = checkLogits(['--model', folder, '--ids', doc.input_ids[b]!.join(','), '--token-type-ids', doc.token_type_ids[b]!.join(',')], t, v, expected);
    assert.ok(diff <= 1e-4, `max |diff| ${diff}`);
    // without the token types (all sentence A) the logits differ: the flag reaches the model
    const noTypes = checkLogits(['--model', folder, '--ids', doc.input_ids[b]!.join(',')], t, v, expected);
    assert.ok(noTypes > 1e-3, `without --token-type-ids max |diff| ${noTypes}`);
  });

  const t5 = JSON.parse(readFileSync(join(FIXTURES, 'models-t5.json'), 'utf8')) as {
    models: { folder: string; input_ids: number[][]; attention_mask: number[][]; decoder_input_ids: number[][]; logits_shape: number[]; logits: number[] }[];
  };
  it('finds both T5 variants', () => assert.deepEqual(t5.models.map((m) => m.folder).sort(), ['models-t5', 'models-t5-v1_1']));
  for (const m of t5.models) {
    it(`${m.folder} (encoder-decoder): --ids + --decoder-ids match the torch logits [decoder seq, vocab] of an unpadded row within 1e-4`, () => {
      const [, t, v] = m.logits_shape as [number, number, number];
      const b = unpaddedRow(m.attention_mask);
      assert.notEqual(m.input_ids[b]!.length, t, 'encoder and decoder lengths differ, so the output follows the decoder');
      const diff = checkLogits(['--model', join(FIXTURES, m.folder), '--ids', m.input_ids[b]!.join(','), '--decoder-ids', m.decoder_input_ids[b]!.join(',')],
        t, v, m.logits.slice(b * t * v, (b + 1) * t * v));
      assert.ok(diff <= 1e-4, `max |diff| ${diff}`);
    });
  }

  it('transformer (torch.nn.Transformer folder, encoder-decoder): src as --ids, tgt as --decoder-ids match the torch logits within 1e-4', () => {
    const doc = JSON.parse(readFileSync(join(FIXTURES, 'models-transformer.json'), 'utf8')) as {
      folder: string; src_ids: number[][]; tgt_ids: number[][]; src_key_padding_mask: boolean[][]; tgt_key_padding_mask: boolean[][];
      logits_shape: number[]; logits: number[];
    };
    const cfg = JSON.parse(readFileSync(join(FIXTURES, doc.folder, 'config.json'), 'utf8')) as { model_type?: string };
    assert.equal(cfg.model_type, 'transformer');
    const [, t, v] = doc.logits_shape as [number, number, number];
    // torch's key_padding_mask is true for padding: a row without padding is all false in both
    const b = doc.src_key_padding_mask.findIndex((m, i) => m.every((x) => !x) && doc.tgt_key_padding_mask[i]!.every((x) => !x));
    assert.ok(b >= 0);
    const diff = checkLogits(['--model', join(FIXTURES, doc.folder), '--ids', doc.src_ids[b]!.join(','), '--decoder-ids', doc.tgt_ids[b]!.join(',')],
      t, v, doc.logits.slice(b * t * v, (b + 1) * t * v));
    assert.ok(diff <= 1e-4, `max |diff| ${diff}`);
  });

  it('decoder ids, token types and model kinds are checked with messages naming the problem', () => {
    const [gpt2, bert, t5f, tr] = ['models-gpt2', 'models-bert', 'models-t5', 'models-transformer'].map((f) => join(FIXTURES, f)) as [string, string, string, string];
    const cases: [string[], RegExp][] = [
      [['--model', t5f, '--ids', '1,2,3'], /--decoder-ids is required for the encoder-decoder model_type 't5'/],
      [['--model', tr, '--ids', '1,2,3'], /--decoder-ids is required for the encoder-decoder model_type 'transformer'/],
      [['--model', gpt2, '--ids', '1,2', '--decoder-ids', '0,1'], /--decoder-ids: model_type 'gpt2' is decoder-only/],
      [['--model', bert, '--ids', '1,2', '--decoder-ids', '0,1'], /--decoder-ids: model_type 'bert' is encoder-only/],
      [['--model', t5f, '--ids', '40', '--decoder-ids', '0'], /--ids: 40 is outside the vocabulary \[0, 40\)/],
      [['--model', t5f, '--ids', '1,2', '--decoder-ids', '0,40'], /--decoder-ids: 40 is outside the vocabulary \[0, 40\)/],
      [['--model', tr, '--ids', '1,2', '--decoder-ids', '0,x'], /--decoder-ids: 'x' is not an integer/],
      [['--model', bert, '--ids', '1,2,3', '--token-type-ids', '0,1'], /--token-type-ids: 2 entries for 3 --ids/],
      [['--model', bert, '--ids', '1,2,3', '--token-type-ids', '0,2,0'], /--token-type-ids: 2 is outside type_vocab_size \[0, 2\)/],
      [['--model', gpt2, '--ids', '1,2', '--token-type-ids', '0,0'], /--token-type-ids: only encoder-only models \(bert\).*'gpt2' is decoder-only/],
      [['--model', t5f, '--ids', '1,2', '--decoder-ids', '0', '--token-type-ids', '0,0'], /--token-type-ids: only encoder-only.*'t5' is encoder-decoder/],
      [['--model', bert, '--ids', Array.from({ length: 17 }, () => 5).join(',')], /--ids: 17 ids exceed max_position_embeddings 16/],
    ];
    for (const [args, message] of cases) {
      const r = attn('logits', ...args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
    }
    const dir = tempDir('attn-logits-');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'bart', vocab_size: 64 }));
    copyFileSync(join(gpt2, 'model.safetensors'), join(dir, 'model.safetensors'));
    const r = attn('logits', '--model', dir, '--ids', '1');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /model_type "bart" is not supported \(bert, gpt2, llama, mistral, qwen2, t5, transformer\)/);
  });

  it('without --out prints the shape and the first values', () => {
    const r = attn('logits', '--model', join(FIXTURES, 'models-gpt2'), '--ids', '1,2,3');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^logits \[3, 64\]\n {3}0 \(id 1\): -?\d+\.\d{4} /);
    // encoder-decoder: one row per decoder position, labelled with the decoder id
    const s = attn('logits', '--model', join(FIXTURES, 'models-t5'), '--ids', '7,8,9,10', '--decoder-ids', '0,5');
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /^logits \[2, 40\]\n {3}0 \(id 0\): .*\n {3}1 \(id 5\): /);
  });

  it('a missing folder, bad ids and ids outside the vocabulary fail with clear messages', () => {
    const gpt2 = join(FIXTURES, 'models-gpt2');
    const cases: [string[], RegExp][] = [
      [['--model', '/nonexistent/attn-model', '--ids', '1'], /--model: no such folder or file '\/nonexistent\/attn-model'/],
      [['--ids', '1'], /--model DIR\|FILE.gguf is required/],
      [['--model', gpt2], /--ids is required/],
      [['--model', gpt2, '--ids', '1,x,3'], /--ids: 'x' is not an integer/],
      [['--model', gpt2, '--ids', '1.5'], /--ids: '1.5' is not an integer/],
      [['--model', gpt2, '--ids', '1,,3'], /expected comma-separated integers/],
      [['--model', gpt2, '--ids', '64'], /--ids: 64 is outside the vocabulary \[0, 64\)/],
      [['--model', gpt2, '--ids=-1'], /--ids: -1 is outside the vocabulary/],
    ];
    for (const [args, message] of cases) {
      const r = attn('logits', ...args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message);
    }
    assert.ok(!existsSync('/nonexistent/attn-model'));
  });
});
