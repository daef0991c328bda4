/**
 * Normalizers of Hugging Face `tokenizer.json` files (tokenizers `src/normalizers/*.rs`): functions
 * from text to text, applied before pre-tokenization. Case mapping is per code point, as Rust's
 * `char::to_lowercase` is: JS `toLowerCase` on a whole string would apply the final-sigma rule.
 */
import { TokenizerError } from './errors.js';
import { escapeRegex } from './pre-tokenizers.js';

export type Normalizer = (text: string) => string;

type Json = Record<string, unknown>;

/** Chinese, Japanese and Korean ideographs (the CJK Unified Ideographs blocks BERT pads with spaces). */
export function isCjkIdeograph(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

const WHITE_SPACE = /^\p{White_Space}$/u;
// BERT's "control" characters: Cc, Cf, Co, Cs. Unassigned code points (Cn) are kept, as tokenizers keeps them.
const CONTROL = /^[\p{Cc}\p{Cf}\p{Co}\p{Cs}]$/u;
const NONSPACING_MARK = /\p{Mn}/gu;
const MARK = /\p{M}/gu;

export function lowercase(text: string): string {
  let out = '';
  for (const c of text) out += c.toLowerCase();
  return out;
}

/** The StripAccents normalizer: drops every combining mark (Mn, Mc, Me; unicode-normalization's `is_combining_mark`). */
export function stripAccents(text: string): string {
  return text.replace(MARK, '');
}

export interface BertNormalizerOptions {
  /** Drop NUL, U+FFFD and control characters; turn every whitespace character into a space. */
  cleanText?: boolean;
  /** Surround CJK ideographs with spaces so that each becomes a word. */
  handleChineseChars?: boolean;
  /** NFD then drop nonspacing marks; defaults to `lowercase` (BERT uncased). */
  stripAccents?: boolean | null;
  lowercase?: boolean;
}

/** Printable ASCII and the whitespace BERT keeps as is: text made only of these needs no per-character work. */
const PLAIN_ASCII = /^[\x20-\x7e]*$/;
const ASCII_ONLY = /^[\x00-\x7f]*$/;

/** BERT's normalizer (tokenizers `bert.rs`, Google's `tokenization.py` BasicTokenizer), in its order. */
export function bertNormalizer(options: BertNormalizerOptions = {}): Normalizer {
  const { cleanText = true, handleChineseChars = true, lowercase: lower = true } = options;
  const strip = options.stripAccents ?? lower;
  return (text) => {
    let out = '';
    if (PLAIN_ASCII.test(text)) {
      // Fast path (most of an English corpus): no controls, no whitespace but ' ', no CJK, no marks.
      out = text;
    } else {
      for (const c of text) {
        const cp = c.codePointAt(0)!;
        if (cleanText) {
          if (cp < 0x80) {
            // \t \n \r and space become spaces; the other controls (NUL, \v and \f included) go.
            if (cp === 0x09 || cp === 0x0a || cp === 0x0d || cp === 0x20) out += ' ';
            else if (cp < 0x20 || cp === 0x7f) continue;
            else out += c;
            continue;
          }
          if (cp === 0xfffd || (CONTROL.test(c) && c !== '\t' && c !== '\n' && c !== '\r')) continue;
          if (WHITE_SPACE.test(c)) {
            out += ' ';
            continue;
          }
        }
        out += handleChineseChars && isCjkIdeograph(cp) ? ` ${c} ` : c;
      }
    }
    if (ASCII_ONLY.test(out)) return lower ? out.toLowerCase() : out; // NFD and case mapping are trivial on ASCII
    // Unlike the StripAccents normalizer, BERT drops only nonspacing marks (Mn).
    if (strip) out = out.normalize('NFD').replace(NONSPACING_MARK, '');
    return lower ? lowercase(out) : out;
  };
}

/** A regex from a tokenizer.json `pattern` ({String} is literal, {Regex} is an Oniguruma pattern). */
export function patternRegex(pattern: unknown, where: string, translate: (p: string) => string): RegExp {
  const p = pattern as { String?: string; Regex?: string };
  if (typeof p?.String === 'string') return new RegExp(escapeRegex(p.String), 'gu');
  if (typeof p?.Regex === 'string') return new RegExp(translate(p.Regex), 'gu');
  throw new TokenizerError('tokenizer.json', `${where}: expected pattern {"String": ...} or {"Regex": ...}, got ${JSON.stringify(pattern)}`);
}

/** Builds a normalizer from its tokenizer.json description. */
export function normalizerFromJson(json: Json | null | undefined, translate: (p: string) => string): Normalizer | null {
  if (!json) return null;
  switch (json.type) {
    case 'BertNormalizer':
      return bertNormalizer({
        cleanText: json.clean_text as boolean,
        handleChineseChars: json.handle_chinese_chars as boolean,
        stripAccents: json.strip_accents as boolean | null,
        lowercase: json.lowercase as boolean,
      });
    case 'Lowercase':
      return lowercase;
    case 'StripAccents':
      return stripAccents;
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = json.type;
      return (t) => t.normalize(form);
    }
    case 'Strip': {
      const left = json.strip_left !== false;
      const right = json.strip_right !== false;
      return (t) => t.replace(left ? /^\p{White_Space}+/u : /$^/u, '').replace(right ? /\p{White_Space}+$/u : /$^/u, '');
    }
    case 'Prepend': {
      const prefix = String(json.prepend);
      return (t) => (t === '' ? t : prefix + t);
    }
    case 'Replace': {
      const re = patternRegex(json.pattern, 'Replace normalizer', translate);
      const content = String(json.content);
      return (t) => t.replace(re, () => content);
    }
    case 'Sequence': {
      const parts = (json.normalizers as Json[]).map((n) => normalizerFromJson(n, translate)).filter((n): n is Normalizer => n !== null);
      return (t) => parts.reduce((s, n) => n(s), t);
    }
    default:
      throw new TokenizerError('tokenizer.json', `normalizer type '${String(json.type)}' is not supported (supported: BertNormalizer, Lowercase, StripAccents, NFC, NFD, NFKC, NFKD, Strip, Prepend, Replace, Sequence)`);
  }
}
