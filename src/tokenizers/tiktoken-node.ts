/**
 * Loads the tiktoken encodings from the data the `tiktoken` npm package ships
 * (`node_modules/tiktoken/encoders/<name>.json`); nothing is downloaded. Node-only (file reads),
 * hence the -node suffix; the browser-safe parsing is in tiktoken.ts and vocab-files.ts.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { TokenizerError } from './errors.js';
import { bytePairEncodingFromTiktokenJson, type BytePairEncoding, type TiktokenNpmEncoderJson } from './tiktoken.js';

/** The encodings the tiktoken npm package ships. gpt2 and r50k_base are the same vocabulary. */
export const TIKTOKEN_ENCODINGS = ['gpt2', 'r50k_base', 'p50k_base', 'p50k_edit', 'cl100k_base', 'o200k_base'] as const;
export type TiktokenEncodingName = (typeof TIKTOKEN_ENCODINGS)[number];

const loaded = new Map<string, BytePairEncoding>();

export function isTiktokenEncodingName(name: string): name is TiktokenEncodingName {
  return (TIKTOKEN_ENCODINGS as readonly string[]).includes(name);
}

/** The encoding `name`, parsed once per process (o200k_base's 200k ranks take a moment). */
export function loadTiktoken(name: string, options: { merge?: 'fast' | 'reference' } = {}): BytePairEncoding {
  if (!isTiktokenEncodingName(name)) {
    throw new TokenizerError('loadTiktoken', `unknown encoding '${name}' (known: ${TIKTOKEN_ENCODINGS.join(', ')})`);
  }
  const key = `${name}/${options.merge ?? 'fast'}`;
  let enc = loaded.get(key);
  if (!enc) {
    let file: string;
    try {
      file = createRequire(import.meta.url).resolve(`tiktoken/encoders/${name}.json`);
    } catch {
      throw new TokenizerError('loadTiktoken', `cannot find tiktoken/encoders/${name}.json; install the 'tiktoken' npm package (npm ci)`);
    }
    const json = JSON.parse(readFileSync(file, 'utf8')) as TiktokenNpmEncoderJson;
    enc = bytePairEncodingFromTiktokenJson(name, json, options.merge);
    loaded.set(key, enc);
  }
  return enc;
}
