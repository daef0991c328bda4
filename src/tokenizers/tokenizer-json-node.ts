/** Reads a Hugging Face tokenizer.json file from disk (Node-only; the parsing is in tokenizer-json.ts). */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { ChatTemplate, type TokenizerConfig } from './chat-template.js';
import { basename, dirname, join } from 'node:path';
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

/**
 * Writes a tokenizer.json atomically: a temporary file in the same folder, fsynced, then renamed
 * over `path`, so a crash never leaves a half-written tokenizer.
 */
export function saveTokenizerJson(path: string, json: unknown): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify(json));
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/** The chat template of a tokenizer_config.json file (or of the folder holding one). */
export function loadChatTemplate(path: string): ChatTemplate {
  let file = path;
  try {
    if (statSync(path).isDirectory()) file = join(path, 'tokenizer_config.json');
  } catch {
    // reported by the read below
  }
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TokenizerError('loadChatTemplate', `cannot read '${file}': ${(e as Error).message}`);
  }
  if (config === null || typeof config !== 'object') throw new TokenizerError('loadChatTemplate', `'${file}' is not a JSON object`);
  return new ChatTemplate(config as TokenizerConfig, basename(file));
}
