/**
 * Hugging Face model folders on disk (Node): `config.json` plus weights in `model.safetensors`
 * or, for sharded checkpoints, `model.safetensors.index.json` and its shards. Reading takes
 * either layout; writing makes one `model.safetensors`, atomically for the whole folder.
 */
import {
  closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync,
  statSync, writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fail, type Tensor } from '../tensor/index.js';
import { serializeSafetensors, type TensorSource } from './safetensors.js';
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

/** Floating-point dtypes a folder can be written in (config.json's torch_dtype names). */
export type HfWeightDType = 'float32' | 'float16' | 'bfloat16';

const FLOAT_DTYPES = new Set(['float64', 'float32', 'float16', 'bfloat16']);

export interface WriteHfFolderOptions {
  /** config.json; `torch_dtype` is set to `dtype`. */
  config: Readonly<Record<string, unknown>>;
  /** Tensors by checkpoint name, written to model.safetensors (metadata `format: pt`, as transformers writes). */
  tensors: ReadonlyMap<string, Tensor>;
  /** Dtype of the floating-point tensors (integer tensors are kept); float32 unless given. */
  dtype?: HfWeightDType;
  /** Replace an existing non-empty folder (otherwise that is an error). An empty one is always replaced. */
  overwrite?: boolean;
  /** Further files copied verbatim into the folder (tokenizer.json, generation_config.json, ...), by their base name. */
  copyFiles?: readonly string[];
  /** Further files written from memory, by base name (a training checkpoint's optimizer state, trainer_state.json). */
  files?: ReadonlyMap<string, Uint8Array | string>;
}

/** Writes bytes to a new file and fsyncs it. */
function writeDurably(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'wx');
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

let folderCounter = 0;

/**
 * Writes a Hugging Face folder: config.json and model.safetensors (plus `copyFiles`). Atomic:
 * everything is written into a temporary sibling folder, which is renamed to `dir` only once
 * complete; an existing `dir` is moved aside first and removed after, or moved back if the
 * rename fails. An error at any point leaves `dir` as it was and no temporary folder behind.
 */
export function writeHfFolder(dir: string, opts: WriteHfFolderOptions): void {
  const what = 'writeHfFolder';
  const dtype = opts.dtype ?? 'float32';
  if (!(['float32', 'float16', 'bfloat16'] as string[]).includes(dtype)) fail(what, `dtype '${dtype}' is not one of float32, float16, bfloat16`);
  const target = resolve(dir);
  const exists = existsSync(target);
  if (exists) {
    if (!statSync(target).isDirectory()) fail(what, `${dir} exists and is not a folder`);
    if (readdirSync(target).length > 0 && !opts.overwrite) fail(what, `${dir} exists and is not empty (pass overwrite to replace it)`);
  }
  const parent = dirname(target);
  if (!existsSync(parent)) fail(what, `${parent}: no such folder`);
  const stem = `.${basename(target)}.${process.pid}.${folderCounter++}`;
  const tmp = join(parent, `${stem}.tmp`);
  const old = join(parent, `${stem}.old`);
  mkdirSync(tmp);
  try {
    const tensors = new Map<string, Tensor>();
    for (const [name, t] of opts.tensors) tensors.set(name, FLOAT_DTYPES.has(t.dtype) ? t.to(dtype) : t);
    const config = { ...opts.config, torch_dtype: dtype };
    writeDurably(join(tmp, 'config.json'), new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
    writeDurably(join(tmp, 'model.safetensors'), serializeSafetensors(tensors, { metadata: { format: 'pt' } }));
    for (const file of opts.copyFiles ?? []) {
      const name = basename(file);
      if (name === 'config.json' || name === 'model.safetensors') fail(what, `copyFiles: ${file} would replace the written ${name}`);
      copyFileSync(file, join(tmp, name));
    }
    for (const [name, content] of opts.files ?? []) {
      if (name !== basename(name) || name === 'config.json' || name === 'model.safetensors') fail(what, `files: '${name}' must be a plain file name other than config.json and model.safetensors`);
      writeDurably(join(tmp, name), typeof content === 'string' ? new TextEncoder().encode(content) : content);
    }
    if (exists) renameSync(target, old);
    try {
      renameSync(tmp, target);
    } catch (e) {
      if (exists) renameSync(old, target);
      throw e;
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (exists) rmSync(old, { recursive: true, force: true });
}
