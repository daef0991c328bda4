/** Reads a SentencePiece `.model` file from disk (Node-only; the parsing is in sentencepiece.ts). */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { TokenizerError } from './errors.js';
import { sentencePieceFromBytes, type SentencePieceOptions, type SentencePieceTokenizer } from './sentencepiece.js';

export function loadSentencePiece(path: string, options: Omit<SentencePieceOptions, 'name'> = {}): SentencePieceTokenizer {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new TokenizerError('loadSentencePiece', `cannot read '${path}': ${(e as Error).message}`);
  }
  try {
    return sentencePieceFromBytes(bytes, { ...options, name: basename(path) });
  } catch (e) {
    if (e instanceof TokenizerError) throw new TokenizerError('loadSentencePiece', `'${path}': ${e.message}`);
    throw e;
  }
}
