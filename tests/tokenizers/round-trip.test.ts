/**
 * Property tests (fast-check): decode(encode(x)) gives x back for arbitrary strings, and the ids
 * equal tiktoken's, including for strings with lone surrogates, which both replace by U+FFFD
 * before encoding (so those round-trip to x.toWellFormed()).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { get_encoding, type Tiktoken } from 'tiktoken';
import { loadTiktoken, tiktokenPatternToJs, toWellFormed } from '../../src/index.js';

/** Any UTF-16 code unit, so lone and swapped surrogates occur, not only well-formed text. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const ARBITRARY_STRINGS = {
  'code units (lone surrogates included)': fc.string({ unit: codeUnit, maxLength: 80 }),
  'code points': fc.string({ unit: 'binary', maxLength: 80 }),
  graphemes: fc.string({ unit: 'grapheme-composite', maxLength: 40 }),
  'ASCII with specials and whitespace': fc.string({
    unit: fc.oneof(fc.constantFrom(' ', '  ', '\n', '\r\n', "'s", "'LL", '<|endoftext|>', '123456', '\u00a0', '\u0085'), fc.string({ unit: 'binary-ascii', maxLength: 3 })),
    maxLength: 30,
  }),
};

describe('round trip and agreement with tiktoken on arbitrary strings', () => {
  const refs: Tiktoken[] = [];
  after(() => refs.forEach((r) => r.free()));
  for (const name of ['r50k_base', 'cl100k_base', 'o200k_base'] as const) {
    const enc = loadTiktoken(name);
    const ref = get_encoding(name);
    refs.push(ref);
    for (const [kind, arb] of Object.entries(ARBITRARY_STRINGS)) {
      it(`${name}: ${kind}`, () => {
        fc.assert(
          fc.property(arb, (x) => {
            const ids = enc.encode(x, { disallowedSpecial: [] });
            assert.equal(enc.decode(ids), toWellFormed(x));
            assert.deepEqual(ids, Array.from(ref.encode(x, [], [])));
          }),
          { numRuns: 300, seed: 42 },
        );
      });
    }
  }

  it('a lone surrogate encodes as U+FFFD, as tiktoken does', () => {
    const enc = loadTiktoken('cl100k_base');
    assert.equal(toWellFormed('a\ud800b\udc00'), 'a\ufffdb\ufffd');
    assert.deepEqual(enc.encode('a\ud800b'), enc.encode('a\ufffdb'));
    assert.equal(enc.decode(enc.encode('\ud83d')), '\ufffd');
    assert.equal(enc.decode(enc.encode('\ud83d\ude00')), '\ud83d\ude00'); // a proper pair is kept
  });
});

describe('tiktoken patterns translated for JavaScript', () => {
  it('\\s becomes White_Space, (?i:...) explicit case classes with Unicode folds', () => {
    assert.equal(tiktokenPatternToJs("(?i:'s|'ll)|\\s+(?!\\S)|[^\\s\\p{L}]"), "(?:'[sS\u017f]|'[lL][lL])|\\p{White_Space}+(?!\\P{White_Space})|[^\\p{White_Space}\\p{L}]");
    assert.equal(tiktokenPatternToJs("(?i:'k)"), "(?:'[kK\u212a])");
  });
  it('\\d is Unicode Nd and \\w the UTS #18 word class, inside and outside brackets', () => {
    const W = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}';
    assert.equal(tiktokenPatternToJs('\\d+\\w[\\w-]\\W\\D'), `\\p{Nd}+[${W}][${W}-][^${W}]\\P{Nd}`);
    const digits = new RegExp(tiktokenPatternToJs('\\d+'), 'gu');
    assert.deepEqual('a٢4３b'.match(digits), ['٢4３']); // Arabic-Indic, ASCII and fullwidth digits
    assert.throws(() => tiktokenPatternToJs('[\\W]'), /\\W inside a character class is not supported/);
  });
  it('constructs it cannot translate are refused', () => {
    assert.throws(() => tiktokenPatternToJs('\\p{L}++'), /possessive quantifiers are not supported/);
    assert.throws(() => tiktokenPatternToJs('(?i:[ab])'), /holds more than literals/);
    assert.throws(() => tiktokenPatternToJs('(?i)abc'), /unsupported inline flag group/);
  });
});
