/**
 * Reads training files in fixed-size chunks into a `WordCounts` table: memory holds one chunk and
 * the table, never a whole file, so 100 MB or 100 GB inputs train alike. Bytes are decoded as
 * UTF-8 with invalid sequences replaced by U+FFFD (what `readFileSync(f, 'utf8')` does), the
 * decoder carrying partial characters across chunk boundaries.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { TokenizerError } from './errors.js';
import type { WordCounts } from './word-counts.js';

export interface ReadProgress {
  /** Bytes read so far, over all files, and their total size. */
  done: number;
  total: number;
  file: string;
}

/** Bytes of each file, checking that each can be opened (so a typo fails before hours of work). */
export function inputSizes(files: readonly string[]): number[] {
  return files.map((f) => {
    let fd: number;
    try {
      fd = openSync(f, 'r');
    } catch (e) {
      throw new TokenizerError('input', `cannot read '${f}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw new TokenizerError('input', `'${f}' is a directory, not a text file`);
      return st.size;
    } finally {
      closeSync(fd);
    }
  });
}

/** Calls `onText` with the decoded text of `file`, chunk by chunk (`chunkBytes` at a time). */
export function readTextChunks(file: string, onText: (text: string, bytes: number) => void, chunkBytes = 1 << 20): void {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
    for (;;) {
      const n = readSync(fd, buf, 0, chunkBytes, null);
      if (n === 0) break;
      onText(decoder.decode(buf.subarray(0, n), { stream: true }), n);
    }
    const rest = decoder.decode();
    if (rest !== '') onText(rest, 0);
  } finally {
    closeSync(fd);
  }
}

/** Streams every file into `counts` (each file one stream: `end()` after it). */
export function countFiles(files: readonly string[], counts: WordCounts, options: { onProgress?: (p: ReadProgress) => void; chunkBytes?: number } = {}): void {
  const sizes = inputSizes(files);
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  files.forEach((file) => {
    readTextChunks(
      file,
      (text, bytes) => {
        counts.push(text);
        done += bytes;
        options.onProgress?.({ done, total, file });
      },
      options.chunkBytes,
    );
    counts.end();
  });
}
