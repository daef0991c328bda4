import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { tempDir } from './helpers.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

function attn(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('attn CLI', () => {
  it('--help lists the commands; each command has --help', () => {
    const h = attn('--help');
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Usage: attn <command>/);
    const commands = [...h.stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]!);
    assert.ok(commands.includes('demo') && commands.includes('ops'), `commands: ${commands}`);
    for (const c of commands) {
      const r = attn(c, '--help');
      assert.equal(r.code, 0, c);
      assert.match(r.stdout, new RegExp(`^attn ${c}`), c);
    }
  });

  it('unknown commands and bad options fail with a message naming them', () => {
    const u = attn('frobnicate');
    assert.equal(u.code, 2);
    assert.match(u.stderr, /unknown command 'frobnicate'/);
    const b = attn('demo', '--steps', 'many');
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--steps: expected a number, got 'many'/);
    const o = attn('demo', '--bogus');
    assert.equal(o.code, 2);
    assert.match(o.stderr, /Unknown option '--bogus'/);
  });

  it('demo trains: the loss falls well below chance and accuracy rises', () => {
    const r = attn('demo', '--steps', '60', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { losses: number[]; accuracy: number };
    assert.equal(out.losses.length, 60);
    const first = out.losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = out.losses.slice(-5).reduce((a, b) => a + b) / 5;
    assert.ok(first > 2.0, `initial loss ${first} should be near ln 10 = 2.30`);
    assert.ok(last < 0.8, `loss after 60 steps ${last}`);
    assert.ok(out.accuracy > 0.6, `accuracy ${out.accuracy}`);
  });

  it('a closed output pipe (attn ... | head -c 20) ends quietly with status 0', () => {
    // far more output than a pipe buffer holds, so writes hit the closed pipe
    const dir = tempDir('attn-pipe-');
    const input = join(dir, 'text.txt');
    writeFileSync(input, 'the quick brown fox jumps over the lazy dog. '.repeat(8000));
    const cmd = `"${process.execPath}" "${MAIN}" tokenize --tokenizer r50k_base --input "${input}" | head -c 20; echo; echo "status:\${PIPESTATUS[0]}"`;
    const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' });
    assert.match(r.stdout, /status:0\s*$/, r.stderr);
    assert.doesNotMatch(r.stderr, /EPIPE|Error/);
  });

  it('ops --json reports the backend and fused kernels', () => {
    const r = attn('ops', '--json');
    const out = JSON.parse(r.stdout) as { backend: string; primitives: string[]; fused: string[] };
    assert.match(out.backend, /^wasm-(relaxed-)?simd-\d+t$/);
    assert.ok(out.primitives.includes('matmul'));
    assert.deepEqual(out.fused, ['softmax', 'logSoftmax', 'layerNorm', 'rmsNorm', 'crossEntropy', 'attention', 'linear', 'rope', 'gelu', 'swiglu']);
  });
});
