/**
 * What a tokenizer.json model (BPE, WordPiece, Unigram) offers the pipeline in tokenizer-json.ts:
 * one pre-token in, ids out; and the vocabulary both ways (tokenizers `trait Model`).
 */
export interface TokenizerModel {
  /** Ids of one pre-token. */
  tokenize(word: string): number[];
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** One more than the largest id of the model's own vocabulary. */
  readonly vocabSize: number;
  /** The id text outside the vocabulary becomes, if the model has one. */
  readonly unkId?: number | undefined;
}

/** Token -> id and id -> token tables from a tokenizer.json `vocab` object. */
export function vocabTables(vocab: Record<string, number>): { toId: Map<string, number>; toToken: string[] } {
  const toId = new Map(Object.entries(vocab));
  const toToken: string[] = [];
  for (const [token, id] of toId) toToken[id] = token;
  return { toId, toToken };
}
