/**
 * Streaming detokenization: the text each new token adds, correct when a character's UTF-8 bytes
 * are split across tokens and when a decoder treats a sequence's first token specially
 * (SentencePiece's leading "▁"). It is Hugging Face text-generation-inference's decode_token:
 * decode a short window of recent ids with and without the new ones and emit the difference,
 * unless the window ends in U+FFFD (an incomplete character, held until its last byte arrives).
 * Cost per token is a decode of a few tokens, not of the whole output.
 */
import type { Tokenizer } from '../tokenizers/index.js';

export class StreamingDetokenizer {
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;

  constructor(readonly tokenizer: Tokenizer) {}

  /** All ids so far. */
  get tokens(): readonly number[] {
    return this.ids;
  }

  /** Adds a token; returns the text it completes ('' while a character is incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const prefix = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const full = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    if (full.length > prefix.length && !full.endsWith('\uFFFD')) {
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      return full.slice(prefix.length);
    }
    return '';
  }

  /** The text not returned yet (at the end of generation; an unfinished character becomes U+FFFD). */
  flush(): string {
    const prefix = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const full = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    this.prefixOffset = this.readOffset = this.ids.length;
    return full.slice(prefix.length);
  }
}
