/**
 * Example datasets on disk (Node) for the objectives that train on pairs or labelled texts rather
 * than a token stream: seq2seq ({"source", "target"}) and sequence classification ({"text",
 * "label"}). `prepareExamples` streams JSONL or TSV files through a tokenizer into flat token
 * files plus per-example lengths (and label ids), with a seeded per-example train/validation
 * split; `loadExamples` reads a split back as examples for batches.ts. The role of datasets'
 * `map(tokenize)` + `train_test_split` in a transformers fine-tuning script, streamed and on disk.
 *
 * Layout of an example dataset folder:
 *   meta.json            {format: 'attn-examples/1', task, tokenizer, dtype, vocabSize, padId, eosId,
 *                         decoderStartId, numLabels, splits: {train: {examples, tokens}, val}}
 *   labels.json          classification: {"labels": [name of id 0, name of id 1, ...]}
 *   tokenizer.json       the tokenizer used (when it was a tokenizer.json file)
 *   train.tokens.bin     every example's ids, concatenated (seq2seq: source then target), uint16/uint32
 *   train.lengths.bin    uint32 per example: [source, target] lengths (seq2seq) or [text] (classification)
 *   train.labels.bin     classification: uint32 label id per example
 *   val.*                the same for the validation split
 * Built under a temporary name and renamed when complete (buildFolderAtomically).
 *
 * Tokenization: seq2seq source and target are encoded as plain text with the end-of-sequence id
 * appended to each (T5's "</s>"), so a decoder learns where to stop; the decoder starts from the
 * pad id (T5's decoder_start_token_id). Classification texts are encoded with the tokenizer's
 * own special tokens ([CLS] ... [SEP] for a BERT tokenizer.json) as transformers does.
 */
import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fail, Generator } from '../tensor/index.js';
import { HfTokenizer, type Tokenizer } from '../tokenizers/index.js';
import type { ClassificationExample, Seq2SeqExample } from './batches.js';
import { buildFolderAtomically, defaultEosId, encodePlain, lines, writeFileDurable } from './dataset.js';

export const EXAMPLES_FORMAT = 'attn-examples/1';

export type ExampleTask = 'seq2seq' | 'classification';

/** The two fields of a row of each task, in TSV column order. */
export const TASK_FIELDS: Record<ExampleTask, readonly [string, string]> = {
  seq2seq: ['source', 'target'],
  classification: ['text', 'label'],
};

export interface PrepareExamplesOptions {
  task: ExampleTask;
  tokenizer: Tokenizer;
  /** Path of the tokenizer.json to copy into the dataset, or a tiktoken encoding name to record. */
  tokenizerSource: string;
  /** .jsonl (one object per line) or .tsv (two tab-separated columns; an optional header row naming them) files. */
  inputs: readonly string[];
  out: string;
  /** Fraction of examples held out for validation (default 0.1). */
  valFraction?: number;
  seed?: number;
  /** Classification: the label names in id order; a row with another label is an error. Default: ids in order of first appearance. */
  labels?: readonly string[];
  overwrite?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface ExampleSplitInfo {
  examples: number;
  tokens: number;
}

export interface ExamplesMeta {
  format: typeof EXAMPLES_FORMAT;
  task: ExampleTask;
  tokenizer: string;
  dtype: 'uint16' | 'uint32';
  vocabSize: number;
  padId: number;
  eosId: number | null;
  /** seq2seq: the first decoder input (the pad id, as T5); null for classification. */
  decoderStartId: number | null;
  /** classification: the number of labels (labels.json holds their names); 0 for seq2seq. */
  numLabels: number;
  valFraction: number;
  seed: number;
  inputs: string[];
  splits: { train: ExampleSplitInfo; val: ExampleSplitInfo };
}

/** The tokenizer's padding token, else its end-of-text token, else 0. */
export function defaultPadId(tok: Tokenizer): number {
  for (const name of ['[PAD]', '<pad>', '<|padding|>', '<|pad|>']) {
    const id = tok.specialTokens.get(name);
    if (id !== undefined) return id;
  }
  return defaultEosId(tok) ?? 0;
}

/** Appends numbers of one typed-array type to a file through a bounded buffer. */
class ArrayFileWriter {
  private readonly fd: number;
  private used = 0;
  count = 0;

  constructor(path: string, private readonly buf: Uint16Array | Uint32Array) {
    this.fd = openSync(path, 'wx');
  }

  write(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) {
      if (this.used === this.buf.length) this.flush();
      this.buf[this.used++] = values[i]!;
    }
    this.count += values.length;
  }

  private flush(): void {
    const bytes = new Uint8Array(this.buf.buffer, 0, this.used * this.buf.BYTES_PER_ELEMENT);
    let written = 0;
    while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written);
    this.used = 0;
  }

  close(): void {
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}

class SplitWriter {
  readonly tokens: ArrayFileWriter;
  readonly lengths: ArrayFileWriter;
  readonly labels: ArrayFileWriter | null;
  examples = 0;

  constructor(dir: string, split: string, dtype: 'uint16' | 'uint32', withLabels: boolean) {
    this.tokens = new ArrayFileWriter(join(dir, `${split}.tokens.bin`), dtype === 'uint16' ? new Uint16Array(1 << 16) : new Uint32Array(1 << 16));
    this.lengths = new ArrayFileWriter(join(dir, `${split}.lengths.bin`), new Uint32Array(1 << 14));
    this.labels = withLabels ? new ArrayFileWriter(join(dir, `${split}.labels.bin`), new Uint32Array(1 << 14)) : null;
  }

  close(): ExampleSplitInfo {
    this.tokens.close();
    this.lengths.close();
    this.labels?.close();
    return { examples: this.examples, tokens: this.tokens.count };
  }
}

/** One row's two fields as strings, or an error naming the file, the line and what is wrong. */
function* rowsOf(path: string, task: ExampleTask, onBytes: (n: number) => void): IterableIterator<{ a: string; b: string; where: string }> {
  const [fa, fb] = TASK_FIELDS[task];
  const what = 'prepareExamples';
  const jsonl = path.endsWith('.jsonl');
  let lineNo = 0;
  for (const line of lines(path, onBytes)) {
    lineNo++;
    const where = `${path}:${lineNo}`;
    if (line.trim() === '') continue;
    let a: unknown;
    let b: unknown;
    if (jsonl) {
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch (e) {
        return fail(what, `${where}: not valid JSON (${(e as Error).message})`);
      }
      if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) fail(what, `${where}: expected a JSON object with "${fa}" and "${fb}", got ${Array.isArray(rec) ? 'an array' : JSON.stringify(rec)}`);
      const obj = rec as Record<string, unknown>;
      const unknown = Object.keys(obj).filter((k) => k !== fa && k !== fb);
      if (unknown.length) fail(what, `${where}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (a ${task} row has "${fa}" and "${fb}")`);
      for (const f of [fa, fb]) if (!(f in obj)) fail(what, `${where}: missing field "${f}" (a ${task} row has "${fa}" and "${fb}")`);
      a = obj[fa];
      b = obj[fb];
      if (task === 'classification' && Number.isInteger(b)) b = String(b);
    } else {
      const cols = line.split('\t');
      if (cols.length !== 2) fail(what, `${where}: expected 2 tab-separated columns (${fa}, ${fb}), got ${cols.length}`);
      if (lineNo === 1 && cols[0] === fa && cols[1] === fb) continue; // a header row
      [a, b] = cols;
    }
    if (typeof a !== 'string') fail(what, `${where}: "${fa}" must be a string, got ${JSON.stringify(a)}`);
    if (typeof b !== 'string') fail(what, `${where}: "${fb}" must be a string${task === 'classification' ? ' or an integer' : ''}, got ${JSON.stringify(b)}`);
    if (a.trim() === '') fail(what, `${where}: empty "${fa}"`);
    if (b.trim() === '') fail(what, `${where}: empty "${fb}"`);
    yield { a, b, where };
  }
}

/**
 * Tokenizes example files into an example dataset folder at `out` (see the file comment). Memory
 * stays bounded by the read chunk and the write buffers (plus the label names), whatever the size.
 */
export function prepareExamples(o: PrepareExamplesOptions): ExamplesMeta {
  const what = 'prepareExamples';
  const valFraction = o.valFraction ?? 0.1;
  const seed = o.seed ?? 0;
  if (o.task !== 'seq2seq' && o.task !== 'classification') fail(what, `task must be seq2seq or classification, got '${String(o.task)}'`);
  if (!(valFraction >= 0 && valFraction < 1)) fail(what, `valFraction must be in [0, 1), got ${valFraction}`);
  if (o.inputs.length === 0) fail(what, 'no input files');
  let total = 0;
  for (const f of o.inputs) {
    if (!existsSync(f) || !statSync(f).isFile()) fail(what, `input '${f}' is not a readable file`);
    if (!f.endsWith('.jsonl') && !f.endsWith('.tsv')) fail(what, `input '${f}': expected a .jsonl or .tsv file of ${TASK_FIELDS[o.task].join('/')} rows`);
    total += statSync(f).size;
  }
  if (o.task === 'seq2seq' && o.labels) fail(what, 'labels are for classification, not seq2seq');
  const fixedLabels = o.labels ? [...o.labels] : null;
  if (fixedLabels) {
    if (fixedLabels.length < 2) fail(what, `labels: a classifier needs at least 2, got ${fixedLabels.length}`);
    const dup = fixedLabels.find((l, i) => fixedLabels.indexOf(l) !== i);
    if (dup !== undefined) fail(what, `labels: '${dup}' is listed twice`);
  }
  const eosId = defaultEosId(o.tokenizer);
  const padId = defaultPadId(o.tokenizer);
  const dtype = o.tokenizer.vocabSize <= 65536 ? 'uint16' : 'uint32';
  const classify = o.task === 'classification';
  const encodeText = (text: string): number[] => (classify && o.tokenizer instanceof HfTokenizer ? o.tokenizer.encode(text) : encodePlain(o.tokenizer, text));

  return buildFolderAtomically(o.out, o.overwrite ?? false, what, (tmp) => {
    const train = new SplitWriter(tmp, 'train', dtype, classify);
    const val = new SplitWriter(tmp, 'val', dtype, classify);
    const assign = new Generator(seed);
    const labelIds = new Map<string, number>((fixedLabels ?? []).map((l, i) => [l, i]));
    let done = 0;
    const onBytes = (n: number): void => {
      done += n;
      o.onProgress?.(done, total);
    };
    for (const file of o.inputs) {
      for (const { a, b, where } of rowsOf(file, o.task, onBytes)) {
        const w = assign.random() < valFraction ? val : train;
        const first = encodeText(a);
        if (first.length === 0) fail(what, `${where}: "${TASK_FIELDS[o.task][0]}" encodes to no tokens`);
        if (classify) {
          let id = labelIds.get(b);
          if (id === undefined) {
            if (fixedLabels) fail(what, `${where}: label '${b}' is not one of the given labels (${fixedLabels.join(', ')})`);
            id = labelIds.size;
            labelIds.set(b, id);
          }
          w.tokens.write(first);
          w.lengths.write([first.length]);
          w.labels!.write([id]);
        } else {
          const target = encodePlain(o.tokenizer, b);
          if (target.length === 0) fail(what, `${where}: "target" encodes to no tokens`);
          if (eosId !== null) {
            first.push(eosId);
            target.push(eosId);
          }
          w.tokens.write(first);
          w.tokens.write(target);
          w.lengths.write([first.length, target.length]);
        }
        w.examples++;
      }
    }
    const meta: ExamplesMeta = {
      format: EXAMPLES_FORMAT,
      task: o.task,
      tokenizer: existsSync(o.tokenizerSource) ? 'tokenizer.json' : o.tokenizerSource,
      dtype,
      vocabSize: o.tokenizer.vocabSize,
      padId,
      eosId,
      decoderStartId: classify ? null : padId,
      numLabels: classify ? labelIds.size : 0,
      valFraction,
      seed,
      inputs: o.inputs.map((f) => basename(f)),
      splits: { train: train.close(), val: val.close() },
    };
    if (meta.splits.train.examples === 0) fail(what, `the training split is empty (no rows in ${o.inputs.join(', ')}, or every row went to validation)`);
    if (valFraction > 0 && meta.splits.val.examples === 0) fail(what, `no example went to validation (${meta.splits.train.examples} examples with valFraction ${valFraction}); use more examples or a larger valFraction`);
    if (classify && labelIds.size < 2) fail(what, `only one label ('${[...labelIds.keys()][0]}') in the data: a classifier needs at least 2`);
    if (classify) writeFileDurable(join(tmp, 'labels.json'), `${JSON.stringify({ labels: [...labelIds.keys()] }, null, 2)}\n`);
    if (existsSync(o.tokenizerSource)) copyFileSync(o.tokenizerSource, join(tmp, 'tokenizer.json'));
    writeFileDurable(join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    return meta;
  });
}

/** meta.json of a folder, if it is an example dataset (null for a token dataset); errors if there is none. */
export function readExamplesMeta(dir: string): ExamplesMeta | null {
  const path = join(dir, 'meta.json');
  if (!existsSync(path)) fail('loadExamples', `${dir}: no meta.json (is it a folder written by 'attn data prepare'?)`);
  const meta = JSON.parse(readFileSync(path, 'utf8')) as { format?: unknown };
  return meta.format === EXAMPLES_FORMAT ? (meta as ExamplesMeta) : null;
}

/** The label names of a classification dataset, in id order. */
export function readLabels(dir: string): string[] {
  const path = join(dir, 'labels.json');
  if (!existsSync(path)) fail('loadExamples', `${dir}: no labels.json`);
  return (JSON.parse(readFileSync(path, 'utf8')) as { labels: string[] }).labels;
}

function readArray(path: string, Ctor: typeof Uint16Array | typeof Uint32Array): Uint16Array | Uint32Array {
  if (!existsSync(path)) fail('loadExamples', `${path}: missing`);
  const bytes = readFileSync(path);
  if (bytes.length % Ctor.BYTES_PER_ELEMENT !== 0) fail('loadExamples', `${path}: ${bytes.length} bytes is not a whole number of ${Ctor.BYTES_PER_ELEMENT}-byte values`);
  const out = new Ctor(new ArrayBuffer(bytes.length));
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export type LoadedExamples =
  | { meta: ExamplesMeta; task: 'seq2seq'; examples: Seq2SeqExample[] }
  | { meta: ExamplesMeta; task: 'classification'; examples: ClassificationExample[]; labels: string[] };

/** One split of an example dataset, checked against meta.json (counts, vocabulary, label range). */
export function loadExamples(dir: string, split: 'train' | 'val'): LoadedExamples {
  const what = 'loadExamples';
  const meta = readExamplesMeta(dir);
  if (!meta) return fail(what, `${dir} is a token dataset (for causal-lm and mlm), not an example dataset (seq2seq, classification)`);
  const info = meta.splits[split];
  const tokens = readArray(join(dir, `${split}.tokens.bin`), meta.dtype === 'uint16' ? Uint16Array : Uint32Array);
  const lengths = readArray(join(dir, `${split}.lengths.bin`), Uint32Array);
  const perExample = meta.task === 'seq2seq' ? 2 : 1;
  if (tokens.length !== info.tokens) fail(what, `${dir}: ${split}.tokens.bin holds ${tokens.length} tokens, meta.json says ${info.tokens}`);
  if (lengths.length !== info.examples * perExample) fail(what, `${dir}: ${split}.lengths.bin holds ${lengths.length} lengths, expected ${info.examples * perExample}`);
  for (let i = 0; i < tokens.length; i++) if (tokens[i]! >= meta.vocabSize) fail(what, `${split} token ${i} is ${tokens[i]}, outside the vocabulary of ${meta.vocabSize}`);
  let sum = 0;
  for (const l of lengths) sum += l;
  if (sum !== tokens.length) fail(what, `${dir}: ${split} lengths add up to ${sum}, not the ${tokens.length} tokens`);
  if (meta.task === 'seq2seq') {
    const examples: Seq2SeqExample[] = [];
    let at = 0;
    for (let i = 0; i < info.examples; i++) {
      const s = lengths[2 * i]!;
      const t = lengths[2 * i + 1]!;
      examples.push({ source: tokens.subarray(at, at + s), target: tokens.subarray(at + s, at + s + t) });
      at += s + t;
    }
    return { meta, task: 'seq2seq', examples };
  }
  const labelIds = readArray(join(dir, `${split}.labels.bin`), Uint32Array);
  if (labelIds.length !== info.examples) fail(what, `${dir}: ${split}.labels.bin holds ${labelIds.length} labels for ${info.examples} examples`);
  const labels = readLabels(dir);
  if (labels.length !== meta.numLabels) fail(what, `${dir}: labels.json has ${labels.length} labels, meta.json says ${meta.numLabels}`);
  const examples: ClassificationExample[] = [];
  let at = 0;
  for (let i = 0; i < info.examples; i++) {
    const l = lengths[i]!;
    if (labelIds[i]! >= meta.numLabels) fail(what, `${split} example ${i} has label id ${labelIds[i]}, outside the ${meta.numLabels} labels`);
    examples.push({ ids: tokens.subarray(at, at + l), label: labelIds[i]! });
    at += l;
  }
  return { meta, task: 'classification', examples, labels };
}
