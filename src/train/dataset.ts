/**
 * Tokenized datasets on disk (Node): `prepareDataset` streams text files through a tokenizer into
 * flat little-endian token shards (uint16 when the vocabulary fits, else uint32), documents
 * separated by the end-of-text id, split into train and validation by document; `loadDataset`
 * reads a split back as one typed array. This is nanoGPT's `prepare.py` + `np.memmap` layout
 * (train.bin / val.bin), sharded and with a meta.json that says how it was made.
 *
 * Layout of a dataset folder:
 *   meta.json          {format, tokenizer, dtype, vocabSize, eosId, splits: {train: {shards, tokens, documents}, val}}
 *   tokenizer.json     the tokenizer used (when it was a tokenizer.json file)
 *   train-00000.bin    tokens, in order; more shards when one would exceed shardTokens
 *   val-00000.bin
 * The folder is built under a temporary name and renamed when complete, so an interrupted prepare
 * never leaves a dataset that looks finished.
 */
import {
  closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync,
  statSync, writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fail, Generator } from '../tensor/index.js';
import { HfTokenizer, SentencePieceTokenizer, type Tokenizer } from '../tokenizers/index.js';

export const DATASET_FORMAT = 'attn-tokens/1';

/** How a file is cut into documents: the whole file, each line, or paragraphs separated by blank lines. JSONL files (`.jsonl`) are one document per line's `text` field. */
export type DocumentSplit = 'file' | 'line' | 'paragraph';

export interface PrepareOptions {
  tokenizer: Tokenizer;
  /** Path of the tokenizer.json to copy into the dataset, or a tiktoken encoding name to record. */
  tokenizerSource: string;
  inputs: readonly string[];
  out: string;
  /** Fraction of documents held out for validation (default 0.05). */
  valFraction?: number;
  /** Seeds the train/validation assignment (default 0). */
  seed?: number;
  documents?: DocumentSplit;
  /** The id appended after each document; default the tokenizer's `<|endoftext|>` (or `</s>`, `[SEP]`) if it has one. */
  eosId?: number | null;
  /** Tokens per shard file (default 2^26). */
  shardTokens?: number;
  overwrite?: boolean;
  /** Called with (bytes read, total bytes) as input is consumed. */
  onProgress?: (done: number, total: number) => void;
}

export interface SplitInfo {
  shards: string[];
  tokens: number;
  documents: number;
}

export interface DatasetMeta {
  format: typeof DATASET_FORMAT;
  tokenizer: string;
  dtype: 'uint16' | 'uint32';
  vocabSize: number;
  eosId: number | null;
  valFraction: number;
  seed: number;
  documents: DocumentSplit;
  inputs: string[];
  splits: { train: SplitInfo; val: SplitInfo };
}

/**
 * Corpus text is encoded as plain text: special-token strings in it are not an error (tiktoken
 * encodes them as ordinary text) and no post-processor tokens ([CLS], <s>) are added per piece.
 */
export function encodePlain(tok: Tokenizer, text: string): number[] {
  if (tok instanceof HfTokenizer) return tok.encode(text, { addSpecialTokens: false });
  if (tok instanceof SentencePieceTokenizer) return tok.encode(text);
  return tok.encode(text, { disallowedSpecial: [] });
}

/** The tokenizer's end-of-document token, if it has a conventional one. */
export function defaultEosId(tok: Tokenizer): number | null {
  for (const name of ['<|endoftext|>', '</s>', '<eos>', '[SEP]']) {
    const id = tok.specialTokens.get(name);
    if (id !== undefined) return id;
  }
  return null;
}

/** Appends tokens to numbered shard files through a bounded buffer. */
class ShardWriter {
  readonly shards: string[] = [];
  tokens = 0;
  documents = 0;
  private fd = -1;
  private inShard = 0;
  private buf: Uint16Array | Uint32Array;
  private used = 0;

  constructor(private readonly dir: string, private readonly split: string, dtype: 'uint16' | 'uint32', private readonly shardTokens: number) {
    this.buf = dtype === 'uint16' ? new Uint16Array(1 << 16) : new Uint32Array(1 << 16);
  }

  write(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) {
      if (this.used === this.buf.length) this.flush();
      this.buf[this.used++] = ids[i]!;
    }
  }

  private flush(): void {
    let start = 0;
    while (start < this.used) {
      if (this.fd < 0 || this.inShard === this.shardTokens) this.openShard();
      const n = Math.min(this.used - start, this.shardTokens - this.inShard);
      const bytes = new Uint8Array(this.buf.buffer, start * this.buf.BYTES_PER_ELEMENT, n * this.buf.BYTES_PER_ELEMENT);
      let written = 0;
      while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written);
      this.inShard += n;
      this.tokens += n;
      start += n;
    }
    this.used = 0;
  }

  private openShard(): void {
    this.closeShard();
    const name = `${this.split}-${String(this.shards.length).padStart(5, '0')}.bin`;
    this.shards.push(name);
    this.fd = openSync(join(this.dir, name), 'wx');
    this.inShard = 0;
  }

  private closeShard(): void {
    if (this.fd >= 0) {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  close(): SplitInfo {
    this.flush();
    this.closeShard();
    return { shards: this.shards, tokens: this.tokens, documents: this.documents };
  }
}

/**
 * Reads a text file in chunks and yields pieces that end where cutting cannot change a regex
 * pre-tokenizer's split (lastSafeCut). A file with no such place is yielded whole at the end.
 * (SentencePiece-style tokenizers that add a dummy prefix per piece see a boundary there; use
 * documents 'line' or 'paragraph' with them.)
 */
function* textChunks(path: string, onBytes: (n: number) => void, chunkBytes = 1 << 20): IterableIterator<string> {
  const fd = openSync(path, 'r');
  const decoder = new StringDecoder('utf8');
  const buf = Buffer.alloc(chunkBytes);
  let pending = '';
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, chunkBytes, null);
      if (n === 0) break;
      onBytes(n);
      pending += decoder.write(buf.subarray(0, n));
      const cut = lastSafeCut(pending);
      if (cut > 0) {
        yield pending.slice(0, cut);
        pending = pending.slice(cut);
      }
    }
    pending += decoder.end();
    if (pending) yield pending;
  } finally {
    closeSync(fd);
  }
}

/**
 * The last place after a newline with non-space characters on both sides ("word.\nThe"): regex
 * pre-tokenizers (GPT-2's, cl100k's, o200k's) put that newline in a pre-token of its own or at the
 * end of the punctuation before it, never with the word after it, so encoding the two sides
 * separately gives the same ids. (A run of whitespace would not be safe: GPT-2's `\s+(?!\S)`
 * splits "\n\nThe" as "\n", "\n" but a piece ending in "\n\n" as one token.)
 */
function lastSafeCut(s: string): number {
  for (let i = s.length - 2; i >= 1; i--) if (s[i] === '\n' && !/\s/.test(s[i - 1]!) && !/\s/.test(s[i + 1]!)) return i + 1;
  return 0;
}

/** The documents of one input file, as a stream of text pieces per document. */
function* documentsOf(path: string, mode: DocumentSplit, onBytes: (n: number) => void): IterableIterator<IterableIterator<string>> {
  if (path.endsWith('.jsonl')) {
    let lineNo = 0;
    for (const line of lines(path, onBytes)) {
      lineNo++;
      if (line.trim() === '') continue;
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch {
        fail('prepareDataset', `${path}:${lineNo}: not valid JSON`);
      }
      const text = (rec as { text?: unknown } | null)?.text;
      if (typeof text !== 'string') fail('prepareDataset', `${path}:${lineNo}: expected an object with a string "text" field`);
      yield [text][Symbol.iterator]();
    }
    return;
  }
  if (mode === 'file') {
    yield textChunks(path, onBytes);
    return;
  }
  if (mode === 'line') {
    for (const line of lines(path, onBytes)) if (line.trim() !== '') yield [line][Symbol.iterator]();
    return;
  }
  let para: string[] = [];
  for (const line of lines(path, onBytes)) {
    if (line.trim() === '') {
      if (para.length) yield [para.join('\n')][Symbol.iterator]();
      para = [];
    } else para.push(line);
  }
  if (para.length) yield [para.join('\n')][Symbol.iterator]();
}

/** Lines of a file without their line ends, read in chunks. */
export function* lines(path: string, onBytes: (n: number) => void): IterableIterator<string> {
  let rest = '';
  for (const chunk of textChunksRaw(path, onBytes)) {
    rest += chunk;
    const parts = rest.split(/\r?\n/);
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest !== '') yield rest;
}

function* textChunksRaw(path: string, onBytes: (n: number) => void, chunkBytes = 1 << 20): IterableIterator<string> {
  const fd = openSync(path, 'r');
  const decoder = new StringDecoder('utf8');
  const buf = Buffer.alloc(chunkBytes);
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, chunkBytes, null);
      if (n === 0) break;
      onBytes(n);
      yield decoder.write(buf.subarray(0, n));
    }
    const end = decoder.end();
    if (end) yield end;
  } finally {
    closeSync(fd);
  }
}

/**
 * Tokenizes `inputs` into a dataset folder at `out` (see the file comment). Memory stays bounded by
 * the read chunk and the shard buffer, whatever the corpus size. Each document goes, as a whole, to
 * validation with probability valFraction (a seeded draw per document, so the split is the same on
 * every run and spread over the corpus).
 */
export function prepareDataset(o: PrepareOptions): DatasetMeta {
  const what = 'prepareDataset';
  const valFraction = o.valFraction ?? 0.05;
  const seed = o.seed ?? 0;
  const mode = o.documents ?? 'file';
  const shardTokens = o.shardTokens ?? 1 << 26;
  if (!(valFraction >= 0 && valFraction < 1)) fail(what, `valFraction must be in [0, 1), got ${valFraction}`);
  if (!(Number.isInteger(shardTokens) && shardTokens > 0)) fail(what, `shardTokens must be a positive integer, got ${shardTokens}`);
  if (!['file', 'line', 'paragraph'].includes(mode)) fail(what, `documents must be file, line or paragraph, got '${mode}'`);
  if (o.inputs.length === 0) fail(what, 'no input files');
  let total = 0;
  for (const f of o.inputs) {
    if (!existsSync(f) || !statSync(f).isFile()) fail(what, `input '${f}' is not a readable file`);
    total += statSync(f).size;
  }
  const eosId = o.eosId === undefined ? defaultEosId(o.tokenizer) : o.eosId;
  const dtype = o.tokenizer.vocabSize <= 65536 ? 'uint16' : 'uint32';

  return buildFolderAtomically(o.out, o.overwrite ?? false, what, (tmp) => {
    const train = new ShardWriter(tmp, 'train', dtype, shardTokens);
    const val = new ShardWriter(tmp, 'val', dtype, shardTokens);
    const assign = new Generator(seed);
    let done = 0;
    const onBytes = (n: number): void => {
      done += n;
      o.onProgress?.(done, total);
    };
    for (const file of o.inputs) {
      for (const doc of documentsOf(file, mode, onBytes)) {
        const w = assign.random() < valFraction ? val : train;
        for (const piece of doc) w.write(encodePlain(o.tokenizer, piece));
        if (eosId !== null) w.write([eosId]);
        w.documents++;
      }
    }
    const meta: DatasetMeta = {
      format: DATASET_FORMAT,
      tokenizer: existsSync(o.tokenizerSource) ? 'tokenizer.json' : o.tokenizerSource,
      dtype,
      vocabSize: o.tokenizer.vocabSize,
      eosId,
      valFraction,
      seed,
      documents: mode,
      inputs: o.inputs.map((f) => basename(f)),
      splits: { train: train.close(), val: val.close() },
    };
    if (meta.splits.train.tokens === 0) fail(what, 'the training split is empty (no text, or every document went to validation)');
    if (valFraction > 0 && meta.splits.val.tokens === 0) {
      fail(what, `no document went to validation (${meta.splits.train.documents} documents with valFraction ${valFraction}); use more files or documents 'paragraph'/'line'`);
    }
    if (existsSync(o.tokenizerSource)) copyFileSync(o.tokenizerSource, join(tmp, 'tokenizer.json'));
    writeFileDurable(join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    return meta;
  });
}

/** Writes a new file and fsyncs it (inside a folder that buildFolderAtomically renames into place). */
export function writeFileDurable(path: string, text: string): void {
  const fd = openSync(path, 'wx');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Builds a dataset folder under a temporary name next to `out` and renames it into place only
 * when `fill` returns, so an interrupted or failed prepare never leaves a folder that looks
 * finished (and never damages an existing one until the new one is complete).
 */
export function buildFolderAtomically<T>(out: string, overwrite: boolean, what: string, fill: (tmp: string) => T): T {
  const target = resolve(out);
  if (existsSync(target) && readdirSync(target).length > 0 && !overwrite) fail(what, `${out} exists and is not empty (pass overwrite to replace it)`);
  if (!existsSync(dirname(target))) fail(what, `${dirname(target)}: no such folder`);
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    const result = fill(tmp);
    if (existsSync(target)) rmSync(target, { recursive: true, force: true });
    renameSync(tmp, target);
    return result;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

export function readDatasetMeta(dir: string): DatasetMeta {
  const path = join(dir, 'meta.json');
  if (!existsSync(path)) fail('loadDataset', `${dir}: no meta.json (is it a folder written by 'attn data prepare'?)`);
  const meta = JSON.parse(readFileSync(path, 'utf8')) as DatasetMeta;
  if (meta.format !== DATASET_FORMAT) fail('loadDataset', `${path}: format ${JSON.stringify(meta.format)} is not ${DATASET_FORMAT}`);
  return meta;
}

/** One split's tokens, all shards concatenated in order. */
export function loadDataset(dir: string, split: 'train' | 'val'): { meta: DatasetMeta; tokens: Uint16Array | Uint32Array } {
  const meta = readDatasetMeta(dir);
  const info = meta.splits[split];
  const Ctor = meta.dtype === 'uint16' ? Uint16Array : Uint32Array;
  const tokens = new Ctor(info.tokens);
  let at = 0;
  for (const shard of info.shards) {
    const bytes = readFileSync(join(dir, shard));
    if (bytes.length % Ctor.BYTES_PER_ELEMENT !== 0) fail('loadDataset', `${shard}: ${bytes.length} bytes is not a whole number of ${meta.dtype} tokens`);
    const n = bytes.length / Ctor.BYTES_PER_ELEMENT;
    if (at + n > info.tokens) fail('loadDataset', `${shard}: more tokens than meta.json's ${info.tokens} for ${split}`);
    new Uint8Array(tokens.buffer, at * Ctor.BYTES_PER_ELEMENT, bytes.length).set(bytes);
    at += n;
  }
  if (at !== info.tokens) fail('loadDataset', `${dir}: ${split} shards hold ${at} tokens, meta.json says ${info.tokens}`);
  for (let i = 0; i < tokens.length; i++) if (tokens[i]! >= meta.vocabSize) fail('loadDataset', `${split} token ${i} is ${tokens[i]}, outside the vocabulary of ${meta.vocabSize}`);
  return { meta, tokens };
}
