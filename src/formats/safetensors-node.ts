/**
 * safetensors files on disk (Node): read one file, read a sharded checkpoint through its
 * `model.safetensors.index.json`, and write atomically (temporary file + rename, so a crash
 * never leaves a half-written checkpoint under the final name).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from './atomic-file-node.js';
import type { Tensor } from '../tensor/index.js';
import {
  parseSafetensorsIndex, serializeSafetensors, SafetensorsFile, ShardedSafetensors, type SerializeOptions,
} from './safetensors.js';

/** Reads a .safetensors file into one buffer and parses its header; tensors view that buffer. */
export function readSafetensors(path: string): SafetensorsFile {
  const buf = readFileSync(path);
  return new SafetensorsFile(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
}

/** Opens a sharded checkpoint from its index file; shards are read on first use. */
export function readSafetensorsIndex(indexPath: string): ShardedSafetensors {
  const index = parseSafetensorsIndex(readFileSync(indexPath, 'utf8'), indexPath);
  const dir = dirname(indexPath);
  return new ShardedSafetensors(index, (file) => readSafetensors(join(dir, file)));
}

/** Writes tensors to `path` atomically: to `path.<pid>.<n>.tmp`, fsync, then rename. */
export function writeSafetensors(path: string, tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>, opts: SerializeOptions = {}): void {
  const bytes = serializeSafetensors(tensors, opts);
  writeFileAtomic(path, bytes);
}

