/**
 * The WordPiece and Unigram trainers and streaming word counts: a worked WordPiece example; trained
 * tokenizer.json files give the same ids (and type ids, and decoded text) in attn and in Hugging
 * Face tokenizers; the Unigram trainer's held-out encoded length is within 2% of spm_train's on the
 * same text (tests/fixtures/unigram-quality.json); streaming input gives the same tokenizer whatever
 * the chunking; pruning keeps the word table bounded.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import hf from 'tokenizers';
import {
  bpeWordCounts,
  CL100K_PATTERN,
  GPT2_PATTERN,
  loadTiktoken,
  splitWithRegex,
  TextSegmenter,
  tiktokenPatternToJs,
  tokenizerFromJson,
  trainBpe,
  trainedTokenizerJson,
  trainUnigram,
  trainWordPiece,
  unigramTokenizerJson,
  unigramWordCounts,
  wordPieceTokenizerJson,
  wordPieceWordCounts,
  WordCounts,
  type SegmentRule,
} from '../../src/index.js';
import { loadFixture } from '../helpers.js';
import { englishProse, generatedUnicode, sourceCode, unigramQualityText } from './corpus.js';

const repeat = (text: string, n: number): string[] => Array.from({ length: n }, () => text);

/** Held-out lines: prose from documents not trained on, plus generated Unicode. */
function heldOutLines(): string[] {
  const prose = englishProse(600_000).slice(-12).flatMap((d) => d.split('\n').slice(0, 60));
  return [...prose, ...generatedUnicode(20_000, 5).flatMap((d) => d.split('\n')), '', ' ', '  leading  and trailing  ', 'ÉCOLE naïve Straße 中文字 ﬁ'];
}

async function assertSameAsHf(json: Record<string, unknown>, lines: string[]): Promise<void> {
  const text = JSON.stringify(json);
  const ours = tokenizerFromJson(JSON.parse(text));
  const ref = hf.Tokenizer.fromString(text);
  for (const line of lines) {
    const enc = await ref.encode(line);
    const got = ours.encodeWithTypes(line);
    assert.deepEqual(got.ids, enc.getIds(), `ids of ${JSON.stringify(line.slice(0, 80))}`);
    assert.deepEqual(got.typeIds, enc.getTypeIds());
    assert.equal(ours.decode(got.ids), await ref.decode(got.ids, false), `decode of ${JSON.stringify(line.slice(0, 80))}`);
  }
  // A pair of sequences (BERT: [CLS] A [SEP] B [SEP] with type ids 0 / 1).
  const [a, b] = [lines[3]!, lines[4]!];
  const enc = await ref.encode(a, b);
  assert.deepEqual(ours.encodeWithTypes(a, { pair: b }), { ids: enc.getIds(), typeIds: enc.getTypeIds(), attentionMask: enc.getAttentionMask() });
}

describe('WordPiece training', () => {
  it('a worked example: BPE merges with the ## prefix, ids in a fixed order', () => {
    const corpus = [...repeat('hug', 10), ...repeat('pug', 5), ...repeat('pun', 12), ...repeat('bun', 4), ...repeat('hugs', 5)].join(' ');
    const trained = trainWordPiece([corpus], { vocabSize: 100 });
    // Specials, the alphabet in code point order, its ## forms, then the merges: (##u ##g) 20 times,
    // (##u ##n) 16, (h ##ug) 15, (p ##un) 12, then (p ##ug) and (hug ##s) tie at 5 and the pair
    // with smaller ids wins; (b ##un) 4; then only pairs below minFrequency 2 would be left.
    assert.deepEqual(trained.vocab, [
      '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]',
      'b', 'g', 'h', 'n', 'p', 's', 'u',
      '##g', '##n', '##s', '##u',
      '##ug', '##un', 'hug', 'pun', 'pug', 'hugs', 'bun',
    ]);
    const tok = tokenizerFromJson(wordPieceTokenizerJson(trained));
    // Greedy longest match: "hugs" whole, "bugs" = b ##ug ##s, "xyz" unknown; [CLS] ... [SEP] around.
    assert.deepEqual(tok.encode('Hugs bugs xyz'), [2, 21, 5, 16, 14, 1, 3]);
  });

  it('a trained tokenizer.json gives the same ids, type ids and text in Hugging Face tokenizers', async () => {
    const trained = trainWordPiece(englishProse(300_000), { vocabSize: 3000 });
    assert.equal(trained.vocab.length, 3000);
    await assertSameAsHf(wordPieceTokenizerJson(trained), heldOutLines());
    // Cased: no lowercasing, accents kept.
    const cased = trainWordPiece(englishProse(200_000), { vocabSize: 2000, lowercase: false });
    assert.ok(cased.vocab.includes('The') && !trained.vocab.includes('The'));
    await assertSameAsHf(wordPieceTokenizerJson(cased), heldOutLines().slice(0, 200));
  });

  it('rejects bad options with messages naming them', () => {
    assert.throws(() => trainWordPiece(['x'], { vocabSize: 5 }), /vocabSize must be an integer larger than the 5 special tokens, got 5/);
    assert.throws(() => trainWordPiece(['x'], { vocabSize: 50, specialTokens: ['[CLS]'] }), /unknown token "\[UNK\]" must be one of the special tokens/);
    assert.throws(() => trainWordPiece(['x'], { vocabSize: 50, specialTokens: ['[UNK]', '[UNK]'] }), /special tokens repeat/);
  });
});

describe('Unigram training', () => {
  it('a trained tokenizer.json gives the same ids and text in Hugging Face tokenizers', async () => {
    const trained = trainUnigram(englishProse(300_000), { vocabSize: 2000 });
    assert.equal(trained.pieces.length, 2000);
    assert.deepEqual(trained.pieces.slice(0, 3), [['<unk>', 0], ['<s>', 0], ['</s>', 0]]);
    // Scores are log-probabilities, best first; every piece is distinct.
    const scores = trained.pieces.slice(3).map(([, s]) => s);
    assert.ok(scores.every((s, i) => s < 0 && (i === 0 || s <= scores[i - 1]!)));
    assert.equal(new Set(trained.pieces.map(([p]) => p)).size, 2000);
    await assertSameAsHf(unigramTokenizerJson(trained), heldOutLines());
  });

  it("encodes held-out text within 2% of spm_train's length at the same vocabulary size", () => {
    const fixture = loadFixture<{ vocab_size: number; pieces: number; heldout_tokens: number }>('unigram-quality.json') as unknown as {
      train_sha256: string;
      cases: { vocab_size: number; pieces: number; heldout_tokens: number }[];
    };
    const { train, heldOut } = unigramQualityText();
    assert.equal(createHash('sha256').update(train.join('\n') + '\n').digest('hex'), fixture.train_sha256, 'the corpus differs from the one spm_train saw');
    for (const c of fixture.cases) {
      const trained = trainUnigram(train, { vocabSize: c.vocab_size });
      assert.equal(trained.pieces.length, c.pieces);
      const tok = tokenizerFromJson(unigramTokenizerJson(trained));
      const tokens = heldOut.reduce((n, line) => n + tok.encode(line).length, 0);
      const ratio = tokens / c.heldout_tokens;
      console.log(`unigram vocab ${c.vocab_size}: attn ${tokens} tokens, spm_train ${c.heldout_tokens} (ratio ${ratio.toFixed(4)})`);
      assert.ok(Math.abs(ratio - 1) < 0.02, `vocab ${c.vocab_size}: ${tokens} tokens vs spm_train's ${c.heldout_tokens}`);
    }
  });

  it('keeps every character inside the coverage, and no piece crosses a word or mixes scripts', () => {
    const docs = [...englishProse(100_000), ...generatedUnicode(6_000, 3)];
    const trained = trainUnigram(docs, { vocabSize: 2500, characterCoverage: 1 });
    const pieces = new Set(trained.pieces.map(([p]) => p));
    const counts = unigramWordCounts();
    for (const d of docs) counts.addDocument(d);
    for (const w of counts.counts.keys()) for (const c of w) assert.ok(pieces.has(c), `character ${JSON.stringify(c)} missing`);
    for (const [p] of trained.pieces.slice(3)) {
      assert.ok(!p.slice(1).includes('\u2581'), `${p}: ▁ inside a piece`);
      assert.ok(!(/\p{L}/u.test(p) && /\p{Nd}/u.test(p)), `${p}: letters and digits`);
      assert.ok(!(/\p{Script=Latin}/u.test(p) && /\p{Script=Han}/u.test(p)), `${p}: two scripts`);
    }
  });

  it('rejects bad options with messages naming them', () => {
    assert.throws(() => trainUnigram(['x'], { vocabSize: 3 }), /vocabSize must be an integer larger than the 3 special tokens, got 3/);
    assert.throws(() => trainUnigram(['x'], { vocabSize: 50, shrinkingFactor: 1 }), /shrinkingFactor must be in \(0, 1\), got 1/);
    assert.throws(() => trainUnigram(['   '], { vocabSize: 50 }), /no training text/);
    assert.throws(() => trainUnigram(['abcdefghij'], { vocabSize: 12, characterCoverage: 1 }), /vocabSize 12 cannot hold the 11 characters \(▁ included\) that characterCoverage 1 requires plus 3 special tokens/);
  });
});

describe('streaming input', () => {
  it('segments pre-tokenize exactly as the whole text for the gpt2, cl100k and o200k patterns', () => {
    const texts = [...englishProse(200_000), ...sourceCode(100_000), ...generatedUnicode(100_000, 9)];
    for (const pattern of [GPT2_PATTERN, CL100K_PATTERN, loadTiktoken('o200k_base').pattern]) {
      const regex = new RegExp(tiktokenPatternToJs(pattern), 'gu');
      let cuts = 0;
      for (const text of texts) {
        const seg = new TextSegmenter(pattern === GPT2_PATTERN ? 'gpt2' : 'newline', 64, 1 << 20);
        const segments = [...seg.push(text), ...seg.end()];
        assert.equal(segments.join(''), text);
        cuts += segments.length - 1;
        assert.deepEqual(segments.flatMap((s) => splitWithRegex(s, regex)), splitWithRegex(text, regex));
      }
      assert.ok(cuts > 3 * texts.length, `${cuts} cuts in ${texts.length} texts`);
    }
  });

  it('cuts are a function of the text, not of how it arrives', () => {
    const text = englishProse(100_000).join('\n') + ' '.repeat(10_000) + 'x'.repeat(9_000) + '\n\ny';
    const cut = (chunk: number): string[] => {
      const seg = new TextSegmenter('newline', 500, 4000);
      const out: string[] = [];
      for (let i = 0; i < text.length; i += chunk) out.push(...seg.push(text.slice(i, i + chunk)));
      return [...out, ...seg.end()];
    };
    const whole = cut(text.length);
    assert.ok(whole.some((s) => s.length === 4000), 'the long runs are cut at the maximum');
    for (const chunk of [1, 7, 333, 4096]) assert.deepEqual(cut(chunk), whole);
  });

  it('streamed cuts equal the cuts of the whole text by the rule, for random texts and chunkings', () => {
    // The rule applied to the whole text at once: from segmentChars on, the first newline before a
    // letter or digit (cut after it, or before it for 'gpt2'), at most maxSegmentChars (else cut there,
    // not inside a surrogate pair).
    const reference = (text: string, rule: SegmentRule, segmentChars: number, maxSegmentChars: number): string[] => {
      const out: string[] = [];
      let rest = text;
      while (rest.length >= segmentChars) {
        const re = /\n(?=[\p{L}\p{N}])/gu;
        re.lastIndex = segmentChars;
        const m = re.exec(rest);
        let cut = m ? m.index + (rule === 'newline' ? 1 : 0) : -1;
        if (!(cut > 0 && cut <= maxSegmentChars)) {
          if (rest.length < maxSegmentChars + 1) break;
          cut = maxSegmentChars;
          const c = rest.charCodeAt(cut - 1);
          if (c >= 0xd800 && c <= 0xdbff) cut--;
        }
        out.push(rest.slice(0, cut));
        rest = rest.slice(cut);
      }
      return rest === '' ? out : [...out, rest];
    };
    const text = fc.array(fc.constantFrom('a', '7', ' ', '\n', '\n\n', '\u00e9', '\u{1d400}', '\ud835', '.'), { maxLength: 300 }).map((a) => a.join(''));
    fc.assert(
      fc.property(text, fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 8 }), fc.constantFrom<SegmentRule>('newline', 'gpt2'), fc.integer({ min: 2, max: 20 }), fc.integer({ min: 0, max: 40 }), (t, splits, rule, segmentChars, extra) => {
        const seg = new TextSegmenter(rule, segmentChars, segmentChars + extra);
        const points = [...new Set(splits.map((s) => s % (t.length + 1)))].sort((a, b) => a - b);
        const out: string[] = [];
        let at = 0;
        for (const p of [...points, t.length]) {
          out.push(...seg.push(t.slice(at, p)));
          at = p;
        }
        assert.deepEqual([...out, ...seg.end()], reference(t, rule, segmentChars, segmentChars + extra));
      }),
      { numRuns: 3000, seed: 11 },
    );
  });

  it('training from chunked streams gives byte-identical tokenizer.json files', () => {
    const text = englishProse(250_000).join('\n');
    const train = (chunk: number, kind: 'bpe' | 'wordpiece' | 'unigram'): string => {
      const counts = kind === 'bpe' ? bpeWordCounts() : kind === 'wordpiece' ? wordPieceWordCounts() : unigramWordCounts();
      for (let i = 0; i < text.length; i += chunk) counts.push(text.slice(i, i + chunk));
      counts.end();
      if (kind === 'bpe') return JSON.stringify(trainedTokenizerJson(trainBpe(counts, { vocabSize: 1000 })));
      if (kind === 'wordpiece') return JSON.stringify(wordPieceTokenizerJson(trainWordPiece(counts, { vocabSize: 1000 })));
      return JSON.stringify(unigramTokenizerJson(trainUnigram(counts, { vocabSize: 1000 })));
    };
    for (const kind of ['bpe', 'wordpiece', 'unigram'] as const) {
      const a = train(1 << 20, kind);
      assert.equal(train(4093, kind), a, kind);
      assert.equal(train(1 << 20, kind), a, `${kind}: a second run`);
    }
    // Streamed BPE counts equal those of the texts passed whole, so the merges are the same.
    const whole = trainBpe([text], { vocabSize: 1000 });
    const counts = bpeWordCounts();
    counts.push(text);
    counts.end();
    assert.deepEqual(trainBpe(counts, { vocabSize: 1000 }).merges, whole.merges);
    assert.throws(() => trainBpe(counts, { vocabSize: 1000, pattern: GPT2_PATTERN }), /word counts were made with pattern/);
  });

  it('pruning bounds the word table, deterministically, and keeps the frequent words', () => {
    const text = englishProse(400_000).join('\n');
    const counted = (maxWords: number): WordCounts => {
      const c = new WordCounts((t) => t.split(/\s+/).filter((w) => w !== ''), { maxWords });
      for (let i = 0; i < text.length; i += 10_000) {
        c.push(text.slice(i, i + 10_000));
        assert.ok(c.counts.size <= maxWords);
      }
      c.end();
      return c;
    };
    const full = counted(Infinity);
    const small = counted(2000);
    assert.ok(full.counts.size > 10_000 && small.prunes > 0 && small.counts.size <= 2000, `${full.counts.size} words, ${small.prunes} prunes`);
    assert.deepEqual([...counted(2000).counts], [...small.counts]);
    const top = (c: WordCounts): string[] => [...c.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 20).map(([w]) => w);
    assert.deepEqual(top(small), top(full));
  });
});
