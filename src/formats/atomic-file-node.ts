/** Atomic file writes (Node): temporary file beside the target, fsync, rename; a crash never leaves a half-written file under the final name. */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let tmpCounter = 0;

/** Writes `bytes` to `path` through `.<name>.<pid>.<n>.tmp`; returns the number of bytes written. */
export function writeFileAtomic(path: string, bytes: Uint8Array): number {
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
