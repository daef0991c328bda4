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
    const out: string[] = [];
    // While the pending text is no longer than segmentChars, the next cut (searched from segmentChars
    // on) lies in `text`: search it there, and join only the segment that spans both, so that a
    // 1 MB chunk is not copied into one string with the pending text (V8 flattens such a
    // concatenation on every slice). The same cuts as the loop below, which handles the rest.
    let head = this.pending;
    let pos = 0;
    while (head.length <= this.segmentChars && head.length + text.length - pos >= this.segmentChars) {
      SAFE_CUT.lastIndex = pos + this.segmentChars - head.length;
      const m = SAFE_CUT.exec(text);
      if (!m) break;
      const cut = head.length + m.index - pos + (this.rule === 'newline' ? 1 : 0); // in pending + text
      if (cut > this.maxSegmentChars) break;
      const end = pos + cut - head.length;
      out.push(head + text.slice(pos, end));
      head = '';
      pos = end;
    }
    this.pending = head + text.slice(pos);
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

/**
 * What a pre-tokenizer may be instead of a function returning strings: one that writes where each
 * piece of a text ends (`PreTokenScanner`), so that counting a word seen before allocates nothing.
 */
export interface PieceScanner {
  /** Returns the number of pieces of `text`; `ends[0..count)` then holds their end offsets. */
  scan(text: string): number;
  readonly ends: Int32Array;
}

/**
 * Word -> count in insertion order (the order a Map keeps, which trainers' tie rules may see),
 * looked up by a range of the text being counted: the hash and the comparison read the text's
 * characters, and a string is made only for a word not seen before. Open addressing, linear
 * probing, at most half full.
 */
class WordTable {
  words: string[] = [];
  counts = new Float64Array(1024);
  private hashes = new Int32Array(1024);
  /** Entry index + 1, or 0 for an empty slot. */
  private slots = new Int32Array(2048);

  get size(): number {
    return this.words.length;
  }

  /** Adds `by` to the count of text.slice(start, end). */
  add(text: string, start: number, end: number, by: number): void {
    let h = 0x811c9dc5 | 0; // FNV-1a over UTF-16 units, then a murmur3-style finish for the low bits
    for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    const slots = this.slots;
    const mask = slots.length - 1;
    const len = end - start;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const e = slots[s]!;
      if (e === 0) {
        this.insert(len === text.length ? text : text.slice(start, end), h, s, by);
        return;
      }
      const w = this.words[e - 1]!;
      if (this.hashes[e - 1] === h && w.length === len) {
        let i = 0;
        while (i < len && w.charCodeAt(i) === text.charCodeAt(start + i)) i++;
        if (i === len) {
          this.counts[e - 1]! += by;
          return;
        }
      }
    }
  }

  private insert(word: string, hash: number, slot: number, count: number): void {
    const idx = this.words.length;
    if (idx === this.counts.length) {
      const counts = new Float64Array(idx * 2);
      counts.set(this.counts);
      this.counts = counts;
      const hashes = new Int32Array(idx * 2);
      hashes.set(this.hashes);
      this.hashes = hashes;
    }
    this.words.push(word);
    this.counts[idx] = count;
    this.hashes[idx] = hash;
    this.slots[slot] = idx + 1;
    if (2 * (idx + 1) > this.slots.length) this.rehash(this.slots.length * 2);
  }

  private rehash(slotCount: number): void {
    const slots = new Int32Array(slotCount);
    const mask = slotCount - 1;
    for (let idx = 0; idx < this.words.length; idx++) {
      let s = this.hashes[idx]! & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = idx + 1;
    }
    this.slots = slots;
  }

  /** Drops every word counted `threshold` times or fewer, keeping the others' order. */
  dropAtMost(threshold: number): void {
    let kept = 0;
    for (let idx = 0; idx < this.words.length; idx++) {
      if (this.counts[idx]! <= threshold) continue;
      this.words[kept] = this.words[idx]!;
      this.counts[kept] = this.counts[idx]!;
      this.hashes[kept] = this.hashes[idx]!;
      kept++;
    }
    this.words.length = kept;
    let slotCount = 2048;
    while (slotCount < 2 * kept) slotCount *= 2;
    this.rehash(slotCount);
  }
}

/** Word -> count, accumulated from text pushed in chunks. */
export class WordCounts {
  private readonly table = new WordTable();
  /** `counts` as last built, until the table changes. */
  private map: Map<string, number> | null = null;
  private readonly segmenter: TextSegmenter;
  private readonly maxWords: number;
  /** How many times the table was pruned, and the largest count of a word dropped. */
  prunes = 0;
  maxDroppedCount = 0;
  /** Characters pushed so far. */
  chars = 0;

  /**
   * `split` is the pre-tokenizer: one segment of text -> its words (normalization included), as
   * strings or as a `PieceScanner` (pieces of the text itself, no normalization).
   */
  constructor(private readonly split: ((text: string) => Iterable<string>) | PieceScanner, options: WordCountOptions = {}) {
    this.maxWords = options.maxWords ?? 4_000_000;
    this.segmenter = new TextSegmenter(options.segmentRule ?? 'newline');
    if (!(this.maxWords >= 1)) throw new TokenizerError('WordCounts', `maxWords must be >= 1, got ${this.maxWords}`);
  }

  /** Word -> count, in the order words were first counted (a word dropped by pruning and seen again counts as new). */
  get counts(): ReadonlyMap<string, number> {
    if (!this.map) {
      const { words, counts } = this.table;
      this.map = new Map(words.map((w, i) => [w, counts[i]!]));
    }
    return this.map;
  }

  /** The number of distinct words. */
  get size(): number {
    return this.table.size;
  }

  /** Calls `f` with each word and its count, in the order of `counts`. */
  forEachWord(f: (word: string, count: number) => void): void {
    const { words, counts } = this.table;
    for (let i = 0; i < words.length; i++) f(words[i]!, counts[i]!);
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
    const table = this.table;
    this.map = null;
    if (typeof this.split === 'function') {
      for (const w of this.split(text)) table.add(w, 0, w.length, 1);
    } else {
      const n = this.split.scan(text);
      const ends = this.split.ends;
      for (let k = 0, start = 0; k < n; k++) {
        const end = ends[k]!;
        table.add(text, start, end, 1);
        start = end;
      }
    }
    if (table.size > this.maxWords) this.prune();
  }

  /** Drops the least frequent words until at most 3/4 of maxWords remain. */
  private prune(): void {
    const target = Math.floor(this.maxWords * 0.75);
    const byCount = new Map<number, number>();
    const { counts } = this.table;
    for (let i = 0; i < this.table.size; i++) byCount.set(counts[i]!, (byCount.get(counts[i]!) ?? 0) + 1);
    // The smallest threshold t such that dropping every count <= t leaves <= target words.
    let left = this.table.size;
    let threshold = 0;
    for (const c of [...byCount.keys()].sort((a, b) => a - b)) {
      if (left <= target) break;
      left -= byCount.get(c)!;
      threshold = c;
    }
    this.table.dropAtMost(threshold);
    this.map = null;
    this.prunes++;
    this.maxDroppedCount = Math.max(this.maxDroppedCount, threshold);
  }
}
