/**
 * Hugging Face model folders on disk (Node): `config.json` plus weights in `model.safetensors`
 * or, for sharded checkpoints, `model.safetensors.index.json` and its shards.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../tensor/index.js';
import type { TensorSource } from './safetensors.js';
import { readSafetensors, readSafetensorsIndex } from './safetensors-node.js';

export interface HfFolder {
  /** config.json as parsed JSON (models read it with their Config.fromDict). */
  config: Record<string, unknown>;
  weights: TensorSource;
}

/** config.json of a Hugging Face folder alone (calculators need no weights). */
export function readHfConfig(dir: string, what = 'readHfConfig'): Record<string, unknown> {
  if (!existsSync(dir)) fail(what, `${dir}: no such folder`);
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) fail(what, `${dir}: no config.json`);
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    fail(what, `${configPath}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) fail(what, `${configPath}: must be a JSON object`);
  return config as Record<string, unknown>;
}

export function readHfFolder(dir: string): HfFolder {
  const config = readHfConfig(dir, 'readHfFolder');
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  const weights = existsSync(single) ? readSafetensors(single)
    : existsSync(index) ? readSafetensorsIndex(index)
    : fail('readHfFolder', `${dir}: neither model.safetensors nor model.safetensors.index.json (PyTorch .bin checkpoints are not supported)`);
  return { config, weights };
}
