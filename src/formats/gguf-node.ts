/**
 * GGUF files on disk (Node): read a file into one buffer, and write atomically (temporary file
 * + fsync + rename, so a crash never leaves a half-written model under the final name).
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fail } from '../tensor/index.js';
import { GgufFile, serializeGguf, type SerializeGgufOptions } from './gguf.js';

/** Reads a .gguf file and parses everything but the tensor data; tensors view that buffer. */
export function readGguf(path: string): GgufFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    return fail('readGguf', `cannot read '${path}': ${(e as Error).message}`);
  }
  return new GgufFile(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
}

/** Serialises and writes a GGUF file atomically: to `.<name>.<pid>.<n>.tmp` beside it, fsync, rename. */
export function writeGguf(path: string, opts: SerializeGgufOptions): number {
  const bytes = serializeGguf(opts);
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
  return bytes.length;
}

let tmpCounter = 0;
