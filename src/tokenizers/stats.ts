/**
 * Compression statistics of a tokenizer on a text (the seeds' compression-ratio study): bytes and
 * characters per token, tokens per whitespace-separated word, how much of the vocabulary the text
 * uses and how often the unknown token appears. Text streams through in chunks of any size
 * (`push`, then `end` per file): each counter cuts it with a `TextSegmenter` at places where its
 * tokenizer gives the same ids as on the whole text (`segmentRuleFor`), so a corpus of any size
 * gives the figures of encoding it whole.
 */
import { HfTokenizer } from './tokenizer-json.js';
import { SentencePieceTokenizer } from './sentencepiece.js';
import { BytePairEncoding } from './tiktoken.js';
import { GPT2_PATTERN } from './pre-tokenizers.js';
import type { Tokenizer } from './tokenizer.js';
import { TextSegmenter, type SegmentRule } from './word-counts.js';

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
  if (tok instanceof HfTokenizer) return (t) => tok.encode(t, { addSpecialTokens: false, truncate: false, pad: false });
  if (tok instanceof SentencePieceTokenizer) return (t) => tok.encode(t);
  return (t) => tok.encode(t, { disallowedSpecial: [] });
}

/** The unknown id of a tokenizer, if it has one. */
export function unknownId(tok: Tokenizer): number | undefined {
  if (tok instanceof HfTokenizer) return tok.model.unkId ?? undefined;
  if (tok instanceof SentencePieceTokenizer) return tok.unkId >= 0 ? tok.unkId : undefined;
  return undefined;
}

/** Where a stream may be cut for this tokenizer (GPT-2's pattern needs the 'gpt2' rule). */
export function segmentRuleFor(tok: Tokenizer): SegmentRule {
  if (tok instanceof BytePairEncoding) return tok.pattern === GPT2_PATTERN ? 'gpt2' : 'newline';
  if (tok instanceof HfTokenizer) return tok.segmentRule;
  return 'newline';
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
  private readonly segmenter: TextSegmenter;

  constructor(private readonly tok: Tokenizer) {
    this.segmenter = new TextSegmenter(segmentRuleFor(tok));
    this.encode = plainEncoder(tok);
    this.unkId = unknownId(tok);
    this.seen = new Uint8Array(tok.vocabSize);
  }

  /** Adds a chunk of a stream (a file); call `end()` after its last chunk. */
  push(text: string): void {
    for (const segment of this.segmenter.push(text)) this.add(segment);
  }

  end(): void {
    for (const segment of this.segmenter.end()) this.add(segment);
  }

  /** Adds a whole text, encoded in one piece. */
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
