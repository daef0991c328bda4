/**
 * Hand-written scanners for two pre-tokenization patterns, GPT-2's and GPT-4's (cl100k_base), that
 * give exactly the pieces of the regex (`splitWithRegex` with `tiktokenPatternToJs(pattern)`) but
 * without a regex engine or a string per piece: `scan` writes where each piece ends. Training
 * counts every pre-token of the corpus, and there the regex was a third of the time.
 *
 * Why this is exact: for these patterns every character lies in some match and no alternative
 * matches the empty string, so the regex's pieces are contiguous and the piece starting at offset i
 * is what the pattern, tried alternative by alternative at i (leftmost-first, greedy with
 * backtracking), matches there. The scanner computes that match by hand when every character it
 * has to look at (the piece and the one that ends it) is ASCII, whose classes (letter, number,
 * White_Space) are read off the regex engine itself below. Otherwise it runs the regex, sticky, at
 * i: so non-ASCII text costs one regex match per piece, as before, and is never guessed at.
 * tests/tokenizers/pre-token-scanner.test.ts compares scanner and regex on prose, code, generated
 * Unicode and random strings.
 */
import { TokenizerError } from './errors.js';
import { CL100K_PATTERN, GPT2_PATTERN, tiktokenPatternToJs } from './pre-tokenizers.js';

const LETTER = 1;
const NUMBER = 2;
const SPACE = 4; // \p{White_Space}
const NEWLINE = 8; // \r or \n (also SPACE)
const OTHER = 16; // [^\s\p{L}\p{N}]

/** The class of each ASCII character, as the regex engine sees it. */
const ASCII: Uint8Array = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) {
    const ch = String.fromCharCode(c);
    if (/\p{L}/u.test(ch)) t[c] = LETTER;
    else if (/\p{N}/u.test(ch)) t[c] = NUMBER;
    else if (/\p{White_Space}/u.test(ch)) t[c] = SPACE | (c === 10 || c === 13 ? NEWLINE : 0);
    else t[c] = OTHER;
  }
  return t;
})();

const APOSTROPHE = 0x27;
const BLANK = 0x20;
const LONG_S = 0x17f; // ſ, which (?i:'s) matches through Unicode case folding
const lower = (c: number): number => c | 0x20; // ASCII letters only; other codes cannot become a letter this way

/**
 * The end of the piece at `i` for cl100k's
 * `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
 * or -1 when that depends on a non-ASCII character.
 */
function cl100kEnd(t: string, i: number, n: number): number {
  const c = t.charCodeAt(i);
  if (c >= 128) return -1;
  const k = ASCII[c]!;
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
  if (c === APOSTROPHE && i + 1 < n) {
    const c1 = t.charCodeAt(i + 1);
    const l1 = lower(c1);
    if (l1 === 0x73 || l1 === 0x74 || l1 === 0x6d || l1 === 0x64 || c1 === LONG_S) return i + 2; // s t m d ſ
    if (i + 2 < n) {
      const l2 = lower(t.charCodeAt(i + 2));
      if (((l1 === 0x72 || l1 === 0x76) && l2 === 0x65) || (l1 === 0x6c && l2 === 0x6c)) return i + 3; // re ve ll
    }
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  let j = -1;
  if (k & LETTER) j = i + 1;
  else if (!(k & (NUMBER | NEWLINE)) && i + 1 < n) {
    const c1 = t.charCodeAt(i + 1);
    if (c1 >= 128) return -1;
    if (ASCII[c1]! & LETTER) j = i + 2;
  }
  if (j >= 0) {
    for (; j < n; j++) {
      const d = t.charCodeAt(j);
      if (d >= 128) return -1;
      if (!(ASCII[d]! & LETTER)) break;
    }
    return j;
  }
  // \p{N}{1,3}
  if (k & NUMBER) {
    const stop = Math.min(i + 3, n);
    for (j = i + 1; j < stop; j++) {
      const d = t.charCodeAt(j);
      if (d >= 128) return -1;
      if (!(ASCII[d]! & NUMBER)) break;
    }
    return j;
  }
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*` (the optional blank is tried first; without it a blank cannot start the run)
  const p = c === BLANK ? i + 1 : i;
  if (p < n) {
    const d = t.charCodeAt(p);
    if (d >= 128) return -1;
    if (ASCII[d]! & OTHER) {
      for (j = p + 1; j < n; j++) {
        const e = t.charCodeAt(j);
        if (e >= 128) return -1;
        if (!(ASCII[e]! & OTHER)) break;
      }
      while (j < n && ASCII[t.charCodeAt(j)]! & NEWLINE) j++; // a non-ASCII code reads as undefined: not a newline
      return j;
    }
  }
  // \s*[\r\n]+ ends after the last newline of the whitespace run; else \s+(?!\S) leaves the run's last
  // character to the next piece when a non-space follows; else \s+ (a single space before a non-space).
  let lastNewline = -1;
  for (j = i; j < n; j++) {
    const d = t.charCodeAt(j);
    if (d >= 128) return -1;
    const kd = ASCII[d]!;
    if (!(kd & SPACE)) break;
    if (kd & NEWLINE) lastNewline = j;
  }
  if (lastNewline >= 0) return lastNewline + 1;
  return j === n || j - i === 1 ? j : j - 1;
}

/**
 * The end of the piece at `i` for GPT-2's
 * `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, or -1 when that
 * depends on a non-ASCII character.
 */
function gpt2End(t: string, i: number, n: number): number {
  const c = t.charCodeAt(i);
  if (c >= 128) return -1;
  // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
  if (c === APOSTROPHE && i + 1 < n) {
    const c1 = t.charCodeAt(i + 1);
    if (c1 === 0x73 || c1 === 0x74 || c1 === 0x6d || c1 === 0x64) return i + 2;
    if (i + 2 < n) {
      const c2 = t.charCodeAt(i + 2);
      if (((c1 === 0x72 || c1 === 0x76) && c2 === 0x65) || (c1 === 0x6c && c2 === 0x6c)) return i + 3;
    }
  }
  // ` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+`: a run of one class, after an optional blank.
  let p = i;
  let run = ASCII[c]! & (LETTER | NUMBER | OTHER);
  if (c === BLANK && i + 1 < n) {
    const d = t.charCodeAt(i + 1);
    if (d >= 128) return -1;
    run = ASCII[d]! & (LETTER | NUMBER | OTHER);
    p = i + 1;
  }
  let j: number;
  if (run) {
    for (j = p + 1; j < n; j++) {
      const d = t.charCodeAt(j);
      if (d >= 128) return -1;
      if (!(ASCII[d]! & run)) break;
    }
    return j;
  }
  // \s+(?!\S)|\s+
  for (j = i; j < n; j++) {
    const d = t.charCodeAt(j);
    if (d >= 128) return -1;
    if (!(ASCII[d]! & SPACE)) break;
  }
  return j === n || j - i === 1 ? j : j - 1;
}

/** Finds the pre-tokens of a text as end offsets, for a pattern `preTokenScanner` knows. */
export class PreTokenScanner {
  /** ends[0..count) after `scan`: piece k is text.slice(ends[k - 1] ?? 0, ends[k]). */
  ends = new Int32Array(1024);
  private readonly sticky: RegExp;
  private readonly endAt: (t: string, i: number, n: number) => number;

  constructor(readonly pattern: typeof CL100K_PATTERN | typeof GPT2_PATTERN) {
    this.endAt = pattern === GPT2_PATTERN ? gpt2End : cl100kEnd;
    this.sticky = new RegExp(tiktokenPatternToJs(pattern), 'uy');
  }

  /** Scans `text`; returns the number of pieces, whose end offsets are in `ends`. */
  scan(text: string): number {
    const n = text.length;
    const endAt = this.endAt;
    let ends = this.ends;
    let count = 0;
    for (let i = 0; i < n; ) {
      let e = endAt(text, i, n);
      if (e < 0) {
        this.sticky.lastIndex = i;
        const m = this.sticky.exec(text);
        // Every code point matches some alternative of these patterns, so a miss is a bug here.
        if (m === null) throw new TokenizerError('pre-tokenizer', `no match at offset ${i} of ${JSON.stringify(text.slice(i, i + 20))}`);
        e = i + m[0].length;
      }
      if (count === ends.length) {
        const grown = new Int32Array(ends.length * 2);
        grown.set(ends);
        this.ends = ends = grown;
      }
      ends[count++] = e;
      i = e;
    }
    return count;
  }

  /** The pieces as strings (what `splitWithRegex` gives). */
  split(text: string): string[] {
    const count = this.scan(text);
    const out: string[] = new Array(count);
    for (let k = 0, start = 0; k < count; k++) {
      out[k] = text.slice(start, this.ends[k]);
      start = this.ends[k]!;
    }
    return out;
  }
}

/** A scanner for `pattern` if it is GPT-2's or cl100k's (tiktoken syntax, exactly as exported here), else null. */
export function preTokenScanner(pattern: string): PreTokenScanner | null {
  return pattern === CL100K_PATTERN || pattern === GPT2_PATTERN ? new PreTokenScanner(pattern) : null;
}
