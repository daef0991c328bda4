/**
 * Hugging Face tokenizer.json loading against the `tokenizers` npm package (Hugging Face's Rust
 * library, native binary), on tokenizer.json files built in tokenizer-json-builders.ts: exact ids
 * and decoded text on mixed text for byte-level BPE (GPT-2, a Llama 3 style Split + ByteLevel),
 * WordPiece (BERT, cased and uncased, pairs and type ids) and Unigram (with and without byte
 * fallback); added-token options; small worked examples of each model.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import hf from 'tokenizers';
import { BpeModel, fromByteLevel, HfTokenizer, loadTiktoken, toByteLevel, tokenizerFromJson, UnigramModel, WordPieceModel } from '../../src/index.js';
import { englishProse, generatedUnicode, sourceCode } from './corpus.js';
import { addedToken, bertTokenizerJson, gpt2TokenizerJson, llama3StyleTokenizerJson, suffixBpeModel, unigramTokenizerJson } from './tokenizer-json-builders.js';

const PROSE = englishProse(200_000);
function lines(docs: string[], n: number): string[] {
  return docs.flatMap((d) => d.split(/(?<=\n)/)).filter((l) => l !== '').slice(0, n);
}

/** Lines of prose, code and generated Unicode, and strings aimed at the pipeline's edges. */
const LINES = [
  ...lines(englishProse(100_000), 1000),
  ...lines(sourceCode(60_000), 1000),
  // Generated documents have few newlines: cut them into 200-character pieces instead.
  ...generatedUnicode(40_000).flatMap((d) => d.match(/[^]{1,200}/gu) ?? []).slice(0, 1000),
  '',
  ' ',
  '   leading and trailing   ',
  'text<|endoftext|>more<|endoftext|>',
  '<|endoftext|> at the start',
  '[CLS] [SEP] [MASK]ed words [UNK] [PAD]',
  'Héllo WÖRLD, naïve café — “quotes” ½ ² ΣΊΣΥΦΟΣ İstanbul',
  '中文字符和日本語のテキスト 한국어',
  'emoji 👨‍👩‍👧‍👦 and 🇫🇷 flags',
  'control\u0000chars\u0007and\ufffdreplacement\u200bzero width',
  'tabs\tand\nnewlines\r\nand\u00a0nbsp\u3000ideographic space',
  'a'.repeat(150),
  "don't won't I'm you're they've it's",
];

/** A Unigram tokenizer with byte fallback (ids show every split) with other components swapped in. */
function unigramWith(parts: Record<string, unknown>): () => Record<string, unknown> {
  return () => ({ ...unigramTokenizerJson(PROSE, { byteFallback: true, words: 3000 }), ...parts });
}
const UNIGRAM_DECODER = { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] };

const CASES: Record<string, () => Record<string, unknown>> = {
  'GPT-2 (ByteLevel BPE)': () => gpt2TokenizerJson(false),
  'GPT-2 with add_prefix_space': () => gpt2TokenizerJson(true),
  'Llama 3 style (Split + ByteLevel, ignore_merges, template)': () => llama3StyleTokenizerJson(),
  'BERT uncased (WordPiece)': () => bertTokenizerJson(PROSE, { lowercase: true, words: 3000 }),
  'BERT cased (WordPiece)': () => bertTokenizerJson(PROSE, { lowercase: false, words: 3000 }),
  'Unigram with byte fallback': () => unigramTokenizerJson(PROSE, { byteFallback: true, words: 3000 }),
  'Unigram with <unk>': () => unigramTokenizerJson(PROSE, { byteFallback: false, words: 3000 }),
  'NFKC, Lowercase, Replace (regex), Strip; Whitespace, Digits; RobertaProcessing': unigramWith({
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }, { type: 'Replace', pattern: { Regex: '\\d{3,}' }, content: '###' }, { type: 'Strip', strip_left: true, strip_right: true }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' }, { type: 'Digits', individual_digits: true }] },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 1], trim_offsets: true, add_prefix_space: false },
  }),
  'NFD, StripAccents, Prepend; WhitespaceSplit, Punctuation, Digits (contiguous)': unigramWith({
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }, { type: 'Prepend', prepend: '\u2581' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Punctuation', behavior: 'Isolated' }, { type: 'Digits', individual_digits: false }] },
    decoder: UNIGRAM_DECODER,
  }),
  'Split (String, each behavior, invert) then Metaspace (prepend first, no split)': unigramWith({
    normalizer: { type: 'NFKD' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithPrevious', invert: false },
        { type: 'Split', pattern: { String: '-' }, behavior: 'Contiguous', invert: false },
        { type: 'Split', pattern: { Regex: '[,.;:]' }, behavior: 'MergedWithNext', invert: false },
        { type: 'Split', pattern: { Regex: '\\p{L}+' }, behavior: 'Removed', invert: true },
        { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false },
      ],
    },
    decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false },
  }),
  'BPE with ## continuations, </w> suffix, fuse_unk; BPEDecoder': () => ({
    version: '1.0',
    added_tokens: [addedToken(0, '[UNK]')],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: { type: 'BPEDecoder', suffix: '</w>' },
    model: suffixBpeModel(PROSE, 2000),
  }),
};

function load(json: Record<string, unknown>): { ours: HfTokenizer; ref: hf.Tokenizer } {
  const text = JSON.stringify(json);
  return { ours: tokenizerFromJson(JSON.parse(text)), ref: hf.Tokenizer.fromString(text) };
}

describe('tokenizer.json: exact ids and text against the Hugging Face tokenizers package', () => {
  for (const [name, build] of Object.entries(CASES)) {
    it(`${name}: ${LINES.length} lines`, async () => {
      const { ours, ref } = load(build());
      const expected = await ref.encodeBatch(LINES);
      for (let i = 0; i < LINES.length; i++) {
        const ids = ours.encode(LINES[i]!);
        assert.deepEqual(ids, expected[i]!.getIds(), `line ${i}: ${JSON.stringify(LINES[i]!.slice(0, 80))}`);
        if (i % 10 === 0 || i >= LINES.length - 13) {
          assert.equal(ours.decode(ids), await ref.decode(ids, false), `decode of line ${i}`);
          assert.equal(ours.decode(ids, { skipSpecialTokens: true }), await ref.decode(ids, true), `decode (skipping special tokens) of line ${i}`);
        }
      }
    });
  }

  it('GPT-2 from tokenizer.json gives tiktoken r50k_base ids', () => {
    const { ours } = load(gpt2TokenizerJson(false));
    const r50k = loadTiktoken('r50k_base');
    for (const line of LINES.slice(0, 1000)) assert.deepEqual(ours.encode(line), r50k.encode(line, { allowedSpecial: 'all' }), JSON.stringify(line.slice(0, 80)));
  });

  const bert = (): Record<string, unknown> => bertTokenizerJson(PROSE, { lowercase: true, words: 3000 });
  const PAIR_PROCESSORS: Record<string, Record<string, unknown> | null> = {
    TemplateProcessing: null, // bertTokenizerJson's own
    BertProcessing: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] },
    RobertaProcessing: { type: 'RobertaProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2], trim_offsets: true, add_prefix_space: false },
    'Sequence(ByteLevel, TemplateProcessing)': { type: 'Sequence', processors: [{ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }, bert().post_processor] },
  };
  for (const [processor, json] of Object.entries(PAIR_PROCESSORS)) it(`sentence pairs with ${processor}: ids and type ids`, async () => {
    const { ours, ref } = load(json ? { ...bert(), post_processor: json } : bert());
    for (let i = 0; i + 1 < 200; i += 2) {
      const [a, b] = [LINES[i]!, LINES[i + 1]!];
      const expected = await ref.encode(a, b);
      const got = ours.encodeWithTypes(a, { pair: b });
      assert.deepEqual(got.ids, expected.getIds());
      assert.deepEqual(got.typeIds, expected.getTypeIds());
      const plain = await ref.encode(a, b, { addSpecialTokens: false });
      assert.deepEqual(ours.encode(a, { pair: b, addSpecialTokens: false }), plain.getIds());
      assert.deepEqual(ours.encodeWithTypes(a).typeIds, (await ref.encode(a)).getTypeIds());
    }
  });

  it('added tokens: lstrip, rstrip, single_word and normalized, as tokenizers matches them', async () => {
    const json = bertTokenizerJson(PROSE, { lowercase: true, words: 500 });
    const size = Object.keys((json.model as { vocab: object }).vocab).length;
    (json.added_tokens as unknown[]).push(
      addedToken(size, '<ent>', false, { lstrip: true, rstrip: true }),
      addedToken(size + 1, 'wor', false, { single_word: true }),
      addedToken(size + 2, 'HeLLo', false, { normalized: true }),
      addedToken(size + 3, '<ent2>', true, { lstrip: true }),
    );
    const { ours, ref } = load(json);
    const texts = ['a <ent> b', 'a  <ent>  b<ent>c', 'the wor word sword wor', 'wor', 'say HELLO hello HeLLo', 'x <ent2> y<ent2>', '<ent><ent> <ent>'];
    for (const t of texts) assert.deepEqual(ours.encode(t), (await ref.encode(t)).getIds(), JSON.stringify(t));
  });
});

describe('tokenizer.json models: worked examples', () => {
  it('BPE applies listed merges only, by priority (unlike the tiktoken rank rule)', () => {
    // "abc" is in the vocabulary, but only the merges (a,b) then (ab,c) are listed: a b c -> ab c -> abc.
    // With merges (b,c) first: a b c -> a bc; (a,bc) is not a merge, so the result stays [a, bc].
    const vocab = { a: 0, b: 1, c: 2, ab: 3, bc: 4, abc: 5 };
    assert.deepEqual(new BpeModel({ vocab, merges: ['a b', 'ab c'] }).tokenize('abc'), [5]);
    assert.deepEqual(new BpeModel({ vocab, merges: ['b c', 'a b', 'ab c'] }).tokenize('abc'), [0, 4]);
    // Byte fallback and unknowns.
    const bf = new BpeModel({ vocab: { a: 0, '<0xC3>': 1, '<0xA9>': 2, '<unk>': 3 }, merges: [], byteFallback: true, unkToken: '<unk>' });
    assert.deepEqual(bf.tokenize('aé'), [0, 1, 2]);
    assert.deepEqual(new BpeModel({ vocab: { a: 0, '<unk>': 1 }, merges: [], unkToken: '<unk>', fuseUnk: true }).tokenize('axyza'), [0, 1, 0]);
  });

  it('WordPiece: longest match first, ## continuations, [UNK] for words it cannot cover', () => {
    const wp = new WordPieceModel({ vocab: { '[UNK]': 0, un: 1, '##aff': 2, '##able': 3, aff: 4, '##a': 5 }, maxInputCharsPerWord: 10 });
    assert.deepEqual(wp.tokenize('unaffable'), [1, 2, 3]); // Google BERT's docstring example
    assert.deepEqual(wp.tokenize('unaffablex'), [0]);
    assert.deepEqual(wp.tokenize('affaaaaaaaa'), [0]); // 11 characters > max_input_chars_per_word
  });

  it('Unigram: Viterbi picks the highest total score; unknown characters fuse', () => {
    const vocab: [string, number][] = [['<unk>', 0], ['a', -1], ['b', -1], ['ab', -1.5], ['abb', -4], ['bb', -1.8]];
    const uni = new UnigramModel({ vocab, unkId: 0 });
    // "abb": ab + b = -2.5, a + bb = -2.8, abb = -4, a + b + b = -3: the best is [ab, b].
    assert.deepEqual(uni.tokenize('abb'), [3, 2]);
    // x and y are unknown (score min - 10 each) and fuse into one <unk>.
    assert.deepEqual(uni.tokenize('axyb'), [1, 0, 2]);
  });

  it("GPT-2's byte-level alphabet: printable bytes stand for themselves, space is Ġ, newline Ċ", () => {
    assert.equal(toByteLevel(' hello\n'), '\u0120hello\u010a');
    assert.equal(toByteLevel('é'), 'Ã©'); // bytes C3 A9 are printable latin1
    assert.deepEqual(Array.from(fromByteLevel(toByteLevel('😀 x'))), Array.from(new TextEncoder().encode('😀 x')));
    assert.throws(() => fromByteLevel('a\u4e00'), /"一" \(U\+4E00\) is not in the byte-level alphabet/);
  });

  it('unsupported components and bad ids are clear errors', () => {
    assert.throws(() => tokenizerFromJson({ model: { type: 'WordLevel', vocab: {} } }), /model type 'WordLevel' is not supported/);
    assert.throws(() => tokenizerFromJson({ model: { type: 'BPE', vocab: { a: 0 }, merges: [] }, normalizer: { type: 'Precompiled' } }), /normalizer type 'Precompiled' is not supported/);
    assert.throws(() => tokenizerFromJson({ model: { type: 'BPE', vocab: { a: 0 }, merges: ['a b'] } }), /BPE merge 0 \("a", "b"\) uses a token missing from the vocabulary/);
    assert.throws(() => tokenizerFromJson({ model: { type: 'BPE', vocab: { a: 0 }, merges: [], dropout: 0.1 } }), /BPE dropout 0.1 is not supported/);
    const tok = tokenizerFromJson({ model: { type: 'BPE', vocab: { a: 0, b: 1 }, merges: [] } });
    assert.throws(() => tok.decode([2]), { message: 'decode: id 2 is outside the vocabulary (size 2)' });
    assert.throws(() => tok.encode('c'), /"c" is not in the BPE vocabulary and the model has no unk_token/);
    assert.throws(() => tok.encode('a', { allowedSpecial: 'all' }), /allowedSpecial\/disallowedSpecial are tiktoken options/);
  });
});
