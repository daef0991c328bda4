/**
 * Compression statistics of a tokenizer on a text (the seeds' compression-ratio study): bytes and
 * characters per token, tokens per whitespace-separated word, how much of the vocabulary the text
 * uses and how often the unknown token appears. Text is added in pieces (`add`), so a corpus of any
 * size streams through; pieces should be cut where the tokenizer would not join tokens across the
 * cut (`TextSegmenter`'s cuts are such places for every tokenizer here).
 */
import { HfTokenizer } from './tokenizer-json.js';
import { SentencePieceTokenizer } from './sentencepiece.js';
import type { Tokenizer } from './tokenizer.js';

export interface TokenizerStats {
  tokenizer: string;
  bytes: number;
  chars: number;
  words: number;
  tokens: number;
  bytesPerToken: number;
  charsPerToken: number;
  tokensPerWord: number;
  /** Distinct ids that occurred, the vocabulary size, and their ratio. */
  distinctTokens: number;
  vocabSize: number;
  vocabUtilisation: number;
  /** Occurrences of the unknown id (null when the tokenizer has none, as byte-level BPE), and per token. */
  unknownTokens: number | null;
  unknownRate: number | null;
}

const WORD = /\P{White_Space}+/gu;
const utf8 = new TextEncoder();

/** The ids of plain text: no post-processor tokens ([CLS]), special-token text encoded as text. */
export function plainEncoder(tok: Tokenizer): (text: string) => number[] {
  if (tok instanceof HfTokenizer) return (t) => tok.encode(t, { addSpecialTokens: false });
  if (tok instanceof SentencePieceTokenizer) return (t) => tok.encode(t);
  return (t) => tok.encode(t, { disallowedSpecial: [] });
}

/** The unknown id of a tokenizer, if it has one. */
export function unknownId(tok: Tokenizer): number | undefined {
  if (tok instanceof HfTokenizer) return tok.model.unkId ?? undefined;
  if (tok instanceof SentencePieceTokenizer) return tok.unkId >= 0 ? tok.unkId : undefined;
  return undefined;
}

export class TokenizerStatsCounter {
  private bytes = 0;
  private chars = 0;
  private words = 0;
  private tokens = 0;
  private unknown = 0;
  private readonly seen: Uint8Array;
  private distinct = 0;
  private readonly encode: (text: string) => number[];
  private readonly unkId: number | undefined;

  constructor(private readonly tok: Tokenizer) {
    this.encode = plainEncoder(tok);
    this.unkId = unknownId(tok);
    this.seen = new Uint8Array(tok.vocabSize);
  }

  add(text: string): void {
    this.bytes += utf8.encode(text).length;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0xdc00 || c > 0xdfff) this.chars++; // count code points: skip low surrogates
    }
    this.words += text.match(WORD)?.length ?? 0;
    const ids = this.encode(text);
    this.tokens += ids.length;
    for (const id of ids) {
      if (id === this.unkId) this.unknown++;
      if (id < this.seen.length && this.seen[id] === 0) {
        this.seen[id] = 1;
        this.distinct++;
      }
    }
  }

  result(): TokenizerStats {
    const per = (a: number, b: number): number => (b === 0 ? 0 : a / b);
    return {
      tokenizer: this.tok.name,
      bytes: this.bytes,
      chars: this.chars,
      words: this.words,
      tokens: this.tokens,
      bytesPerToken: per(this.bytes, this.tokens),
      charsPerToken: per(this.chars, this.tokens),
      tokensPerWord: per(this.tokens, this.words),
      distinctTokens: this.distinct,
      vocabSize: this.tok.vocabSize,
      vocabUtilisation: per(this.distinct, this.tok.vocabSize),
      unknownTokens: this.unkId === undefined ? null : this.unknown,
      unknownRate: this.unkId === undefined ? null : per(this.unknown, this.tokens),
    };
  }
}
