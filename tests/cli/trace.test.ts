/** `attn trace`: spawns the CLI on a fixture folder (weights loaded) and on a preset (tiny same-structure config). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { FIXTURES } from '../helpers.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function attn(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('attn trace', () => {
  it('--model DIR loads the weights and prints each named intermediate with its block and shape', () => {
    const r = attn('trace', '--model', join(FIXTURES, 'models-mistral'), '--seq', '3');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /models-mistral: weights loaded\ninput_ids \[1, 3\] int32/);
    const rows = r.stdout.split('\n').filter((l) => /\[\d/.test(l) && !l.startsWith('input_ids'));
    assert.equal(rows.length, 1 + 2 * 6 + 2);
    assert.match(rows[0]!, /^-\s+inp_embd\s+\[1, 3, 32\] float32$/);
    assert.match(rows[7]!, /^1\s+attn_norm\s+\[1, 3, 32\] float32$/);
    assert.match(rows.at(-1)!, /^-\s+result_output\s+\[1, 3, 64\] float32$/);
  });

  it('--preset too large to instantiate traces a tiny config with the same structure and says so', () => {
    const r = attn('trace', '--preset', 'mistral-7b', '--seq', '2');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /too many to instantiate here; tracing a tiny config with the same structure \(random weights\): hidden_size 4096 -> 256/);
    assert.match(r.stdout, /^1\s+l_out\s+\[1, 2, 256\] float32$/m);
  });

  it('--model DIR of an encoder-decoder (t5) runs encoder and decoder: enc_ and dec_ points with their own lengths', () => {
    const r = attn('trace', '--model', join(FIXTURES, 'models-t5-v1_1'), '--seq', '4', '--decoder-seq', '2');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /weights loaded\ninput_ids \[1, 4\] int32\ndecoder_input_ids \[1, 2\] int32/);
    assert.match(r.stdout, /^1\s+enc_l_out\s+\[1, 4, 32\] float32$/m);
    assert.match(r.stdout, /^2\s+dec_cross_out\s+\[1, 2, 32\] float32$/m);
    assert.match(r.stdout, /^-\s+result_output\s+\[1, 2, 40\] float32$/m);
  });

  it('--preset bert-base and transformer-base trace tiny same-structure configs', () => {
    const b = attn('trace', '--preset', 'bert-base', '--seq', '3');
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /hidden_size 768 -> 96, intermediate_size 3072 -> 384, num_hidden_layers 12 -> 2, vocab_size 30522 -> 256/);
    assert.match(b.stdout, /^1\s+ffn_inp\s+\[1, 3, 96\] float32$/m);
    const t = attn('trace', '--preset', 'transformer-base', '--seq', '3');
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /decoder_input_ids \[1, 3\] int32/);
    assert.match(t.stdout, /^0\s+dec_cross_inp\s+\[1, 3, 64\] float32$/m);
  });

  it('usage errors: both or neither source, --decoder-seq for a model without a decoder input', () => {
    assert.equal(attn('trace').code, 2);
    const r = attn('trace', '--preset', 'gpt2', '--decoder-seq', '2');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--decoder-seq: model_type 'gpt2' has no decoder input \(only t5 and transformer do\)/);
  });
});
