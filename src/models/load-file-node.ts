/**
 * One entry point for "a model on disk" (Node): a Hugging Face folder (config.json +
 * safetensors) or a llama.cpp .gguf file, decided by what the path is.
 */
import { existsSync, statSync } from 'node:fs';
import { fail } from '../tensor/index.js';
import { readHfConfig, readHfFolder } from '../formats/hf-folder.js';
import { readGguf } from '../formats/gguf-node.js';
import type { GgufFile } from '../formats/gguf.js';
import { configFromGguf, loadGgufModel, type LoadGgufOptions } from './gguf.js';
import { loadModel, type LoadedModel } from './registry.js';

export type LoadedModelFile = LoadedModel & {
  /** config.json, or the config made from the GGUF metadata (HF field names either way). */
  config: Record<string, unknown>;
  format: 'hf-folder' | 'gguf';
  /** The parsed GGUF file (its metadata holds the tokenizer), null for a folder. */
  gguf: GgufFile | null;
};

/**
 * Loads a model from a Hugging Face folder or a .gguf file. GGUF Linear weights stay in their
 * stored format unless `keepQuantized: false` (see loadGgufModel).
 */
export function loadModelFile(path: string, opts: LoadGgufOptions = {}): LoadedModelFile {
  if (!existsSync(path)) fail('loadModelFile', `${path}: no such file or folder`);
  if (statSync(path).isDirectory()) {
    const folder = readHfFolder(path);
    return { ...loadModel(folder), config: folder.config, format: 'hf-folder', gguf: null };
  }
  if (!/\.gguf$/i.test(path)) fail('loadModelFile', `${path}: expected a Hugging Face model folder or a .gguf file`);
  const file = readGguf(path);
  return { ...loadGgufModel(file, opts), config: configFromGguf(file), format: 'gguf', gguf: file };
}

/** The config of a folder (config.json) or a .gguf file (its metadata), without loading weights. */
export function readModelConfig(path: string): Record<string, unknown> {
  if (!existsSync(path)) fail('readModelConfig', `${path}: no such file or folder`);
  if (statSync(path).isDirectory()) return readHfConfig(path, 'readModelConfig');
  return configFromGguf(readGguf(path));
}
