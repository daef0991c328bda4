/**
 * The one interface every attn tokenizer implements (byte-level BPE today; WordPiece and Unigram
 * to come), shaped after tiktoken's `Encoding.encode/decode/encode_batch` so that special-token
 * handling reads the same.
 */

export interface EncodeOptions {
  /**
   * Special tokens (e.g. `<|endoftext|>`) that become their single id where they appear in the
   * text; `'all'` allows every special token. Default: none.
   */
  allowedSpecial?: 'all' | Iterable<string>;
  /**
   * Special tokens whose appearance in the text is an error. Default `'all'`: every special token
   * that is not allowed, as in tiktoken, so that text from users cannot smuggle control tokens in.
   * Pass `[]` to encode such text as ordinary text instead.
   */
  disallowedSpecial?: 'all' | Iterable<string>;
}

export interface Tokenizer {
  /** The vocabulary's name, e.g. `cl100k_base`. */
  readonly name: string;
  /** One more than the largest id (ids may have gaps: cl100k_base has no token 100256). */
  readonly vocabSize: number;
  /** Special token -> id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  encode(text: string, options?: EncodeOptions): number[];
  /** Encodes several texts with the same options. */
  encodeBatch(texts: readonly string[], options?: EncodeOptions): number[][];
  /** The text of the ids; byte sequences that are not valid UTF-8 decode to U+FFFD, as tiktoken does. */
  decode(ids: ArrayLike<number>): string;
  /** The raw bytes of the ids. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array;
}
