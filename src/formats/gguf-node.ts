/**
 * GGUF files on disk (Node): read a file into one buffer, and write atomically (temporary file
 * + fsync + rename, so a crash never leaves a half-written model under the final name).
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic-file-node.js';
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
  return writeFileAtomic(path, bytes);
}

