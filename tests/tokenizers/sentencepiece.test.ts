/**
 * SentencePiece .model files against the sentencepiece library (0.1.97, Debian): seven models
 * trained by scripts/reference/sentencepiece_fixtures.py (Unigram with nmt_nfkc and user-defined
 * pieces; Unigram with byte fallback, split digits, identity normalization and extra whitespace
 * kept; BPE with byte fallback; WORD; CHAR; Unigram and WORD with treat_whitespace_as_suffix) and the ids and decoded text sentencepiece gave for every test line
 * (tests/fixtures/sentencepiece/expected.json). Also: a worked example on a hand-built ModelProto,
 * decode round trips on arbitrary strings, and errors for truncated and foreign files.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { jsNormalizer, loadSentencePiece, parseSentencePieceModel, PieceType, PrecompiledCharsmap, sentencePieceFromBytes, SentencePieceTokenizer, TokenizerError } from '../../src/index.js';
import { FIXTURES, tempDir } from '../helpers.js';

const DIR = join(FIXTURES, 'sentencepiece');

interface Expected {
  header: { generator: string; sentencepiece: string };
  lines: string[];
  models: Record<string, { options: Record<string, unknown>; ids: string[]; decoded: Record<string, string> }>;
}
const EXPECTED = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Expected;

describe('SentencePiece models: exact ids vs sentencepiece 0.1.97', () => {
  it('the fixtures cover seven models and a few hundred lines', () => {
    assert.deepEqual(Object.keys(EXPECTED.models).sort(), ['bpe', 'char', 'unigram', 'unigram-bytes', 'unigram-suffix', 'word', 'word-suffix']);
    assert.ok(EXPECTED.lines.length >= 250, `${EXPECTED.lines.length} lines`);
    assert.equal(EXPECTED.header.sentencepiece, '0.1.97');
  });

  for (const [name, model] of Object.entries(EXPECTED.models)) {
    const tok = loadSentencePiece(join(DIR, `${name}.model`));

    it(`${name}: reads the ModelProto (type, vocabulary size, byte fallback)`, () => {
      assert.equal(tok.modelType, String(model.options.model_type).toUpperCase());
      // spm_train's char model keeps the characters it found (142 here), up to vocab_size.
      if (name === 'char') assert.ok(tok.vocabSize > 100 && tok.vocabSize <= (model.options.vocab_size as number), `${tok.vocabSize}`);
      else assert.equal(tok.vocabSize, model.options.vocab_size);
      assert.equal(tok.proto.trainerSpec.treatWhitespaceAsSuffix, model.options.treat_whitespace_as_suffix === true);
      assert.equal(tok.proto.trainerSpec.byteFallback, model.options.byte_fallback === true);
      assert.equal(tok.proto.normalizerSpec.name, model.options.normalization_rule_name ?? 'nmt_nfkc');
      assert.equal(tok.idToPiece(tok.unkId), '<unk>');
      assert.deepEqual(tok.specialTokens, new Map([['<unk>', 0], ['<s>', 1], ['</s>', 2], ...(name === 'unigram' ? [['<cls>', 3] as [string, number]] : [])]));
    });

    it(`${name}: ids of every line equal sentencepiece's`, () => {
      EXPECTED.lines.forEach((line, i) => {
        const expected = model.ids[i] === '' ? [] : model.ids[i]!.split(' ').map(Number);
        assert.deepEqual(tok.encode(line), expected, `line ${i}: ${JSON.stringify(line)}`);
      });
    });

    it(`${name}: decoding those ids gives sentencepiece's text`, () => {
      EXPECTED.lines.forEach((line, i) => {
        const ids = model.ids[i] === '' ? [] : model.ids[i]!.split(' ').map(Number);
        assert.equal(tok.decode(ids), model.decoded[String(i)] ?? line, `line ${i}: ${JSON.stringify(line)}`);
      });
    });

    it(`${name}: encodeBatch and decodeBytes agree with encode and decode`, () => {
      const lines = EXPECTED.lines.slice(0, 20);
      assert.deepEqual(tok.encodeBatch(lines), lines.map((l) => tok.encode(l)));
      const ids = tok.encode(lines[0]!);
      assert.deepEqual(tok.decodeBytes(ids), new TextEncoder().encode(tok.decode(ids)));
    });
  }

  it('nmt_nfkc charsmap: NFKC folds, whitespace variants, control characters and U+2581', () => {
    const tok = loadSentencePiece(join(DIR, 'unigram.model'));
    assert.equal(tok.normalize('ﬁ ① Ⅻ ＡＢＣ'), '▁fi▁1▁XII▁ABC');
    assert.equal(tok.normalize('  a\t\tb\u00a0c\u3000d\u200be\u0001f\u2581g  '), '▁a▁b▁c▁d▁ef▁g');
    assert.equal(tok.normalize('e\u0301'), '▁\u00e9'); // composed, as NFKC does
    assert.equal(tok.normalize(''), '');
    assert.equal(tok.normalize('   '), '');
  });

  it('jsNormalizer("nmt_nfkc") equals the nmt_nfkc charsmap on every code point the map knows', () => {
    const proto = parseSentencePieceModel(readFileSync(join(DIR, 'unigram.model')));
    const map = new PrecompiledCharsmap(proto.normalizerSpec.precompiledCharsmap);
    const js = jsNormalizer('nmt_nfkc')!;
    const enc = new TextEncoder();
    const dec = new TextDecoder('utf-8', { ignoreBOM: true });
    const newer: number[] = [];
    for (let cp = 1; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      const b = enc.encode(c);
      const rule = map.longestMatch(b, 0);
      const mapped = rule && rule[0] === b.length ? dec.decode(rule[1]) : c;
      if (mapped === js(c)) continue;
      // The map was built with an older Unicode than Node's ICU: it leaves newer characters alone.
      assert.equal(mapped, c, `U+${cp.toString(16)}: map ${JSON.stringify(mapped)}, JS ${JSON.stringify(js(c))}`);
      newer.push(cp);
    }
    assert.ok(newer.length < 500, `${newer.length} code points differ`);
  });

  it('without its charsmap, the JS stand-in gives sentencepiece ids except where combining marks reorder', () => {
    const proto = parseSentencePieceModel(readFileSync(join(DIR, 'unigram.model')));
    const bare = { ...proto, normalizerSpec: { ...proto.normalizerSpec, precompiledCharsmap: new Uint8Array(0) } };
    const tok = new SentencePieceTokenizer(bare, { jsNormalizerWithoutCharsmap: true });
    const asSentencepiece = new SentencePieceTokenizer(bare); // sentencepiece: no map, no normalization
    assert.equal(asSentencepiece.normalize('ﬁ\tx'), '\u2581ﬁ\tx');
    let differ = 0;
    EXPECTED.lines.forEach((line, i) => {
      if (tok.encode(line).join(' ') === EXPECTED.models.unigram!.ids[i]) return;
      differ++;
      assert.match(line, /\p{M}\p{M}/u, `line ${i} differs without stacked combining marks: ${JSON.stringify(line)}`);
    });
    assert.ok(differ <= EXPECTED.lines.length / 20, `${differ} lines differ`);
    assert.throws(() => jsNormalizer('nmt_nfkc_cf'), /no JS equivalent/);
    assert.equal(jsNormalizer('identity'), null);
  });

  it('user-defined pieces are matched whole and never split; control pieces are not read from text', () => {
    const tok = loadSentencePiece(join(DIR, 'unigram.model'));
    const sep = tok.pieceToId('<sep>');
    assert.ok(tok.encode('x<sep>y').includes(sep));
    assert.ok(!tok.encode('<s> <cls>').includes(tok.pieceToId('<s>')));
    assert.ok(!tok.encode('<s> <cls>').includes(tok.pieceToId('<cls>')));
    assert.deepEqual(tok.encode('hello', { addBos: true, addEos: true }), [1, ...tok.encode('hello'), 2]);
    assert.equal(tok.decode([1, ...tok.encode('hello'), 2]), 'hello');
  });

  it('unknown characters: one <unk> per run without byte fallback, <0xXX> pieces with it', () => {
    const unk = loadSentencePiece(join(DIR, 'unigram.model'));
    const ids = unk.encode('a ᚠᚡᚢ b'); // runic letters: not in the vocabulary
    assert.deepEqual(ids.map((id) => unk.idToPiece(id)), ['▁a', '▁', '<unk>', '▁', 'b']);
    assert.equal(unk.decode(ids), 'a  ⁇  b'); // the unk surface is ' ⁇ '
    const bytes = loadSentencePiece(join(DIR, 'unigram-bytes.model'));
    const byteIds = bytes.encode('𝔘');
    assert.deepEqual(byteIds.slice(-4).map((id) => bytes.idToPiece(id)), ['<0xF0>', '<0x9D>', '<0x94>', '<0x98>']);
    assert.equal(bytes.decode(byteIds), '𝔘');
    // As sentencepiece 0.1.97 decodes them: one U+FFFD per byte that does not start a character.
    const bad = ['<0xF0>', '<0x9D>', '<0x41>', '<0xFF>', '<0xE2>', '<0x82>'].map((p) => bytes.pieceToId(p));
    assert.deepEqual(bad, [243, 160, 68, 258, 229, 133]);
    assert.equal(bytes.decode(bad), '\ufffd\ufffdA\ufffd\ufffd\ufffd');
  });

  it('round trip on arbitrary strings: identity normalization with byte fallback gives the text back', () => {
    const tok = loadSentencePiece(join(DIR, 'unigram-bytes.model'));
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (x) => {
        assert.equal(tok.decode(tok.encode(x)), x);
      }),
      { numRuns: 300, seed: 42 },
    );
  });

  it('round trip on arbitrary strings with nmt_nfkc is idempotent: encode(decode(encode(x))) = encode(x)', () => {
    for (const name of ['unigram', 'bpe']) {
      const tok = loadSentencePiece(join(DIR, `${name}.model`));
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (x) => {
          const ids = tok.encode(x);
          if (ids.includes(tok.unkId)) return; // ' ⁇ ' does not encode back to <unk>
          assert.deepEqual(tok.encode(tok.decode(ids)), ids);
        }),
        { numRuns: 200, seed: 7 },
      );
    }
  });
});

/** A protobuf writer just big enough to build ModelProtos by hand. */
function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, BigInt(n));
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? b | 0x80 : b);
  } while (v > 0n);
  return out;
}
const field = (n: number, wire: number): number[] => varint((n << 3) | wire);
const bytesField = (n: number, b: number[] | Uint8Array): number[] => [...field(n, 2), ...varint(b.length), ...b];
const stringField = (n: number, s: string): number[] => bytesField(n, new TextEncoder().encode(s));
const floatField = (n: number, x: number): number[] => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return [...field(n, 5), ...b];
};
const intField = (n: number, x: number): number[] => [...field(n, 0), ...varint(x)];

function modelProto(pieces: [string, number, PieceType][], trainer: number[], normalizer: number[] = []): Uint8Array {
  const out: number[] = [];
  for (const [p, s, t] of pieces) out.push(...bytesField(1, [...stringField(1, p), ...floatField(2, s), ...intField(3, t)]));
  out.push(...bytesField(2, trainer));
  out.push(...bytesField(3, [...stringField(1, 'identity'), ...normalizer]));
  return Uint8Array.from(out);
}

describe('SentencePiece: worked examples on hand-built models', () => {
  const PIECES: [string, number, PieceType][] = [
    ['<unk>', 0, PieceType.Unknown],
    ['<s>', 0, PieceType.Control],
    ['</s>', 0, PieceType.Control],
    ['\u2581', -1, PieceType.Normal],
    ['a', -2, PieceType.Normal],
    ['b', -2, PieceType.Normal],
    ['ab', -3, PieceType.Normal], // cheaper than a + b (-4)
    ['\u2581ab', -2.5, PieceType.Normal],
    ['\u2581a', -5, PieceType.Normal],
    ['ba', -1, PieceType.Unused], // never produced by Unigram
  ];

  it('Unigram: Viterbi picks the highest total score', () => {
    const tok = sentencePieceFromBytes(modelProto(PIECES, intField(3, 1)));
    assert.equal(tok.normalize('ab ab'), '\u2581ab\u2581ab');
    assert.deepEqual(tok.encode('ab ab'), [7, 7]); // ▁ab (-2.5) beats ▁ + ab (-4), twice
    assert.deepEqual(tok.encode('aab'), [3, 4, 6]); // ▁ a ab (-1 -2 -3) beats ▁a ab (-8)
    assert.deepEqual(tok.encode('ba'), [3, 5, 4]); // the UNUSED piece "ba" is skipped
    assert.deepEqual(tok.encode('xyz a'), [3, 0, 3, 4]); // x, y, z fuse into one <unk>
    assert.equal(tok.decode([3, 0, 3, 4]), ' \u2047  a');
  });

  it('BPE: merges the pair whose merged piece scores highest, leftmost on ties', () => {
    const tok = sentencePieceFromBytes(modelProto(PIECES, intField(3, 2)));
    // ▁ a b: "▁a" (-5) and "ab" (-3): ab first, then ▁ + ab = ▁ab.
    assert.deepEqual(tok.encode('ab'), [7]);
    // b a b: "ba" (-1, UNUSED) merges first, then is split back into b a; "ab" never forms.
    assert.deepEqual(tok.encode('bab').map((id) => tok.idToPiece(id)), ['\u2581', 'b', 'a', 'b']);
  });

  it('unsupported model types and missing pieces are refused by name', () => {
    assert.throws(() => sentencePieceFromBytes(modelProto(PIECES, intField(3, 5))), /model_type 5 is not supported \(supported: UNIGRAM, BPE, WORD, CHAR\)/);
    assert.throws(() => sentencePieceFromBytes(modelProto(PIECES.slice(1), intField(3, 1))), /no UNKNOWN piece/);
    assert.throws(() => sentencePieceFromBytes(modelProto(PIECES, [...intField(3, 1), ...intField(35, 1)])), /byte_fallback is set but/);
  });

  it('negative int32 fields (pad_id -1) and defaults read as in the proto', () => {
    const proto = parseSentencePieceModel(modelProto(PIECES, [...intField(3, 1), ...intField(43, -1), ...intField(41, -1)]));
    assert.equal(proto.trainerSpec.padId, -1);
    assert.equal(proto.trainerSpec.bosId, -1);
    assert.equal(proto.trainerSpec.eosId, 2);
    assert.equal(proto.normalizerSpec.addDummyPrefix, true);
    assert.equal(proto.pieces[6]!.score, -3);
  });
});

describe('SentencePiece: errors', () => {
  const real = readFileSync(join(DIR, 'unigram.model'));

  it('a truncated file is a TokenizerError naming the byte', () => {
    for (const cut of [1, 100, 5000, real.length - 10]) {
      assert.throws(
        () => sentencePieceFromBytes(real.subarray(0, cut)),
        (e: unknown) => e instanceof TokenizerError && /runs past the end|has no (pieces|trainer_spec|normalizer_spec)/.test(e.message),
        `cut at ${cut}`,
      );
    }
  });

  it('a file that is not a SentencePiece model is refused', () => {
    const json = new TextEncoder().encode('{"model": {"type": "BPE"}}');
    assert.throws(() => sentencePieceFromBytes(json), TokenizerError);
    assert.throws(() => sentencePieceFromBytes(new Uint8Array(0)), /no pieces/);
    // Pieces alone parse as protobuf, but a .model always has its trainer and normalizer specs.
    const onlyPieces = modelProto([['<unk>', 0, PieceType.Unknown]], []).subarray(0, 16);
    assert.throws(() => sentencePieceFromBytes(onlyPieces), /has no trainer_spec/);
    assert.throws(() => sentencePieceFromBytes(Uint8Array.from([0x0f, 0x01])), /field 1 has wire type 7, expected 2/);
  });

  it('loadSentencePiece names the path', () => {
    const dir = tempDir('attn-spm-');
    writeFileSync(join(dir, 'bad.model'), real.subarray(0, 300));
    assert.throws(() => loadSentencePiece(join(dir, 'bad.model')), /loadSentencePiece: '.*bad\.model': sentencepiece: /);
    assert.throws(() => loadSentencePiece(join(dir, 'missing.model')), /loadSentencePiece: cannot read/);
  });

  it('decoding an id outside the vocabulary is an error', () => {
    const tok = sentencePieceFromBytes(real);
    assert.throws(() => tok.decode([tok.vocabSize]), /decode: id 1000 is outside the vocabulary \(size 1000\)/);
  });
});
