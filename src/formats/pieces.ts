/**
 * A file to write as a sequence of pieces (a header, then each tensor's bytes, converted when
 * its piece is asked for). The Node writers stream the pieces to disk, so a file larger than one
 * buffer (V8's typed arrays stop at 4 GiB; an f32 model of 1B parameters is more) is written
 * without ever being whole in memory; joinPieces makes one buffer where one is wanted.
 */
import { fail } from '../tensor/index.js';

export interface FilePieces {
  /** The file's size in bytes. */
  readonly byteLength: number;
  pieces(): Iterable<Uint8Array>;
}

/** The largest typed array V8 allocates on 64-bit hosts (Node 20: 2^32 bytes). */
export const MAX_BUFFER_BYTES = 2 ** 32;

/** The pieces in one buffer, with a clear error past what one typed array holds. */
export function joinPieces(file: FilePieces, op: string): Uint8Array {
  if (file.byteLength > MAX_BUFFER_BYTES) {
    fail(op, `the file would be ${file.byteLength} bytes, more than one buffer holds (${MAX_BUFFER_BYTES}); write it to disk with the streaming writer (writeGguf / writeSafetensors) instead`);
  }
  const out = new Uint8Array(file.byteLength);
  let at = 0;
  for (const p of file.pieces()) {
    out.set(p, at);
    at += p.length;
  }
  if (at !== file.byteLength) fail(op, `internal error: the pieces hold ${at} bytes, the layout ${file.byteLength}`);
  return out;
}
