/**
 * Regex pre-tokenization: the patterns that split text into the pieces BPE merges within.
 *
 * tiktoken's `pat_str`s (openai_public.py) are written for Rust's `fancy_regex`. JavaScript's
 * regex engine is also a backtracking, leftmost-first engine, so the same pattern finds the same
 * pieces once three differences are translated (`tiktokenPatternToJs`):
 *  - `\s` in Rust's Unicode mode is `\p{White_Space}`; JS's `\s` is a different set (it adds U+FEFF
 *    and lacks U+0085 NEL), so `\s`/`\S` become `\p{White_Space}`/`\P{White_Space}`; likewise `\d`
 *    is Unicode Nd and `\w` UTS #18's word class there, ASCII in JS.
 *  - `(?i:...)` groups are not supported by Node 20; their letters become explicit classes using
 *    Unicode simple case folding as Rust does, so `s` also matches U+017F LATIN SMALL LETTER LONG S
 *    and `k` the KELVIN SIGN U+212A.
 *  - `\p{..}` needs the `u` flag, which also makes the engine step over code points, not UTF-16 units.
 * Possessive quantifiers (`++`) are rejected: the patterns shipped with tiktoken's npm package
 * (our reference) do not use them. Hugging Face's Oniguruma patterns (ByteLevel, Split) need the
 * same translation: Oniguruma's Unicode `\s` is also White_Space.
 *
 * The second half holds the pre-tokenizers of Hugging Face `tokenizer.json` files (tokenizers
 * `src/pre_tokenizers/*.rs`), built on `splitPieces`, a port of `NormalizedString::split` and its
 * five `SplitDelimiterBehavior`s.
 */
import { BYTE_TO_CHAR } from './byte-level.js';
import { TokenizerError } from './errors.js';

/** Letters whose Unicode simple case folding adds a non-ASCII member (Rust regex `(?i)`). */
const EXTRA_FOLDS: Record<string, string> = { s: '\u017f', k: '\u212a' };

function caseInsensitiveLetters(body: string): string {
  if (/[\\[\](){}*+?]/.test(body.replace(/\\[\\'"]/g, ''))) {
    throw new TokenizerError('pre-tokenizer', `(?i:${body}) holds more than literals and '|'; only those can be translated`);
  }
  return body.replace(/[a-zA-Z]/g, (c) => {
    const lo = c.toLowerCase();
    return `[${lo}${lo.toUpperCase()}${EXTRA_FOLDS[lo] ?? ''}]`;
  });
}

/** UTS #18's \w, which Rust's regex and Oniguruma use in Unicode mode, as property escapes. */
const WORD_PROPERTIES = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}';

/**
 * Rewrites the class escapes whose Unicode meaning JS does not share: `\s \S` (White_Space), `\d \D`
 * (Nd, where JS means ASCII digits) and `\w` (UTS #18 word characters, where JS means ASCII). Tracks
 * whether it is inside `[...]`, since `\w` becomes a bracketed class outside one and bare
 * properties inside; `\W` inside a class has no such form and is refused.
 */
function translateClassEscapes(pattern: string, original: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const e = pattern[i + 1] ?? '';
      i++;
      if (e === 's') out += '\\p{White_Space}';
      else if (e === 'S') out += '\\P{White_Space}';
      else if (e === 'd') out += '\\p{Nd}';
      else if (e === 'D') out += '\\P{Nd}';
      else if (e === 'w') out += inClass ? WORD_PROPERTIES : `[${WORD_PROPERTIES}]`;
      else if (e === 'W' && !inClass) out += `[^${WORD_PROPERTIES}]`;
      else if (e === 'W') throw new TokenizerError('pre-tokenizer', `\\W inside a character class is not supported in ${JSON.stringify(original)}`);
      else out += c + e;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return out;
}

/** Translates a tiktoken (fancy_regex) pattern into an equivalent JS pattern source (use with the `u` flag). */
export function tiktokenPatternToJs(pattern: string): string {
  // Property escapes (\p{L}) and escaped characters first, so that `\p{L}+` is not read as `}+`.
  if (/[+*?}]\+/.test(pattern.replace(/\\[pP]\{[^}]*\}|\\./g, 'x'))) {
    throw new TokenizerError('pre-tokenizer', `possessive quantifiers are not supported in ${JSON.stringify(pattern)}`);
  }
  // (?i:...) groups: tiktoken's contain only literal alternatives, so no nested parentheses.
  let out = pattern.replace(/\(\?i:([^()]*)\)/g, (_, body: string) => `(?:${caseInsensitiveLetters(body)})`);
  if (out.includes('(?i')) throw new TokenizerError('pre-tokenizer', `unsupported inline flag group in ${JSON.stringify(pattern)}`);
  return translateClassEscapes(out, pattern);
}

/**
 * Escapes text for use as a literal in a Unicode-mode regex (where escaping `-` or `/` outside a
 * class is a syntax error, so only the syntax characters are escaped).
 */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Splits text into pre-tokens with a global, Unicode regex (every character lands in some piece for tiktoken's patterns). */
export function splitWithRegex(text: string, regex: RegExp): string[] {
  if (!regex.global || !regex.unicode) throw new TokenizerError('pre-tokenizer', `the regex ${regex} needs the 'g' and 'u' flags`);
  return text.match(regex) ?? [];
}

/** GPT-4's pre-tokenization pattern (tiktoken `cl100k_base`). */
export const CL100K_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** GPT-2's pattern, which Hugging Face's ByteLevel pre-tokenizer uses when `use_regex` is set. */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** A piece of text on its way through pre-tokenization; `atStart` if it begins the input (Metaspace's 'first' scheme needs it). */
export interface Piece {
  text: string;
  atStart: boolean;
}
export type PreTokenizer = (pieces: Piece[]) => Piece[];
export type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';
/** A delimiter: a global Unicode regex, or a predicate over single code points. */
export type Delimiter = RegExp | ((c: string) => boolean);

const WHITE_SPACE = /^\p{White_Space}$/u;
const PUNCTUATION = /^\p{P}$/u;
const NUMERIC = /^\p{N}$/u;
/** Rust's `char::is_whitespace`. */
export const isWhitespace = (c: string): boolean => WHITE_SPACE.test(c);
/** BERT's punctuation: all ASCII non-alphanumeric printable characters, and Unicode P*. */
export const isBertPunctuation = (c: string): boolean => {
  const cp = c.codePointAt(0)!;
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126) || PUNCTUATION.test(c);
};
const isNumeric = (c: string): boolean => NUMERIC.test(c);

/** The text cut into [start, end, isDelimiter] segments covering all of it (tokenizers `Pattern::find_matches`). */
function findMatches(text: string, delimiter: Delimiter): [number, number, boolean][] {
  const out: [number, number, boolean][] = [];
  let prev = 0;
  const add = (start: number, end: number): void => {
    if (prev < start) out.push([prev, start, false]);
    out.push([start, end, true]);
    prev = end;
  };
  if (typeof delimiter === 'function') {
    let i = 0;
    for (const c of text) {
      if (delimiter(c)) add(i, i + c.length);
      i += c.length;
    }
  } else {
    for (const m of text.matchAll(delimiter)) if (m[0].length > 0) add(m.index!, m.index! + m[0].length);
  }
  if (prev < text.length) out.push([prev, text.length, false]);
  return out;
}

/** Port of `NormalizedString::split(pattern, behavior)` (with `Invert` when `invert`); empty pieces are dropped. */
export function splitPieces(piece: Piece, delimiter: Delimiter, behavior: SplitBehavior, invert = false): Piece[] {
  const segments = findMatches(piece.text, delimiter).map(([s, e, m]): [number, number, boolean] => [s, e, m !== invert]);
  let kept: [number, number][] = [];
  let previousMatch = false;
  switch (behavior) {
    case 'Removed':
      kept = segments.filter(([, , m]) => !m).map(([s, e]) => [s, e]);
      break;
    case 'Isolated':
      kept = segments.map(([s, e]) => [s, e]);
      break;
    case 'MergedWithPrevious':
      for (const [s, e, m] of segments) {
        if (m && !previousMatch && kept.length > 0) kept[kept.length - 1]![1] = e;
        else kept.push([s, e]);
        previousMatch = m;
      }
      break;
    case 'MergedWithNext':
      for (let i = segments.length - 1; i >= 0; i--) {
        const [s, e, m] = segments[i]!;
        if (m && !previousMatch && kept.length > 0) kept[kept.length - 1]![0] = s;
        else kept.push([s, e]);
        previousMatch = m;
      }
      kept.reverse();
      break;
    case 'Contiguous':
      for (const [s, e, m] of segments) {
        if (m === previousMatch && kept.length > 0) kept[kept.length - 1]![1] = e;
        else kept.push([s, e]);
        previousMatch = m;
      }
      break;
    default:
      throw new TokenizerError('tokenizer.json', `unknown split behavior '${String(behavior)}'`);
  }
  return kept.filter(([s, e]) => e > s).map(([s, e]) => ({ text: piece.text.slice(s, e), atStart: piece.atStart && s === 0 }));
}

const splitAll = (delimiter: Delimiter, behavior: SplitBehavior, invert = false): PreTokenizer => (pieces) =>
  pieces.flatMap((p) => splitPieces(p, delimiter, behavior, invert));

export interface ByteLevelOptions {
  addPrefixSpace?: boolean;
  useRegex?: boolean;
}

/** ByteLevel: optional leading space, GPT-2's regex split, then each byte written as its alphabet character. */
export function byteLevelPreTokenizer(options: ByteLevelOptions = {}): PreTokenizer {
  const regex = new RegExp(tiktokenPatternToJs(GPT2_PATTERN), 'gu');
  const utf8 = new TextEncoder();
  return (pieces) =>
    pieces.flatMap((p) => {
      const text = options.addPrefixSpace && p.text !== '' && !p.text.startsWith(' ') ? ' ' + p.text : p.text;
      const parts = options.useRegex !== false ? splitPieces({ text, atStart: p.atStart }, regex, 'Isolated') : [{ text, atStart: p.atStart }];
      return parts.map((q) => ({ text: Array.from(utf8.encode(q.text), (b) => BYTE_TO_CHAR[b]).join(''), atStart: q.atStart }));
    });
}

export interface MetaspaceOptions {
  replacement?: string;
  prependScheme?: 'always' | 'first' | 'never';
  split?: boolean;
}

/** Metaspace (SentencePiece style): spaces become `▁`, one is prepended, and pieces start at each `▁`. */
export function metaspacePreTokenizer(options: MetaspaceOptions = {}): PreTokenizer {
  const replacement = options.replacement ?? '\u2581';
  const scheme = options.prependScheme ?? 'always';
  const isReplacement = (c: string): boolean => c === replacement;
  return (pieces) =>
    pieces.flatMap((p) => {
      let text = p.text.replaceAll(' ', replacement);
      // Prepending to an empty piece does nothing in tokenizers (`NormalizedString::prepend`).
      if (text !== '' && !text.startsWith(replacement) && (scheme === 'always' || (scheme === 'first' && p.atStart))) text = replacement + text;
      return options.split === false ? [{ text, atStart: p.atStart }] : splitPieces({ text, atStart: p.atStart }, isReplacement, 'MergedWithNext');
    });
}

/**
 * BERT's pre-tokenizer: split on whitespace (dropped), then isolate every punctuation character;
 * one pass per piece (the same pieces as the two `splitPieces` steps, which the tests check).
 */
export const bertPreTokenizer: PreTokenizer = (pieces) => {
  const out: Piece[] = [];
  for (const p of pieces) {
    const t = p.text;
    let start = 0;
    let i = 0;
    const flush = (end: number): void => {
      if (end > start) out.push({ text: t.slice(start, end), atStart: p.atStart && start === 0 });
    };
    while (i < t.length) {
      const cp = t.codePointAt(i)!;
      const n = cp > 0xffff ? 2 : 1;
      const ascii = cp < 0x80;
      const ws = ascii ? cp === 0x20 || (cp >= 0x09 && cp <= 0x0d) : isWhitespace(String.fromCodePoint(cp));
      if (ws) {
        flush(i);
        start = i + n;
      } else if (ascii ? (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126) : isBertPunctuation(String.fromCodePoint(cp))) {
        flush(i);
        out.push({ text: t.slice(i, i + n), atStart: p.atStart && i === 0 });
        start = i + n;
      }
      i += n;
    }
    flush(t.length);
  }
  return out;
};

/** Builds a pre-tokenizer from its tokenizer.json description. */
export function preTokenizerFromJson(json: Record<string, unknown> | null | undefined): PreTokenizer | null {
  if (!json) return null;
  switch (json.type) {
    case 'ByteLevel':
      return byteLevelPreTokenizer({ addPrefixSpace: json.add_prefix_space as boolean, useRegex: json.use_regex as boolean });
    case 'Metaspace': {
      const legacy = json.add_prefix_space === false ? 'never' : 'always'; // files written before prepend_scheme existed
      return metaspacePreTokenizer({ replacement: json.replacement as string, prependScheme: (json.prepend_scheme as MetaspaceOptions['prependScheme']) ?? legacy, split: json.split as boolean });
    }
    case 'BertPreTokenizer':
      return bertPreTokenizer;
    case 'WhitespaceSplit':
      return splitAll(isWhitespace, 'Removed');
    case 'Whitespace':
      // `\w+|[^\w\s]+`, the matches kept. Oniguruma's Unicode \w is UTS #18's word class: Alphabetic,
      // marks, decimal digits, connector punctuation and the joiners (so `²` is not a word character, `Ⅻ` is).
      return splitAll(/[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\p{White_Space}]+/gu, 'Removed', true);
    case 'Punctuation':
      return splitAll(isBertPunctuation, (json.behavior as SplitBehavior) ?? 'Isolated');
    case 'Digits':
      return splitAll(isNumeric, json.individual_digits ? 'Isolated' : 'Contiguous');
    case 'Split': {
      const pattern = json.pattern as { String?: string; Regex?: string };
      const delimiter =
        typeof pattern?.String === 'string'
          ? new RegExp(escapeRegex(pattern.String), 'gu')
          : typeof pattern?.Regex === 'string'
            ? new RegExp(tiktokenPatternToJs(pattern.Regex), 'gu')
            : null;
      if (!delimiter) throw new TokenizerError('tokenizer.json', `Split pre-tokenizer: expected pattern {"String": ...} or {"Regex": ...}, got ${JSON.stringify(json.pattern)}`);
      return splitAll(delimiter, json.behavior as SplitBehavior, json.invert === true);
    }
    case 'Sequence': {
      const steps = (json.pretokenizers as Record<string, unknown>[]).map(preTokenizerFromJson).filter((p): p is PreTokenizer => p !== null);
      return (pieces) => steps.reduce((ps, step) => step(ps), pieces);
    }
    default:
      throw new TokenizerError(
        'tokenizer.json',
        `pre-tokenizer type '${String(json.type)}' is not supported (supported: ByteLevel, Metaspace, BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation, Digits, Split, Sequence)`,
      );
  }
}
