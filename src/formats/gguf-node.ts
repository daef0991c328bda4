/**
 * GGUF files on disk (Node): open a file (the header parsed up front, each tensor read from the
 * file when asked for, so files larger than one buffer open), and write atomically (temporary
 * file + fsync + rename, so a crash never leaves a half-written model under the final name).
 */
import { writeFileAtomic } from './atomic-file-node.js';
import { fileSource } from './file-source-node.js';
import { GgufFile, ggufPieces, type SerializeGgufOptions } from './gguf.js';

/** Opens a .gguf file and parses everything but the tensor data; `get` reads a tensor's bytes from the file. */
export function readGguf(path: string): GgufFile {
  return new GgufFile(fileSource(path, 'readGguf'), path);
}

/**
 * Writes a GGUF file atomically (to `.<name>.<pid>.<n>.tmp` beside it, fsync, rename), tensor by
 * tensor: the file is never whole in memory, so files over 4 GiB are written too.
 */
export function writeGguf(path: string, opts: SerializeGgufOptions): number {
  const file = ggufPieces(opts);
  const written = writeFileAtomic(path, file.pieces());
  if (written !== file.byteLength) throw new Error(`writeGguf: wrote ${written} bytes, the layout has ${file.byteLength}`);
  return written;
}
