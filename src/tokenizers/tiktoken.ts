/**
 * Byte-level BPE with regex pre-tokenization and special tokens: the tiktoken encodings (gpt2 /
 * r50k_base, p50k_base, cl100k_base, o200k_base) and any vocabulary of the same kind.
 *
 * Follows tiktoken `core.py` (`Encoding.encode`: the allowed/disallowed special-token checks) and
 * `src/lib.rs` (`encode_native`: split the text at allowed special tokens, pre-tokenize each
 * ordinary stretch with the regex, look every piece up whole first, else merge its bytes by rank).
 * Text is converted to UTF-8 after replacing lone surrogates with U+FFFD, which is what tiktoken's
 * npm package does on its way into WebAssembly; decode(encode(x)) therefore gives x with every lone
 * surrogate replaced by U+FFFD, and x itself for well-formed strings.
 */
import { bytePairMerge, bytePairMergeReference, type Ranks } from './bpe.js';
import { TokenizerError } from './errors.js';
import { escapeRegex, splitWithRegex, tiktokenPatternToJs } from './pre-tokenizers.js';
import type { EncodeOptions, Tokenizer } from './tokenizer.js';
import { parseTiktokenNpmRanks } from './vocab-files.js';

export interface BytePairEncodingOptions {
  name: string;
  /** Token bytes (byte string, see bpe.ts) -> id. */
  ranks: Ranks;
  /** Special token text -> id. */
  specialTokens?: Record<string, number>;
  /** The pre-tokenization pattern as tiktoken writes it (fancy_regex syntax); translated for JS. */
  pattern: string;
  /**
   * `'fast'` (default): heap-based merges and a cache of pieces seen before. `'reference'`: the
   * readable O(n^2) merge and no cache; same ids, kept to test the fast path against.
   */
  merge?: 'fast' | 'reference';
}

/** Pieces at most this long are cached; longer ones are rare and would bloat the cache. */
const CACHE_MAX_PIECE = 64;
/** The cache is cleared when it grows past this many pieces, bounding memory on endless streams. */
const CACHE_MAX_ENTRIES = 1 << 18;

/** Replaces lone surrogates by U+FFFD (String.prototype.toWellFormed, ES2024). */
export function toWellFormed(text: string): string {
  const s = text as string & { isWellFormed?: () => boolean; toWellFormed?: () => string };
  if (s.isWellFormed && s.toWellFormed) return s.isWellFormed() ? text : s.toWellFormed();
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** UTF-8 bytes of a well-formed string, as a byte string (char code = byte). */
export function utf8ByteString(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out += text[i];
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate, if the caller did not clean it
    if (c < 0x800) out += String.fromCharCode(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out += String.fromCharCode(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out += String.fromCharCode(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}

export class BytePairEncoding implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  /** The pre-tokenization pattern as given (tiktoken syntax). */
  readonly pattern: string;
  /** The JS regex the text is split with (the translated pattern). */
  readonly regex: RegExp;
  /** Token bytes (byte string) -> id, the ordinary (non-special) vocabulary. */
  readonly ranks: Ranks;
  private readonly merge: (piece: string, ranks: Ranks) => number[];
  private readonly cache: Map<string, number[]> | null;
  /** id -> token bytes; undefined for ids the vocabulary skips. */
  private readonly bytesOf: (Uint8Array | undefined)[];

  constructor(options: BytePairEncodingOptions) {
    this.name = options.name;
    this.ranks = options.ranks;
    this.specialTokens = new Map(Object.entries(options.specialTokens ?? {}));
    this.pattern = options.pattern;
    this.regex = new RegExp(tiktokenPatternToJs(options.pattern), 'gu');
    const fast = (options.merge ?? 'fast') === 'fast';
    this.merge = fast ? bytePairMerge : bytePairMergeReference;
    this.cache = fast ? new Map() : null;
    let maxId = -1;
    for (const id of this.ranks.values()) maxId = Math.max(maxId, id);
    for (const id of this.specialTokens.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.bytesOf = new Array<Uint8Array | undefined>(this.vocabSize);
    for (const [token, id] of this.ranks) this.bytesOf[id] = Uint8Array.from(token, (c) => c.charCodeAt(0));
    const utf8 = new TextEncoder();
    for (const [token, id] of this.specialTokens) {
      if (this.bytesOf[id]) throw new TokenizerError(this.name, `special token ${JSON.stringify(token)} reuses id ${id} of an ordinary token`);
      this.bytesOf[id] = utf8.encode(token);
    }
  }

  /** Encodes text with no special-token handling: `<|endoftext|>` is just characters. */
  encodeOrdinary(text: string): number[] {
    const ids: number[] = [];
    this.encodeStretch(toWellFormed(text), ids);
    return ids;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    text = toWellFormed(text);
    const allowed = this.specialSet('allowedSpecial', options.allowedSpecial ?? [], new Set());
    const disallowed = this.specialSet('disallowedSpecial', options.disallowedSpecial ?? 'all', allowed);
    if (disallowed.size > 0) {
      const m = this.specialRegex(disallowed)?.exec(text);
      if (m) {
        throw new TokenizerError(
          'encode',
          `the text contains the special token ${JSON.stringify(m[0])} at offset ${m.index}; pass it in allowedSpecial to encode it as id ${this.specialTokens.get(m[0])}, or disallowedSpecial: [] to encode it as ordinary text`,
        );
      }
    }
    const ids: number[] = [];
    const special = allowed.size > 0 ? this.specialRegex(allowed) : null;
    let start = 0;
    if (special) {
      for (const m of text.matchAll(special)) {
        this.encodeStretch(text.slice(start, m.index), ids);
        ids.push(this.specialTokens.get(m[0])!);
        start = m.index! + m[0].length;
      }
    }
    this.encodeStretch(start === 0 ? text : text.slice(start), ids);
    return ids;
  }

  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, options));
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    let length = 0;
    for (let i = 0; i < ids.length; i++) length += this.tokenBytes(ids[i]!).length;
    const out = new Uint8Array(length);
    let at = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.bytesOf[ids[i]!]!;
      out.set(b, at);
      at += b.length;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(this.decodeBytes(ids));
  }

  /** The bytes of one token; a clear error for ids the vocabulary does not have. */
  tokenBytes(id: number): Uint8Array {
    const b = Number.isInteger(id) && id >= 0 ? this.bytesOf[id] : undefined;
    if (b) return b;
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError('decode', `id ${id} is outside the vocabulary (size ${this.vocabSize})`);
    }
    throw new TokenizerError('decode', `id ${id} is not a token of ${this.name} (the vocabulary skips it)`);
  }

  /** Pre-tokenizes one stretch of text without special tokens and appends its ids. */
  private encodeStretch(text: string, ids: number[]): void {
    if (text.length === 0) return;
    for (const piece of splitWithRegex(text, this.regex)) {
      const cached = this.cache?.get(piece);
      if (cached) {
        for (const id of cached) ids.push(id);
        continue;
      }
      const bytes = utf8ByteString(piece);
      const whole = this.ranks.get(bytes);
      const pieceIds = whole !== undefined ? [whole] : this.merge(bytes, this.ranks);
      for (const id of pieceIds) ids.push(id);
      if (this.cache && piece.length <= CACHE_MAX_PIECE) {
        if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
        this.cache.set(piece, pieceIds);
      }
    }
  }

  private specialSet(option: string, value: 'all' | Iterable<string>, minus: ReadonlySet<string>): Set<string> {
    if (value === 'all') return new Set([...this.specialTokens.keys()].filter((t) => !minus.has(t)));
    if (typeof value === 'string') throw new TokenizerError('encode', `${option} must be 'all' or a list of special tokens, got the string ${JSON.stringify(value)}`);
    const out = new Set<string>();
    for (const t of value) {
      if (!this.specialTokens.has(t)) {
        throw new TokenizerError('encode', `${option} names ${JSON.stringify(t)}, which is not a special token of ${this.name} (it has ${[...this.specialTokens.keys()].join(', ')})`);
      }
      out.add(t);
    }
    return out;
  }

  private specialRegex(tokens: ReadonlySet<string>): RegExp | null {
    if (tokens.size === 0) return null;
    // Longest first, so that a special token that is a prefix of another never shadows it.
    const alternatives = [...tokens].sort((a, b) => b.length - a.length).map(escapeRegex);
    return new RegExp(alternatives.join('|'), 'gu');
  }
}

/** The JSON files in the tiktoken npm package's `encoders/` folder. */
export interface TiktokenNpmEncoderJson {
  pat_str: string;
  special_tokens: Record<string, number>;
  bpe_ranks: string;
}

/** Builds an encoding from one of the tiktoken npm package's `encoders/*.json` files. */
export function bytePairEncodingFromTiktokenJson(name: string, json: TiktokenNpmEncoderJson, merge?: 'fast' | 'reference'): BytePairEncoding {
  if (typeof json.pat_str !== 'string' || typeof json.bpe_ranks !== 'string' || typeof json.special_tokens !== 'object') {
    throw new TokenizerError(name, "expected a tiktoken encoder JSON with 'pat_str', 'special_tokens' and 'bpe_ranks'");
  }
  return new BytePairEncoding({ name, ranks: parseTiktokenNpmRanks(json.bpe_ranks), specialTokens: json.special_tokens, pattern: json.pat_str, ...(merge ? { merge } : {}) });
}
