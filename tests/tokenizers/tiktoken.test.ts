/**
 * Byte-level BPE against tiktoken's own implementation (the `tiktoken` npm package: tiktoken's Rust
 * core compiled to WebAssembly, its own encoder): exact ids on a mixed corpus for every encoding,
 * the special-token rules, decoding errors, and a worked example of the merge rule.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { get_encoding, type Tiktoken } from 'tiktoken';
import { BytePairEncoding, bytePairMerge, bytePairMergeReference, loadTiktoken, parseTiktokenFile, parseTiktokenNpmRanks, TokenizerError } from '../../src/index.js';
import { englishProse, generatedUnicode, sourceCode } from './corpus.js';

const ENCODINGS = ['r50k_base', 'p50k_base', 'cl100k_base', 'o200k_base'] as const;

/** Per encoding: 0.6 MB prose + 0.45 MB code + 0.3 MB generated Unicode; 5.4 MB over the four. */
const CORPUS = {
  prose: englishProse(600_000),
  code: sourceCode(450_000),
  unicode: generatedUnicode(300_000),
};

const references = new Map<string, Tiktoken>();
function reference(name: string): Tiktoken {
  let r = references.get(name);
  if (!r) references.set(name, (r = get_encoding(name as Parameters<typeof get_encoding>[0])));
  return r;
}
after(() => references.forEach((r) => r.free()));

/** Asserts equal id sequences, reporting the first difference and the text where it happens. */
function assertSameIds(ours: ArrayLike<number>, theirs: ArrayLike<number>, what: string, text: string, enc: BytePairEncoding): void {
  const n = Math.min(ours.length, theirs.length);
  let i = 0;
  while (i < n && ours[i] === theirs[i]) i++;
  if (i === n && ours.length === theirs.length) return;
  const at = enc.decode(Array.from(theirs).slice(0, i)).length;
  assert.fail(
    `${what}: ids differ at index ${i} of ${ours.length}/${theirs.length}: ours ${JSON.stringify(Array.from(ours).slice(i, i + 8))}, ` +
      `tiktoken ${JSON.stringify(Array.from(theirs).slice(i, i + 8))}, at text ${JSON.stringify(text.slice(at, at + 40))}`,
  );
}

describe('tiktoken encodings: exact ids against the tiktoken npm package', () => {
  for (const name of ENCODINGS) {
    it(`${name}: prose, code and generated Unicode (${(Object.values(CORPUS).flat().reduce((s, d) => s + d.length, 0) / 1e6).toFixed(2)} M chars)`, () => {
      const ours = loadTiktoken(name);
      const theirs = reference(name);
      for (const [part, docs] of Object.entries(CORPUS)) {
        const batch = ours.encodeBatch(docs, { disallowedSpecial: [] });
        docs.forEach((doc, d) => {
          const expected = theirs.encode(doc, [], []);
          assertSameIds(batch[d]!, expected, `${name} ${part} document ${d}`, doc, ours);
          assert.equal(ours.decode(batch[d]!), doc, `${name} ${part} document ${d}: decode(encode(x)) != x`);
        });
      }
    });
  }

  it('gpt2 is r50k_base; vocabulary sizes match tiktoken', () => {
    const text = CORPUS.prose[0]!.slice(0, 20_000);
    assert.deepEqual(loadTiktoken('gpt2').encode(text), loadTiktoken('r50k_base').encode(text));
    const sizes = Object.fromEntries(ENCODINGS.map((n) => [n, loadTiktoken(n).vocabSize]));
    assert.deepEqual(sizes, { r50k_base: 50257, p50k_base: 50281, cl100k_base: 100277, o200k_base: 200019 });
  });

  it('p50k_edit: p50k_base ids plus its fill-in-the-middle special tokens', () => {
    const text = `<|fim_prefix|>def f(x):<|fim_suffix|>    return x<|fim_middle|>${CORPUS.code[0]!.slice(0, 5000)}<|endoftext|>`;
    const ours = loadTiktoken('p50k_edit');
    assert.deepEqual(ours.encode(text, { allowedSpecial: 'all' }), Array.from(reference('p50k_edit').encode(text, 'all')));
    assert.deepEqual(ours.encodeOrdinary(CORPUS.prose[0]!.slice(0, 5000)), loadTiktoken('p50k_base').encodeOrdinary(CORPUS.prose[0]!.slice(0, 5000)));
    assert.deepEqual(ours.encode('<|fim_prefix|>', { allowedSpecial: 'all' }), [50281]);
  });

  it('the readable merge gives the same ids as the fast path through the whole encoder', () => {
    for (const name of ['cl100k_base', 'o200k_base']) {
      const readable = loadTiktoken(name, { merge: 'reference' });
      const docs = [CORPUS.unicode[0]!, CORPUS.code[0]!.slice(0, 8000), CORPUS.prose[1]!.slice(0, 8000)];
      for (const doc of docs) assert.deepEqual(readable.encode(doc, { disallowedSpecial: [] }), Array.from(reference(name).encode(doc, [], [])));
    }
  });

  it('known ids: "hello world" and a contraction', () => {
    assert.deepEqual(loadTiktoken('cl100k_base').encode('hello world'), [15339, 1917]);
    assert.deepEqual(loadTiktoken('o200k_base').encode('hello world'), [24912, 2375]);
    assert.deepEqual(loadTiktoken('r50k_base').encode("I'LL"), Array.from(reference('r50k_base').encode("I'LL")));
    // (?i:'s|...) in cl100k folds 's' to LONG S: "'\u017f" is one pre-token, as in tiktoken.
    assert.deepEqual(loadTiktoken('cl100k_base').encode("it'\u017f"), Array.from(reference('cl100k_base').encode("it'\u017f")));
  });
});

describe('special tokens follow tiktoken', () => {
  const enc = loadTiktoken('cl100k_base');
  const text = 'a<|endoftext|>b<|fim_prefix|>c';

  it('text holding a special token raises unless allowed (disallowedSpecial defaults to all)', () => {
    assert.throws(() => enc.encode(text), (e: Error) => {
      assert.ok(e instanceof TokenizerError);
      assert.match(e.message, /^encode: the text contains the special token "<\|endoftext\|>" at offset 1; pass it in allowedSpecial to encode it as id 100257/);
      return true;
    });
    assert.throws(() => reference('cl100k_base').encode(text));
    // Allowing one leaves the other disallowed.
    assert.throws(() => enc.encode(text, { allowedSpecial: ['<|endoftext|>'] }), /"<\|fim_prefix\|>" at offset 15/);
  });

  it('allowed special tokens become their ids; the rest of the text is encoded around them', () => {
    const all = enc.encode(text, { allowedSpecial: 'all' });
    assert.deepEqual(all, Array.from(reference('cl100k_base').encode(text, 'all')));
    assert.deepEqual(all, [64, 100257, 65, 100258, 66]);
    const one = enc.encode(text, { allowedSpecial: ['<|endoftext|>'], disallowedSpecial: [] });
    assert.deepEqual(one, Array.from(reference('cl100k_base').encode(text, ['<|endoftext|>'], [])));
    assert.ok(one.includes(100257) && !one.includes(100258));
    assert.equal(enc.decode(all), text);
  });

  it('disallowedSpecial: [] encodes special tokens as ordinary text; encodeOrdinary ignores them', () => {
    const plain = enc.encode(text, { disallowedSpecial: [] });
    assert.deepEqual(plain, Array.from(reference('cl100k_base').encode(text, [], [])));
    assert.deepEqual(enc.encodeOrdinary(text), plain);
    assert.ok(!plain.includes(100257));
  });

  it('naming a token that is not special is an error', () => {
    assert.throws(() => enc.encode('x', { allowedSpecial: ['<|nope|>'] }), /allowedSpecial names "<\|nope\|>", which is not a special token of cl100k_base/);
    assert.throws(() => enc.encode('x', { allowedSpecial: '<|endoftext|>' as never }), /allowedSpecial must be 'all' or a list/);
  });
});

describe('decoding', () => {
  const enc = loadTiktoken('cl100k_base');
  it('ids outside the vocabulary or skipped by it are clear errors', () => {
    assert.throws(() => enc.decode([15339, 100300]), { message: 'decode: id 100300 is outside the vocabulary (size 100277)' });
    assert.throws(() => enc.decode([-1]), { message: 'decode: id -1 is outside the vocabulary (size 100277)' });
    assert.throws(() => enc.decode([1.5]), { message: 'decode: id 1.5 is outside the vocabulary (size 100277)' });
    assert.throws(() => enc.decode([100261]), { message: 'decode: id 100261 is not a token of cl100k_base (the vocabulary skips it)' });
  });
  it('partial UTF-8 decodes to U+FFFD; decodeBytes gives the raw bytes', () => {
    const ids = enc.encode('😀');
    const bytes = enc.decodeBytes(ids);
    assert.deepEqual(Array.from(bytes), [0xf0, 0x9f, 0x98, 0x80]);
    assert.deepEqual(Array.from(bytes), Array.from(reference('cl100k_base').decode(new Uint32Array(ids))));
    const first = ids.slice(0, 1);
    assert.ok(enc.decodeBytes(first).length < 4, 'the emoji spans several tokens');
    assert.match(enc.decode(first), /^\uFFFD+$/);
  });
});

describe('byte-pair merge rule: a worked example', () => {
  // Vocabulary: the 256 single bytes (ids 0..255), then "aa" = 256, "ab" = 257, "aab" = 258.
  const ranks = new Map<string, number>(Array.from({ length: 256 }, (_, b) => [String.fromCharCode(b), b]));
  ranks.set('aa', 256).set('ab', 257).set('aab', 258);

  it('lowest rank first, leftmost on ties, then what the merged parts allow', () => {
    // "aaab": pairs aa(256) aa(256) ab(257): the leftmost aa merges -> [aa][a][b]; then "aaa" is
    // not a token but "ab" is -> [aa][ab]; "aaab" is not a token: ids [256, 257].
    assert.deepEqual(bytePairMergeReference('aaab', ranks), [256, 257]);
    assert.deepEqual(bytePairMerge('aaab', ranks), [256, 257]);
    // "aab": aa(256) before ab(257) -> [aa][b] -> "aab"(258).
    assert.deepEqual(bytePairMerge('aab', ranks), [258]);
    // "baab": ba is not a token; aa -> [b][aa][b] -> [b][aab].
    assert.deepEqual(bytePairMerge('baab', ranks), [98, 258]);
  });

  it('the fast merge equals the readable one on random byte strings with cl100k ranks', () => {
    const enc = loadTiktoken('cl100k_base');
    const ranksOf = enc.ranks;
    let seed = 7;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const alphabet = 'eeettaaoinshr  \n.,01ab\u00c3\u00a9\u00e2\u0080';
    for (let t = 0; t < 2000; t++) {
      const n = 1 + Math.floor(rnd() * 60);
      let s = '';
      for (let i = 0; i < n; i++) s += rnd() < 0.9 ? alphabet[Math.floor(rnd() * alphabet.length)] : String.fromCharCode(Math.floor(rnd() * 256));
      assert.deepEqual(bytePairMerge(s, ranksOf), bytePairMergeReference(s, ranksOf), JSON.stringify(s));
    }
  });

  it('a vocabulary missing a single byte is a clear error', () => {
    const enc = new BytePairEncoding({ name: 'tiny', ranks: new Map([['a', 0]]), pattern: '\\p{L}+' });
    assert.deepEqual(enc.encode('aaa'), [0, 0, 0]);
    assert.throws(() => enc.encode('b'), /the byte 98 has no rank/);
  });
});

describe('vocabulary files', () => {
  it('.tiktoken files: base64 token and rank per line', () => {
    // "IQ==" is "!", "aGk=" is "hi".
    assert.deepEqual([...parseTiktokenFile('IQ== 0\naGk= 1\n')], [['!', 0], ['hi', 1]]);
    assert.throws(() => parseTiktokenFile('IQ== 0\nIQ== 1'), /vocab: line 2: token "!" appears twice \(ranks 0 and 1\)/);
    assert.throws(() => parseTiktokenFile('IQ== x'), /vocab: line 1: expected 'base64 rank'/);
    assert.throws(() => parseTiktokenFile('*** 0'), /vocab: line 1: '\*\*\*' is not valid base64/);
  });
  it("the tiktoken npm package's compressed ranks: consecutive ranks from the first", () => {
    assert.deepEqual([...parseTiktokenNpmRanks('! 0 IQ== aGk=\n! 7 Ig==')], [['!', 0], ['hi', 1], ['"', 7]]);
  });
});
