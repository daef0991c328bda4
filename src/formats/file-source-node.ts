/**
 * A ByteSource over a file on disk (Node): each `read` opens the file, reads the range with
 * positioned reads (at most 1 GiB per call) and closes it, so no descriptor is left open and
 * files far larger than one buffer can be read a tensor at a time.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { fail } from '../tensor/index.js';
import type { ByteSource } from './byte-source.js';

const CHUNK = 1 << 30;

/** `op` names the caller in errors (e.g. 'readGguf'). */
export function fileSource(path: string, op: string): ByteSource {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (e) {
    return fail(op, `cannot read '${path}': ${(e as Error).message}`);
  }
  if (!st.isFile()) fail(op, `'${path}' is not a file`);
  const size = st.size;
  return {
    byteLength: size,
    read(offset: number, length: number): Uint8Array {
      if (offset < 0 || length < 0 || offset + length > size) {
        fail(op, `'${path}': bytes [${offset}, ${offset + length}) are outside the file (${size} bytes)`);
      }
      const out = new Uint8Array(length);
      let fd: number;
      try {
        fd = openSync(path, 'r');
      } catch (e) {
        return fail(op, `cannot read '${path}': ${(e as Error).message}`);
      }
      try {
        for (let done = 0; done < length;) {
          const n = readSync(fd, out, done, Math.min(CHUNK, length - done), offset + done);
          if (n === 0) fail(op, `'${path}' ended at byte ${offset + done}, before the ${size} bytes it had when opened (was it truncated?)`);
          done += n;
        }
      } finally {
        closeSync(fd);
      }
      return out;
    },
  };
}
