/** Reads a Hugging Face tokenizer.json file from disk (Node-only; the parsing is in tokenizer-json.ts). */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { TokenizerError } from './errors.js';
import { tokenizerFromJson, type HfTokenizer } from './tokenizer-json.js';

export function loadTokenizerJson(path: string): HfTokenizer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TokenizerError('loadTokenizerJson', `cannot read '${path}': ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError('loadTokenizerJson', `'${path}' is not valid JSON: ${(e as Error).message}`);
  }
  return tokenizerFromJson(json, basename(path));
}
