/**
 * safetensors files on disk (Node): read one file, read a sharded checkpoint through its
 * `model.safetensors.index.json`, and write atomically (temporary file + rename, so a crash
 * never leaves a half-written checkpoint under the final name).
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
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
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${tmpCounter++}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

let tmpCounter = 0;
