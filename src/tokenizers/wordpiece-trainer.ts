/**
 * WordPiece training as Hugging Face tokenizers does it (`models/wordpiece/trainer.rs`, which
 * runs its BPE trainer with `continuing_subword_prefix = "##"` and keeps only the vocabulary):
 * BERT's basic tokenizer (clean text, CJK splitting, optional lowercasing and accent stripping,
 * whitespace and punctuation splitting) turns text into words; a word starts as its characters,
 * every one after the first carrying the `##` prefix (`c a t` -> `c ##a ##t`); the most frequent
 * adjacent pair is merged into one token (`c` + `##a` -> `ca`, `##a` + `##t` -> `##at`) until the
 * vocabulary is full. Encoding then uses WordPiece's greedy longest match (wordpiece.ts), not the
 * merges, exactly as with a trained BERT vocabulary.
 *
 * Ids: the special tokens first ([PAD] [UNK] [CLS] [SEP] [MASK] by default), then the alphabet in
 * code point order, then its `##` forms in code point order, then merged tokens in merge order.
 * (tokenizers numbers the `##` forms in hash-map order, so its ids differ run to run; ours do not.)
 */
import { learnMerges, type TrainProgress, type Word } from './bpe-trainer.js';
import { TokenizerError } from './errors.js';
import { normalizerFromJson } from './normalizers.js';
import { preTokenizerFromJson, tiktokenPatternToJs } from './pre-tokenizers.js';
import { WordCounts, type WordCountOptions } from './word-counts.js';

export interface WordPieceTrainOptions {
  /** Vocabulary size, special tokens included. */
  vocabSize: number;
  /** Stop when the most frequent pair occurs fewer times than this (default 2, as BertWordPieceTokenizer). */
  minFrequency?: number;
  /** Added first, in this order; default [PAD] [UNK] [CLS] [SEP] [MASK]. */
  specialTokens?: string[];
  /** The unknown token (default [UNK]); must be among the special tokens. */
  unkToken?: string;
  /** Keep at most this many characters, the most frequent (default 1000, as BertWordPieceTokenizer). */
  limitAlphabet?: number;
  continuingSubwordPrefix?: string;
  /** BERT basic tokenizer options (defaults: uncased BERT). */
  lowercase?: boolean;
  /** Default: same as lowercase. */
  stripAccents?: boolean | null;
  cleanText?: boolean;
  handleChineseChars?: boolean;
  onProgress?: (p: TrainProgress) => void;
}

export interface WordPieceTrainResult {
  /** Tokens in id order. */
  vocab: string[];
  options: Required<Omit<WordPieceTrainOptions, 'onProgress' | 'stripAccents'>> & { stripAccents: boolean | null };
}

const BERT_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

function resolve(options: WordPieceTrainOptions): WordPieceTrainResult['options'] {
  const lowercase = options.lowercase ?? true;
  const o = {
    vocabSize: options.vocabSize,
    minFrequency: options.minFrequency ?? 2,
    specialTokens: options.specialTokens ?? BERT_SPECIALS,
    unkToken: options.unkToken ?? '[UNK]',
    limitAlphabet: options.limitAlphabet ?? 1000,
    continuingSubwordPrefix: options.continuingSubwordPrefix ?? '##',
    lowercase,
    stripAccents: options.stripAccents ?? null,
    cleanText: options.cleanText ?? true,
    handleChineseChars: options.handleChineseChars ?? true,
  };
  if (o.vocabSize !== Infinity && (!Number.isInteger(o.vocabSize) || o.vocabSize < o.specialTokens.length + 1)) {
    throw new TokenizerError('trainWordPiece', `vocabSize must be an integer larger than the ${o.specialTokens.length} special tokens, got ${o.vocabSize}`);
  }
  if (!o.specialTokens.includes(o.unkToken)) throw new TokenizerError('trainWordPiece', `the unknown token ${JSON.stringify(o.unkToken)} must be one of the special tokens (${o.specialTokens.join(' ')})`);
  if (new Set(o.specialTokens).size !== o.specialTokens.length) throw new TokenizerError('trainWordPiece', `special tokens repeat: ${o.specialTokens.join(' ')}`);
  if (o.continuingSubwordPrefix === '') throw new TokenizerError('trainWordPiece', 'continuingSubwordPrefix must not be empty');
  return o;
}

/** The normalizer and pre-tokenizer of the tokenizer.json, which training uses too. */
function pipelineJson(o: WordPieceTrainResult['options']): { normalizer: Record<string, unknown>; pre_tokenizer: Record<string, unknown> } {
  return {
    normalizer: { type: 'BertNormalizer', clean_text: o.cleanText, handle_chinese_chars: o.handleChineseChars, strip_accents: o.stripAccents, lowercase: o.lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
  };
}

/** A word counter with BERT's normalizer and pre-tokenizer for these options (for streaming input). */
export function wordPieceWordCounts(options: Omit<WordPieceTrainOptions, 'vocabSize'> = {}, countOptions: WordCountOptions = {}): WordCounts {
  const p = pipelineJson(resolve({ vocabSize: Infinity, ...options }));
  const normalize = normalizerFromJson(p.normalizer, tiktokenPatternToJs)!;
  const preTokenize = preTokenizerFromJson(p.pre_tokenizer)!;
  return new WordCounts((text) => preTokenize([{ text: normalize(text), atStart: true }]).map((q) => q.text), countOptions);
}

export function trainWordPiece(input: Iterable<string> | WordCounts, options: WordPieceTrainOptions): WordPieceTrainResult {
  const o = resolve(options);
  if (!Number.isFinite(o.vocabSize)) throw new TokenizerError('trainWordPiece', `vocabSize must be finite, got ${o.vocabSize}`);
  let counts: WordCounts;
  if (input instanceof WordCounts) counts = input;
  else {
    counts = wordPieceWordCounts(o, { maxWords: Infinity });
    for (const t of input) counts.addDocument(t);
  }
  const prefix = o.continuingSubwordPrefix;

  // The alphabet: the limitAlphabet most frequent characters (ties: smaller code point), in code point order.
  const charCounts = new Map<string, number>();
  for (const [w, c] of counts.counts) for (const ch of w) charCounts.set(ch, (charCounts.get(ch) ?? 0) + c);
  const byFrequency = [...charCounts].sort((a, b) => b[1] - a[1] || a[0].codePointAt(0)! - b[0].codePointAt(0)!);
  const alphabet = byFrequency.slice(0, o.limitAlphabet).map(([ch]) => ch).sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);

  const vocab: string[] = [...o.specialTokens];
  const ids = new Map<string, number>(vocab.map((t, i) => [t, i]));
  const add = (t: string): number => {
    let id = ids.get(t);
    if (id === undefined) {
      id = vocab.length;
      vocab.push(t);
      ids.set(t, id);
    }
    return id;
  };
  for (const ch of alphabet) add(ch);
  const inAlphabet = new Set(alphabet);
  // Which characters occur after the first position of some word: their ## forms are needed.
  const continuing = new Set<string>();
  for (const w of counts.counts.keys()) {
    let first = true;
    for (const ch of w) {
      if (!inAlphabet.has(ch)) continue; // dropped, as tokenizers drops characters outside the alphabet
      if (!first) continuing.add(ch);
      first = false;
    }
  }
  for (const ch of alphabet) if (continuing.has(ch)) add(prefix + ch);
  if (vocab.length >= 1 << 21) throw new TokenizerError('trainWordPiece', `the alphabet is too large (${vocab.length} tokens)`);

  const words: Word[] = [];
  for (const [w, count] of counts.counts) {
    const symbols: number[] = [];
    for (const ch of w) if (inAlphabet.has(ch)) symbols.push(ids.get(symbols.length === 0 ? ch : prefix + ch)!);
    if (symbols.length > 0) words.push({ symbols, count });
  }

  const total = Math.max(1, o.vocabSize - vocab.length);
  const start = vocab.length;
  const step = Math.max(1, Math.floor(total / 100));
  let merges = 0;
  learnMerges(words, {
    minFrequency: o.minFrequency,
    full: () => vocab.length >= o.vocabSize,
    merge: (left, right) => {
      const r = vocab[right]!;
      return add(vocab[left]! + (r.startsWith(prefix) ? r.slice(prefix.length) : r));
    },
    merged: () => {
      merges++;
      if (options.onProgress && (merges % step === 0 || vocab.length >= o.vocabSize)) options.onProgress({ phase: 'merge', done: Math.min(total, vocab.length - start), total, info: `vocab ${vocab.length}` });
    },
  });
  return { vocab, options: o };
}

/**
 * The trained WordPiece tokenizer as a BERT-style tokenizer.json: BertNormalizer, BertPreTokenizer,
 * WordPiece model, [CLS] A [SEP] / [CLS] A [SEP] B [SEP] post-processing when the special tokens
 * include [CLS] and [SEP], WordPiece decoder.
 */
export function wordPieceTokenizerJson(trained: WordPieceTrainResult): Record<string, unknown> {
  const o = trained.options;
  const ids = new Map(trained.vocab.map((t, i) => [t, i]));
  const cls = ids.get('[CLS]');
  const sep = ids.get('[SEP]');
  const post_processor =
    cls !== undefined && sep !== undefined
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: '[CLS]', type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: '[SEP]', type_id: 0 } },
            { Sequence: { id: 'B', type_id: 1 } },
            { SpecialToken: { id: '[SEP]', type_id: 1 } },
          ],
          special_tokens: {
            '[CLS]': { id: '[CLS]', ids: [cls], tokens: ['[CLS]'] },
            '[SEP]': { id: '[SEP]', ids: [sep], tokens: ['[SEP]'] },
          },
        }
      : null;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: o.specialTokens.map((content) => ({ id: ids.get(content)!, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    ...pipelineJson(o),
    post_processor,
    decoder: { type: 'WordPiece', prefix: o.continuingSubwordPrefix, cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: o.unkToken,
      continuing_subword_prefix: o.continuingSubwordPrefix,
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(trained.vocab.map((t, i) => [t, i])),
    },
  };
}
