/**
 * WordPiece (BERT): greedy longest-match-first within one pre-token, continuation pieces carrying
 * a `##` prefix; a word that cannot be covered, or is longer than `max_input_chars_per_word`,
 * becomes a single `[UNK]`. Follows tokenizers `src/models/wordpiece/mod.rs` and Google BERT's
 * `tokenization.py` `WordpieceTokenizer`.
 */
import { TokenizerError } from './errors.js';
import { vocabTables, type TokenizerModel } from './model.js';

export interface WordPieceOptions {
  vocab: Record<string, number>;
  unkToken?: string;
  continuingSubwordPrefix?: string;
  maxInputCharsPerWord?: number;
}

export class WordPieceModel implements TokenizerModel {
  readonly vocabSize: number;
  private readonly toId: Map<string, number>;
  private readonly toToken: string[];
  readonly unkId: number;
  private readonly prefix: string;
  private readonly maxChars: number;

  constructor(options: WordPieceOptions) {
    ({ toId: this.toId, toToken: this.toToken } = vocabTables(options.vocab));
    this.vocabSize = this.toToken.length;
    const unk = options.unkToken ?? '[UNK]';
    const unkId = this.toId.get(unk);
    if (unkId === undefined) throw new TokenizerError('tokenizer.json', `WordPiece unk_token ${JSON.stringify(unk)} is not in the vocabulary`);
    this.unkId = unkId;
    this.prefix = options.continuingSubwordPrefix ?? '##';
    this.maxChars = options.maxInputCharsPerWord ?? 100;
  }

  tokenToId(token: string): number | undefined {
    return this.toId.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.toToken[id];
  }

  tokenize(word: string): number[] {
    const chars = Array.from(word);
    if (chars.length > this.maxChars) return [this.unkId];
    const ids: number[] = [];
    let start = 0;
    while (start < chars.length) {
      // The longest piece from `start` that the vocabulary has; shrink one character at a time.
      let end = chars.length;
      let found: number | undefined;
      while (start < end) {
        const piece = (start > 0 ? this.prefix : '') + chars.slice(start, end).join('');
        found = this.toId.get(piece);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) return [this.unkId];
      ids.push(found);
      start = end;
    }
    return ids;
  }
}
