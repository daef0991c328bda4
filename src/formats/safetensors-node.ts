/**
 * safetensors files on disk (Node): open one file (the header parsed up front, each tensor read
 * when asked for, so files larger than one buffer open), read a sharded checkpoint through its
 * `model.safetensors.index.json`, and write atomically (temporary file + rename, so a crash
 * never leaves a half-written checkpoint under the final name).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from './atomic-file-node.js';
import { fileSource } from './file-source-node.js';
import type { Tensor } from '../tensor/index.js';
import {
  parseSafetensorsIndex, safetensorsPieces, SafetensorsFile, ShardedSafetensors, type SerializeOptions,
} from './safetensors.js';

/** Opens a .safetensors file and parses its header; `get` reads a tensor's bytes from the file. */
export function readSafetensors(path: string): SafetensorsFile {
  return new SafetensorsFile(fileSource(path, 'readSafetensors'), path);
}

/** Opens a sharded checkpoint from its index file; shards are read on first use. */
export function readSafetensorsIndex(indexPath: string): ShardedSafetensors {
  const index = parseSafetensorsIndex(readFileSync(indexPath, 'utf8'), indexPath);
  const dir = dirname(indexPath);
  return new ShardedSafetensors(index, (file) => readSafetensors(join(dir, file)));
}

/**
 * Writes tensors to `path` atomically (to `.<name>.<pid>.<n>.tmp`, fsync, then rename), tensor
 * by tensor: the file is never whole in memory, so files over 4 GiB are written too.
 */
export function writeSafetensors(path: string, tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>, opts: SerializeOptions = {}): void {
  const file = safetensorsPieces(tensors, opts);
  const written = writeFileAtomic(path, file.pieces());
  if (written !== file.byteLength) throw new Error(`writeSafetensors: wrote ${written} bytes, the layout has ${file.byteLength}`);
}

