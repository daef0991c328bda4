/** Atomic file writes (Node): temporary file beside the target, fsync, rename; a crash never leaves a half-written file under the final name. */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let tmpCounter = 0;

/**
 * Writes `data` (one buffer, or pieces written one after another, so that the file need never be
 * whole in memory) to `path` through `.<name>.<pid>.<n>.tmp`; returns the number of bytes written.
 */
export function writeFileAtomic(path: string, data: Uint8Array | Iterable<Uint8Array>): number {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${tmpCounter++}.tmp`);
  const fd = openSync(tmp, 'w');
  let total = 0;
  try {
    for (const bytes of data instanceof Uint8Array ? [data] : data) {
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      total += written;
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  return total;
}
