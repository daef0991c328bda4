/**
 * tokenizer.json files built in the tests (no real file is downloaded):
 *  - byte-level BPE from a tiktoken vocabulary, converted the way Hugging Face's
 *    `convert_slow_tokenizer.py` (TikTokenConverter) does: every token becomes its byte-level
 *    string, and its merge is the split the rank rule produces when only lower ranks may merge;
 *  - a BERT-style WordPiece vocabulary and a SentencePiece-style Unigram vocabulary made from word
 *    counts of the test corpus.
 */
import { BYTE_TO_CHAR, loadTiktoken } from '../../src/index.js';

const byteLevel = (bytes: string): string => Array.from(bytes, (c) => BYTE_TO_CHAR[c.charCodeAt(0)]).join('');

/** The two parts a token splits into when only ranks below its own may merge. */
function lastMerge(token: string, ranks: ReadonlyMap<string, number>, maxRank: number): [string, string] {
  let parts = Array.from(token);
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = ranks.get(parts[i]! + parts[i + 1]!);
      if (r !== undefined && r < maxRank && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) break;
    parts = [...parts.slice(0, best), parts[best]! + parts[best + 1]!, ...parts.slice(best + 2)];
  }
  if (parts.length !== 2) throw new Error(`token ${JSON.stringify(token)} does not split into two parts (${parts.length})`);
  return parts as [string, string];
}

/** tokenizer.json `model` of type BPE holding a tiktoken encoding's vocabulary and merges. */
export function bpeModelFromTiktoken(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const ranks = loadTiktoken(name).ranks;
  const vocab: Record<string, number> = {};
  const merges: [string, string][] = [];
  const byRank = [...ranks].sort((a, b) => a[1] - b[1]);
  for (const [token, rank] of byRank) {
    vocab[byteLevel(token)] = rank;
    if (token.length > 1) {
      const [a, b] = lastMerge(token, ranks, rank);
      merges.push([byteLevel(a), byteLevel(b)]);
    }
  }
  return { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges, ...extra };
}

export function addedToken(id: number, content: string, special = true, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special, ...extra };
}

/** GPT-2 as Hugging Face ships it: ByteLevel pre-tokenizer, decoder and post-processor, <|endoftext|> added. */
export function gpt2TokenizerJson(addPrefixSpace = false): Record<string, unknown> {
  return {
    version: '1.0',
    added_tokens: [addedToken(50256, '<|endoftext|>')],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModelFromTiktoken('r50k_base'),
  };
}

/**
 * Llama 3 style: a Split pre-tokenizer with cl100k's pattern, ByteLevel without regex, ignore_merges.
 * The special tokens are renumbered from 100256 on: tokenizers gives added tokens consecutive ids
 * after the model's vocabulary, and cl100k's ids have gaps.
 */
export function llama3StyleTokenizerJson(): Record<string, unknown> {
  const enc = loadTiktoken('cl100k_base');
  const specials = [...enc.specialTokens].sort((a, b) => a[1] - b[1]).map(([content], i) => addedToken(100256 + i, content));
  const pattern = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  return {
    version: '1.0',
    added_tokens: specials,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|endoftext|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [100256], tokens: ['<|endoftext|>'] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModelFromTiktoken('cl100k_base', { ignore_merges: true }),
  };
}

/** Words of the text by frequency (lowercased if asked), most frequent first. */
function wordCounts(texts: string[], lower: boolean): [string, number][] {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of (lower ? t.toLowerCase() : t).match(/\p{L}+/gu) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

/** BERT-style WordPiece: specials, single characters (bare and ##), frequent words and suffixes. */
export function bertTokenizerJson(texts: string[], options: { lowercase: boolean; words: number }): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  const add = (t: string): void => {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  };
  ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].forEach(add);
  const chars = new Set<string>();
  for (let c = 33; c < 127; c++) chars.add(String.fromCharCode(c));
  for (const c of 'éèàçñüößøåæœ中文日本語한국어') chars.add(c);
  for (const c of [...chars].sort()) {
    add(options.lowercase ? c.toLowerCase() : c);
    add('##' + (options.lowercase ? c.toLowerCase() : c));
  }
  for (const s of ['s', 'ed', 'ing', 'ly', 'tion', 'ment', 'er', 'est', 'al']) add('##' + s);
  for (const [w] of wordCounts(texts, options.lowercase).slice(0, options.words)) add(w);
  const special = (id: string): Record<string, unknown> => ({ id, ids: [vocab[id]], tokens: [id] });
  return {
    version: '1.0',
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t) => addedToken(vocab[t]!, t)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: options.lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: { '[CLS]': special('[CLS]'), '[SEP]': special('[SEP]') },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

/**
 * SentencePiece-style Unigram: <unk>, <s>, </s>, the 256 byte pieces, ASCII characters, and
 * frequent words with "▁" and their prefixes and suffixes, scored by log frequency (distinct
 * scores, so Viterbi has no ties).
 */
export function unigramTokenizerJson(texts: string[], options: { byteFallback: boolean; words: number }): Record<string, unknown> {
  const pieces = new Map<string, number>();
  const add = (p: string, score: number): void => {
    if (!pieces.has(p)) pieces.set(p, score);
  };
  add('<unk>', 0);
  add('<s>', 0);
  add('</s>', 0);
  if (options.byteFallback) for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0);
  const counts = wordCounts(texts, false).slice(0, options.words);
  const total = counts.reduce((s, [, c]) => s + c, 0);
  let k = 0;
  for (const [w, c] of counts) {
    const score = Math.log(c / total) - k++ * 1e-6;
    add('\u2581' + w, score);
    if (w.length > 3) {
      add(w.slice(0, Math.ceil(w.length / 2)), score - 1.5);
      add(w.slice(Math.ceil(w.length / 2)), score - 2.5);
    }
  }
  for (let c = 33; c < 127; c++) add(String.fromCharCode(c), -12 - c * 1e-4);
  add('\u2581', -8);
  return {
    version: '1.0',
    added_tokens: [addedToken(0, '<unk>'), addedToken(1, '<s>'), addedToken(2, '</s>')],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    post_processor: null,
    decoder: options.byteFallback
      ? { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] }
      : { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 0, vocab: [...pieces], byte_fallback: options.byteFallback },
  };
}

/**
 * Classic (non-byte-level) BPE with `##` continuations and a `</w>` end-of-word suffix: the
 * characters, and for frequent words the left-to-right merges that build them.
 */
export function suffixBpeModel(texts: string[], words: number): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  const add = (t: string): void => {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  };
  add('[UNK]');
  const merges: [string, string][] = [];
  const seen = new Set<string>();
  const symbolsOf = (w: string): string[] => Array.from(w, (c, i) => (i > 0 ? '##' : '') + c + (i === w.length - 1 ? '</w>' : ''));
  for (let c = 33; c < 127; c++) {
    const ch = String.fromCharCode(c);
    for (const s of [ch, `##${ch}`, `${ch}</w>`, `##${ch}</w>`]) add(s);
  }
  for (const [w] of wordCounts(texts, false).slice(0, words)) {
    if (!/^[\x21-\x7e]+$/.test(w)) continue;
    const symbols = symbolsOf(w);
    let left = symbols[0]!;
    for (const right of symbols.slice(1)) {
      const merged = left + right.slice(2);
      if (!seen.has(`${left} ${right}`)) {
        seen.add(`${left} ${right}`);
        merges.push([left, right]);
        add(merged);
      }
      left = merged;
    }
  }
  return { type: 'BPE', dropout: null, unk_token: '[UNK]', continuing_subword_prefix: '##', end_of_word_suffix: '</w>', fuse_unk: true, byte_fallback: false, ignore_merges: false, vocab, merges };
}
