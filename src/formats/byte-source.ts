/**
 * Where a file format's bytes come from: a buffer already in memory, or a file read a range at a
 * time (formats/file-source-node.ts), so that a checkpoint larger than one Node buffer (2 GiB for
 * readFileSync) can be opened and each tensor read on its own. Browser-safe.
 */

export interface ByteSource {
  /** Total size in bytes. */
  readonly byteLength: number;
  /**
   * Bytes [offset, offset + length). From memory a view (no copy); from a file a fresh buffer
   * that starts at offset 0 of its own ArrayBuffer, so typed arrays can view it in place.
   */
  read(offset: number, length: number): Uint8Array;
}

/** A ByteSource over a buffer in memory; `read` returns views into it. */
export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    byteLength: bytes.byteLength,
    read: (offset, length) => bytes.subarray(offset, offset + length),
  };
}

export function isByteSource(x: Uint8Array | ByteSource): x is ByteSource {
  return !(x instanceof Uint8Array);
}

/**
 * Thrown by a header parser that reads past the end of the prefix it was given while the file
 * goes on: `parseGrowingPrefix` then retries with a longer prefix. Never reaches a caller.
 */
export class PrefixTooShort extends Error {
  constructor() {
    super('prefix too short');
  }
}

/**
 * Parses a header of unknown length at the start of `src`: `parse(prefix)` on the first
 * `initial` bytes, then on prefixes twice as long each time it throws PrefixTooShort, up to the
 * whole file.
 */
export function parseGrowingPrefix<T>(src: ByteSource, initial: number, parse: (prefix: Uint8Array) => T): T {
  let n = Math.min(src.byteLength, initial);
  for (;;) {
    try {
      return parse(src.read(0, n));
    } catch (e) {
      if (!(e instanceof PrefixTooShort) || n >= src.byteLength) throw e;
      n = Math.min(src.byteLength, n * 2);
    }
  }
}
