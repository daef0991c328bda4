/** `attn calc` and `attn logits`: spawns the CLI. logits are checked against the torch fixtures of tests/models/families.test.ts. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { PRESETS, calcModel } from '../../src/index.js';
import { FIXTURES, maxAbsDiff } from '../helpers.js';

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
  // attn logits runs the decoder-only families; BERT (masked LM with token types and padding)
  // and the encoder-decoder Transformer have their own fixture tests under tests/models/
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
      const out = join(mkdtempSync(join(tmpdir(), 'attn-logits-')), 'logits.f32');
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

  it('without --out prints the shape and the first values', () => {
    const r = attn('logits', '--model', join(FIXTURES, 'models-gpt2'), '--ids', '1,2,3');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^logits \[3, 64\]\n {3}0 \(id 1\): -?\d+\.\d{4} /);
  });

  it('a missing folder, bad ids and ids outside the vocabulary fail with clear messages', () => {
    const gpt2 = join(FIXTURES, 'models-gpt2');
    const cases: [string[], RegExp][] = [
      [['--model', '/nonexistent/attn-model', '--ids', '1'], /--model: no such folder '\/nonexistent\/attn-model'/],
      [['--ids', '1'], /--model DIR is required/],
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
