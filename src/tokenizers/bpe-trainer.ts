/**
 * Byte-level BPE training (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with
 * Subword Units"; GPT-2's byte-level variant). Follows minbpe `RegexTokenizer.train` for the
 * shape (pre-tokenize with a regex, start from the 256 bytes, merge the most frequent adjacent pair
 * within pre-tokens, repeat) and Hugging Face tokenizers `models/bpe/trainer.rs` for the speed and
 * the tie rule: words are counted once with their frequency, pair counts are updated only for the
 * words that contain the merged pair, and a max-heap keyed by (count, then the smaller pair) picks
 * the next merge (merge-loop.ts). The default patterns (GPT-2's, cl100k's) are scanned by hand
 * (pre-token-scanner.ts) and words counted without a string per occurrence (word-counts.ts).
 *
 * `trainBpeReference` recounts every pair at every step, on words split by the regex itself: the
 * readable oracle for `trainBpe`.
 */
import { pairKey } from './bpe.js';
import { BYTE_TO_CHAR } from './byte-level.js';
import { TokenizerError } from './errors.js';
import { learnMerges, type PackedWords } from './merge-loop.js';
import { preTokenScanner } from './pre-token-scanner.js';
import { CL100K_PATTERN, GPT2_PATTERN, splitWithRegex, tiktokenPatternToJs } from './pre-tokenizers.js';
import { BytePairEncoding, utf8ByteString } from './tiktoken.js';
import { WordCounts, type WordCountOptions } from './word-counts.js';

/** GPT-4's pre-tokenization pattern (tiktoken `cl100k_base`), defined with the other patterns in pre-tokenizers.ts. */
export { CL100K_PATTERN };
export { learnMerges, packWords, type MergeLoop, type PackedWords, type Word } from './merge-loop.js';

export interface TrainProgress {
  /** 'count' (reading text), 'merge' (BPE/WordPiece merges), 'seed', 'em', 'prune' (Unigram). */
  phase: string;
  done: number;
  total: number;
  /** A short note for a progress bar, e.g. the current vocabulary size. */
  info?: string;
}

export interface BpeTrainOptions {
  /** Final vocabulary size including the 256 byte tokens (and not counting special tokens). */
  vocabSize: number;
  /** Pre-tokenization pattern in tiktoken/Oniguruma syntax; default GPT-4's (cl100k_base). */
  pattern?: string;
  /** Stop early when the most frequent pair occurs fewer times than this (default 2). */
  minFrequency?: number;
  /** Called as training advances (every 1% of the merges). */
  onProgress?: (p: TrainProgress) => void;
}

export interface BpeTrainResult {
  /** The merges in order: merge i joins ids [left, right] into id 256 + i. */
  merges: [number, number][];
  /** Token bytes (byte string) -> id, for the 256 bytes and every merge. */
  ranks: Map<string, number>;
  pattern: string;
}


/**
 * A word counter for byte-level BPE with `pattern`: feed it text in chunks (`push`, `end` per
 * file) or whole documents (`addDocument`), then pass it to `trainBpe` instead of the texts.
 * Streamed text is cut where the gpt2, cl100k and o200k patterns give the same pre-tokens as on the
 * whole text; for other patterns check that the 'newline' rule (word-counts.ts) holds.
 */
export function bpeWordCounts(pattern: string = CL100K_PATTERN, options: WordCountOptions = {}): WordCounts {
  const regex = new RegExp(tiktokenPatternToJs(pattern), 'gu');
  const counts = new WordCounts(preTokenScanner(pattern) ?? ((text) => splitWithRegex(text, regex)), { segmentRule: pattern === GPT2_PATTERN ? 'gpt2' : 'newline', ...options });
  bpePatterns.set(counts, pattern);
  return counts;
}
/** The pattern each `bpeWordCounts` table was made with, so `trainBpe` can check it. */
const bpePatterns = new WeakMap<WordCounts, string>();

/** Distinct pre-tokens of the input as UTF-8 byte sequences, with their frequencies. */
function countWords(input: Iterable<string> | WordCounts, pattern: string): PackedWords {
  let counts: WordCounts;
  if (input instanceof WordCounts) {
    const made = bpePatterns.get(input);
    if (made !== undefined && made !== pattern) throw new TokenizerError('trainBpe', `the word counts were made with pattern ${JSON.stringify(made)}, not the pattern option ${JSON.stringify(pattern)}`);
    counts = input;
  } else {
    counts = bpeWordCounts(pattern, { maxWords: Infinity });
    for (const text of input) counts.addDocument(text);
  }
  const offsets = new Int32Array(counts.size + 1);
  const wordCounts = new Float64Array(counts.size);
  let symbols = new Int32Array(1 << 16);
  let at = 0;
  let w = 0;
  counts.forEachWord((word, count) => {
    if (at + 3 * word.length > symbols.length) {
      const grown = new Int32Array(Math.max(2 * symbols.length, at + 3 * word.length));
      grown.set(symbols);
      symbols = grown;
    }
    at = utf8Into(word, symbols, at);
    wordCounts[w] = count;
    offsets[++w] = at;
  });
  return { symbols, offsets, counts: wordCounts };
}

/**
 * Writes the UTF-8 bytes of `text` into `out` from `at` (at most 3 per UTF-16 unit); returns the
 * end. A lone surrogate becomes U+FFFD, as in `utf8ByteString`.
 */
function utf8Into(text: string, out: Int32Array, at: number): number {
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[at++] = c;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x800) {
      out[at++] = 0xc0 | (c >> 6);
    } else if (c < 0x10000) {
      out[at++] = 0xe0 | (c >> 12);
      out[at++] = 0x80 | ((c >> 6) & 63);
    } else {
      out[at++] = 0xf0 | (c >> 18);
      out[at++] = 0x80 | ((c >> 12) & 63);
      out[at++] = 0x80 | ((c >> 6) & 63);
    }
    out[at++] = 0x80 | (c & 63);
  }
  return at;
}

function checkOptions(options: BpeTrainOptions): void {
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < 256) {
    throw new TokenizerError('trainBpe', `vocabSize must be an integer >= 256 (the byte tokens), got ${options.vocabSize}`);
  }
}

/** Replaces every non-overlapping (left, right), scanning left to right, by `id`. */
function mergeWord(symbols: number[], left: number, right: number, id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      out.push(id);
      i++;
    } else out.push(symbols[i]!);
  }
  return out;
}

function result(merges: [number, number][], pattern: string): BpeTrainResult {
  const bytes: string[] = Array.from({ length: 256 }, (_, b) => String.fromCharCode(b));
  for (const [l, r] of merges) bytes.push(bytes[l]! + bytes[r]!);
  return { merges, ranks: new Map(bytes.map((b, id) => [b, id])), pattern };
}

/** "a beats b": higher count, then the smaller pair (tokenizers' `Ord for Merge`). */
const beats = (countA: number, keyA: number, countB: number, keyB: number): boolean => countA > countB || (countA === countB && keyA < keyB);

/** The readable trainer: recount all pairs, merge the best, repeat. O(merges x corpus). */
export function trainBpeReference(texts: Iterable<string>, options: BpeTrainOptions): BpeTrainResult {
  checkOptions(options);
  const pattern = options.pattern ?? CL100K_PATTERN;
  const minFrequency = options.minFrequency ?? 2;
  const regex = new RegExp(tiktokenPatternToJs(pattern), 'gu');
  const seen = new Map<string, number>();
  for (const text of texts) for (const piece of splitWithRegex(text, regex)) seen.set(piece, (seen.get(piece) ?? 0) + 1);
  const words = Array.from(seen, ([piece, count]) => ({ symbols: Array.from(utf8ByteString(piece), (c) => c.charCodeAt(0)), count }));
  const merges: [number, number][] = [];
  while (256 + merges.length < options.vocabSize) {
    const counts = new Map<number, number>();
    for (const w of words) for (let i = 0; i + 1 < w.symbols.length; i++) {
      const k = pairKey(w.symbols[i]!, w.symbols[i + 1]!);
      counts.set(k, (counts.get(k) ?? 0) + w.count);
    }
    let bestKey = -1;
    let bestCount = 0;
    for (const [k, c] of counts) if (beats(c, k, bestCount, bestKey)) [bestKey, bestCount] = [k, c];
    if (bestKey < 0 || bestCount < minFrequency) break;
    const pair: [number, number] = [Math.floor(bestKey / 0x200000), bestKey % 0x200000];
    const id = 256 + merges.length;
    merges.push(pair);
    for (const w of words) w.symbols = mergeWord(w.symbols, pair[0], pair[1], id);
  }
  return result(merges, pattern);
}

/**
 * The fast trainer: same merges as `trainBpeReference`, updating counts only where the merged pair
 * occurs. `input` is the training texts (each pre-tokenized whole) or a `bpeWordCounts` table fed
 * in chunks (bounded memory, for corpora that do not fit in a string).
 */
export function trainBpe(input: Iterable<string> | WordCounts, options: BpeTrainOptions): BpeTrainResult {
  checkOptions(options);
  const pattern = options.pattern ?? CL100K_PATTERN;
  const words = countWords(input, pattern);
  const total = options.vocabSize - 256;
  const step = Math.max(1, Math.floor(total / 100));
  let next = 256;
  const merges = learnMerges(words, {
    minFrequency: options.minFrequency ?? 2,
    full: () => next >= options.vocabSize,
    merge: () => next++,
    merged: () => {
      const done = next - 256;
      if (options.onProgress && (done % step === 0 || done === total)) options.onProgress({ phase: 'merge', done, total, info: `vocab ${next}` });
    },
  });
  return result(merges, pattern);
}

/** An encoder for a trained vocabulary (tiktoken's rank rule over the learned ranks). */
export function bytePairEncodingFromTraining(trained: BpeTrainResult, options: { name?: string; specialTokens?: string[] } = {}): BytePairEncoding {
  const specialTokens = Object.fromEntries((options.specialTokens ?? []).map((t, i) => [t, trained.ranks.size + i]));
  return new BytePairEncoding({ name: options.name ?? 'trained', ranks: trained.ranks, specialTokens, pattern: trained.pattern });
}

/**
 * The trained tokenizer as a Hugging Face tokenizer.json (Split with the pattern, ByteLevel
 * without its own regex, BPE with the merges in order, special tokens as added tokens), which
 * attn's `tokenizerFromJson` and Hugging Face tokenizers both load.
 */
export function trainedTokenizerJson(trained: BpeTrainResult, options: { specialTokens?: string[] } = {}): Record<string, unknown> {
  const byteLevel = (bytes: string): string => {
    let out = '';
    for (let i = 0; i < bytes.length; i++) out += BYTE_TO_CHAR[bytes.charCodeAt(i)];
    return out;
  };
  const tokens: string[] = [];
  for (const [bytes, id] of trained.ranks) tokens[id] = byteLevel(bytes);
  const vocab = Object.fromEntries(tokens.map((t, id) => [t, id]));
  const specials = options.specialTokens ?? [];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, i) => ({ id: tokens.length + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: trained.pattern }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: trained.merges.map(([l, r]) => [tokens[l], tokens[r]]),
    },
  };
}
