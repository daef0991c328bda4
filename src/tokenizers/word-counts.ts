/**
 * Streaming input for the trainers: text arrives in chunks of any size, is cut into segments at
 * points that do not change pre-tokenization, each segment is pre-tokenized on its own and the
 * pre-tokens ("words") are counted. What the trainers see is the word -> count table, never the
 * text, so memory grows with the number of distinct words, and that is capped: past `maxWords`
 * distinct words the rarest are dropped (lossy counting, Manku & Motwani 2002), so a corpus of any
 * size trains in bounded memory. Everything is a function of the text alone, never of how it was
 * chunked, so the same input always gives the same counts and the same tokenizer.
 *
 * Segment boundaries (`TextSegmenter`): at the first newline followed by a letter or digit at or
 * after every `SEGMENT_CHARS`, cut after the newline ('newline' rule) or before it ('gpt2' rule).
 * The cl100k and o200k patterns never match across the point after such a newline (`\s*[\r\n]+`
 * ends at the last newline of a whitespace run, and no alternative takes a newline and then a
 * letter or digit; o200k's punctuation runs do take `\n//`, so not any non-space will do); GPT-2's
 * `\s+(?!\S)` leaves the last whitespace character of a run for the next token, so there the
 * safe point is before that newline. BERT and
 * SentencePiece-style pipelines drop or collapse whitespace, so either rule is safe for them.
 * Segment-wise pre-tokens equal whole-text pre-tokens (tested on prose, code and generated
 * Unicode). Text with no such newline for `MAX_SEGMENT_CHARS` (a 100 MB run of one character) is cut
 * there, which splits one giant pre-token into a few large ones instead of holding it whole.
 */
import { TokenizerError } from './errors.js';

/** Cut at the first safe newline after this many UTF-16 units... */
export const SEGMENT_CHARS = 1 << 16;
/** ...or here when there is none. */
export const MAX_SEGMENT_CHARS = 1 << 20;

/** A newline followed by a letter or digit: a safe cut is just after it, or (GPT-2) just before it. */
const SAFE_CUT = /\n(?=[\p{L}\p{N}])/gu;

/** Where segments may end: after ('newline') or before ('gpt2') a newline that precedes a letter or digit. */
export type SegmentRule = 'newline' | 'gpt2';

/** Cuts a stream of text chunks into segments that are a function of the text alone. */
export class TextSegmenter {
  private pending = '';

  constructor(private readonly rule: SegmentRule = 'newline', private readonly segmentChars = SEGMENT_CHARS, private readonly maxSegmentChars = MAX_SEGMENT_CHARS) {
    if (!(segmentChars >= 2 && maxSegmentChars >= segmentChars)) throw new TokenizerError('TextSegmenter', `need 2 <= segmentChars <= maxSegmentChars, got ${segmentChars}, ${maxSegmentChars}`);
  }

  /** Adds text; returns the segments completed by it. */
  push(text: string): string[] {
    this.pending += text;
    const out: string[] = [];
    while (this.pending.length >= this.segmentChars) {
      const cut = this.findCut();
      if (cut < 0) break;
      out.push(this.pending.slice(0, cut));
      this.pending = this.pending.slice(cut);
    }
    return out;
  }

  /** The rest of the text (possibly empty). */
  end(): string[] {
    const rest = this.pending;
    this.pending = '';
    return rest === '' ? [] : [rest];
  }

  /** Where the segment at the start of `pending` ends, or -1 if more text is needed to know. */
  private findCut(): number {
    const p = this.pending;
    SAFE_CUT.lastIndex = this.segmentChars;
    const m = SAFE_CUT.exec(p);
    const cut = m ? (this.rule === 'newline' ? m.index + 1 : m.index) : -1;
    if (cut > 0 && cut <= this.maxSegmentChars) return cut;
    if (p.length < this.maxSegmentChars + 1) return -1; // a safe cut may still come (the lookahead needs one more character)
    let forced = this.maxSegmentChars;
    const c = p.charCodeAt(forced - 1);
    if (c >= 0xd800 && c <= 0xdbff) forced--; // never split a surrogate pair
    return forced;
  }
}

export interface WordCountOptions {
  /**
   * Distinct words kept at most (default 4,000,000, a few hundred MB). When the table grows past
   * it, words seen fewest times are dropped until at most 3/4 of it remain; a word seen again later
   * starts counting from zero. `Infinity` keeps every word.
   */
  maxWords?: number;
  /** Where streamed text may be cut (default 'newline'; 'gpt2' for GPT-2's pattern). */
  segmentRule?: SegmentRule;
}

/** Word -> count, accumulated from text pushed in chunks. */
export class WordCounts {
  readonly counts = new Map<string, number>();
  private readonly segmenter: TextSegmenter;
  private readonly maxWords: number;
  /** How many times the table was pruned, and the largest count of a word dropped. */
  prunes = 0;
  maxDroppedCount = 0;
  /** Characters pushed so far. */
  chars = 0;

  /** `split` is the pre-tokenizer: one segment of text -> its words (normalization included). */
  constructor(private readonly split: (text: string) => Iterable<string>, options: WordCountOptions = {}) {
    this.maxWords = options.maxWords ?? 4_000_000;
    this.segmenter = new TextSegmenter(options.segmentRule ?? 'newline');
    if (!(this.maxWords >= 1)) throw new TokenizerError('WordCounts', `maxWords must be >= 1, got ${this.maxWords}`);
  }

  /** Adds a chunk of a stream; chunk boundaries do not matter (call `end()` after the last). */
  push(text: string): void {
    this.chars += text.length;
    for (const segment of this.segmenter.push(text)) this.countSegment(segment);
  }

  /** Ends the current stream (a file): its last segment is counted. */
  end(): void {
    for (const segment of this.segmenter.end()) this.countSegment(segment);
  }

  /** Adds one whole document (pre-tokenized as one piece of text, as `trainBpe(texts)` does). */
  addDocument(text: string): void {
    this.chars += text.length;
    this.countSegment(text);
  }

  private countSegment(text: string): void {
    const counts = this.counts;
    for (const w of this.split(text)) counts.set(w, (counts.get(w) ?? 0) + 1);
    if (counts.size > this.maxWords) this.prune();
  }

  /** Drops the least frequent words until at most 3/4 of maxWords remain. */
  private prune(): void {
    const target = Math.floor(this.maxWords * 0.75);
    const byCount = new Map<number, number>();
    for (const c of this.counts.values()) byCount.set(c, (byCount.get(c) ?? 0) + 1);
    // The smallest threshold t such that dropping every count <= t leaves <= target words.
    let left = this.counts.size;
    let threshold = 0;
    for (const c of [...byCount.keys()].sort((a, b) => a - b)) {
      if (left <= target) break;
      left -= byCount.get(c)!;
      threshold = c;
    }
    for (const [w, c] of this.counts) if (c <= threshold) this.counts.delete(w);
    this.prunes++;
    this.maxDroppedCount = Math.max(this.maxDroppedCount, threshold);
  }
}
