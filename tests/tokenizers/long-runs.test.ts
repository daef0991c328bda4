/**
 * 1 MB runs of one character (spaces, a letter, digits) encode to exactly
 * tiktoken's ids. tiktoken itself (npm, its Rust core in WebAssembly) takes quadratic time on such
 * runs and aborts beyond about 200 KB (fancy_regex's backtracking limit), so the reference is built
 * from what it gives on 4 KB + 3 characters: a run encodes as its longest repeated token T again and
 * again, then a tail that depends only on the length modulo T's length; the 1 MB + 3 run has the
 * same tail and (1 MB - 4 KB) / |T| more copies of T. Digit runs, which cl100k and o200k cut into
 * groups of three, are compared with tiktoken directly at 1 MB.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { get_encoding } from 'tiktoken';
import { loadTiktoken } from '../../src/index.js';

const SMALL = 4096 + 3;
const LARGE = (1 << 20) + 3;

describe('1 MB runs of one character', () => {
  for (const name of ['gpt2', 'cl100k_base', 'o200k_base'] as const) {
    it(`${name}: the ids tiktoken's structure predicts`, () => {
      const ours = loadTiktoken(name);
      const ref = get_encoding(name);
      try {
        // Newlines and an ideograph only at the small size (every test here costs seconds at 1 MB).
        for (const unit of ['\n', '中']) assert.deepEqual(ours.encode(unit.repeat(SMALL)), Array.from(ref.encode(unit.repeat(SMALL), [], [])));
        for (const unit of [' ', 'a', ...(name === 'gpt2' ? ['7'] : [])]) {
          const small = Array.from(ref.encode(unit.repeat(SMALL), [], []));
          const t = small[0]!;
          let m = 0;
          while (small[m] === t) m++;
          const tail = small.slice(m);
          const period = new TextDecoder().decode(ref.decode(new Uint32Array([t]))).length / unit.length;
          assert.ok(tail.length <= 3 && (LARGE - SMALL) % period === 0, `${JSON.stringify(unit)}: ${m} x ${t} then ${tail}`);
          assert.deepEqual(ours.encode(unit.repeat(SMALL)), small, `${JSON.stringify(unit)} x ${SMALL}`);
          const expected = [...new Array<number>(m + (LARGE - SMALL) / period).fill(t), ...tail];
          const got = ours.encode(unit.repeat(LARGE));
          assert.equal(got.length, expected.length, `${JSON.stringify(unit)} x ${LARGE}`);
          assert.deepEqual(got, expected, `${JSON.stringify(unit)} x ${LARGE}`);
        }
      } finally {
        ref.free();
      }
    });
  }

  for (const name of ['cl100k_base', 'o200k_base'] as const) {
    it(`${name}: a 1 MB run of digits equals tiktoken's ids directly`, () => {
      const ref = get_encoding(name);
      const text = '7'.repeat(1 << 20) + '0123456789'.repeat(1 << 16);
      const expected = Array.from(ref.encode(text, [], []));
      ref.free();
      assert.deepEqual(loadTiktoken(name).encode(text), expected);
    });
  }
});
