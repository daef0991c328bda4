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

  it('usage errors: both or neither source, families without named intermediates', () => {
    assert.equal(attn('trace').code, 2);
    const r = attn('trace', '--preset', 'bert-base');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /model_type "bert" has no named intermediates yet/);
  });
});
