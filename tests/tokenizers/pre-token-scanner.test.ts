/**
 * The hand-written GPT-2 / cl100k scanners give exactly the regex's pieces (`splitWithRegex` with
 * the translated pattern): on prose, source code and generated Unicode, on adversarial runs, and
 * on random strings (fast-check) drawn from the characters where the patterns' alternatives meet:
 * apostrophes and contractions in both cases, ſ, digits, blank/tab/newline runs, non-ASCII
 * whitespace, letters and numbers, lone surrogates.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CL100K_PATTERN, GPT2_PATTERN, splitWithRegex, tiktokenPatternToJs } from '../../src/tokenizers/pre-tokenizers.js';
import { PreTokenScanner, preTokenScanner } from '../../src/tokenizers/pre-token-scanner.js';
import { englishProse, generatedUnicode, sourceCode } from './corpus.js';

const PATTERNS = [
  ['cl100k', CL100K_PATTERN],
  ['gpt2', GPT2_PATTERN],
] as const;

/** Characters and strings on the borders between the alternatives. */
const TRICKY = [
  "'", "'s", "'S", "'t", "'T", "'re", "'RE", "'rE", "'ve", "'Ve", "'m", "'M", "'ll", "'lL", "'d", "'D", "'x", "''", "'\u017f", '\u017f', '\u212a',
  ' ', '  ', '\t', '\n', '\r', '\r\n', '\n\n', ' \n', '\n ', '\v', '\f', '\u00a0', '\u0085', '\u2028', '\u3000', '\u1680', '\u001c', '\u001f', '\u0000', '\u007f',
  '0', '12', '345', '6789', '\u00b2', '\u0661', '\u2167', 'a', 'Z', 'abc', '\u00e9', '\u00aa', '\u4e2d', '\u{1f600}', '\ud800', '\udfff',
  '.', '!!', '(', '-', '_', '/', '//', '"', '`', '#', '\u2014', '\u00bf',
];
const trickyText = fc.array(fc.oneof(fc.constantFrom(...TRICKY), fc.string({ unit: 'binary-ascii', maxLength: 4 })), { maxLength: 40 }).map((a) => a.join(''));
const ARBITRARY = {
  'tricky pieces': trickyText,
  'ASCII': fc.string({ unit: 'binary-ascii', maxLength: 80 }),
  'code points': fc.string({ unit: 'binary', maxLength: 60 }),
  'code units (lone surrogates included)': fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 60 }),
};

describe('pre-token scanner', () => {
  for (const [name, pattern] of PATTERNS) {
    const regex = new RegExp(tiktokenPatternToJs(pattern), 'gu');
    const scanner = new PreTokenScanner(pattern);
    const same = (text: string): void => assert.deepEqual(scanner.split(text), splitWithRegex(text, regex), JSON.stringify(text.slice(0, 200)));

    it(`${name}: the regex's pieces on prose, code and generated Unicode`, () => {
      for (const text of [englishProse(300_000).join('\n'), sourceCode(200_000).join('\n'), generatedUnicode(100_000).join('\n')]) {
        const n = scanner.scan(text);
        const ends = Array.from(scanner.ends.subarray(0, n));
        const expected: number[] = [];
        let at = 0;
        for (const piece of splitWithRegex(text, regex)) expected.push((at += piece.length));
        assert.deepEqual(ends, expected);
      }
    });

    it(`${name}: long runs and their ends (letters, digits, spaces, newlines, punctuation; ASCII then not)`, () => {
      for (const unit of ['a', '7', ' ', '\t', '\n', '\r\n', ' \n', '!', '\'s', 'é', '\u00a0', '中']) {
        for (const after of ['', 'x', ' ', '\n', 'é', '\u00a0', '1', '.']) for (const before of ['', ' ', '\n', 'é']) same(before + unit.repeat(5000) + after);
      }
      same('');
    });

    for (const [kind, arb] of Object.entries(ARBITRARY)) {
      it(`${name}: random strings, ${kind}`, () => {
        fc.assert(fc.property(arb, (x) => same(x)), { numRuns: 2000, seed: 7 });
      });
    }
  }

  it('only for the two patterns it implements', () => {
    assert.ok(preTokenScanner(CL100K_PATTERN) && preTokenScanner(GPT2_PATTERN));
    assert.equal(preTokenScanner(CL100K_PATTERN.replace('{1,3}', '{1,2}')), null);
  });
});
