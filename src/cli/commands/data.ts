import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { TIKTOKEN_ENCODINGS, isTiktokenEncodingName, loadTiktoken } from '../../tokenizers/tiktoken-node.js';
import { loadTokenizerJson } from '../../tokenizers/tokenizer-json-node.js';
import type { Tokenizer } from '../../tokenizers/index.js';
import { prepareDataset, type DocumentSplit } from '../../train/dataset.js';
import { prepareExamples, type ExampleTask } from '../../train/example-dataset.js';
import { ProgressBar } from '../progress.js';
import { intOption, numberOption, UsageError, type Command } from '../command.js';

function tokenizerFor(name: string): Tokenizer {
  if (isTiktokenEncodingName(name)) return loadTiktoken(name);
  if (name.endsWith('.json')) {
    if (!existsSync(name)) throw new UsageError(`--tokenizer: no such file '${name}'`);
    return loadTokenizerJson(name);
  }
  throw new UsageError(`--tokenizer: '${name}' is neither a tiktoken encoding (${TIKTOKEN_ENCODINGS.join(', ')}) nor a tokenizer.json path`);
}

export const data: Command = {
  name: 'data',
  summary: 'tokenize a corpus (or seq2seq / classification examples) with a train/validation split (attn data prepare)',
  usage: `attn data prepare --tokenizer T --input FILE [--input FILE ...] --out DIR
                  [--format tokens|seq2seq|classification] [--val-fraction F] [--seed S]
                  [--documents file|line|paragraph] [--shard-tokens N] [--labels A,B,...]
                  [--overwrite] [--json]

Streams the input files through the tokenizer (bounded memory) into DIR:
meta.json, tokenizer.json (a copy, when T is a file), train-00000.bin, val-00000.bin, ...
Tokens are little-endian uint16 (uint32 when the vocabulary exceeds 65536), each document followed
by the end-of-text token (<|endoftext|>, </s> or [SEP] when the tokenizer has one). Whole documents
go to validation with probability F, drawn with a seeded generator.

--format seq2seq | classification prepares examples for those objectives instead: .jsonl files with
one {"source": ..., "target": ...} (or {"text": ..., "label": ...}) object per line, or .tsv files
with those two tab-separated columns (an optional header row naming them). DIR then holds
meta.json, train/val .tokens.bin (ids), .lengths.bin (uint32 per example) and, for classification,
.labels.bin (uint32 ids) and labels.json (the label names in id order: first appearance, or
--labels). seq2seq sources and targets get the end-of-sequence token appended; classification
texts get the tokenizer's own special tokens ([CLS] ... [SEP]). A malformed row (bad JSON, a
missing, unknown or non-string field, an empty text, a wrong column count) is an error naming
the file and line. Examples go to validation with probability F (default 0.1).

Options:
  --tokenizer T       tokenizer.json path or a tiktoken encoding (${TIKTOKEN_ENCODINGS.join(', ')})
  --input FILE        text file (repeatable); .jsonl files hold one {"text": ...} document per line
  --out DIR           output folder (written under a temporary name, renamed when complete)
  --format F          tokens (default: a token stream for causal-lm / mlm), seq2seq or classification
  --val-fraction F    fraction of documents (examples) held out for validation (default 0.05; 0.1 for examples)
  --labels A,B,...    classification: the label names in id order (a row with another label is an error)
  --documents MODE    what a document is in a text file: the whole file (default), each line,
                      or each paragraph (blocks separated by blank lines)
  --seed S            seed of the train/validation assignment (default 0)
  --shard-tokens N    tokens per shard file (default 67108864)
  --overwrite         replace DIR if it exists
  --json              print meta.json instead of a summary`,
  run(argv) {
    const [sub, ...rest] = argv;
    if (sub !== 'prepare') throw new UsageError(sub === undefined ? "expected a subcommand: 'prepare'" : `unknown subcommand '${sub}' (expected 'prepare')`);
    const { values } = parseArgs({
      args: rest,
      options: {
        tokenizer: { type: 'string' }, input: { type: 'string', multiple: true }, out: { type: 'string' },
        'val-fraction': { type: 'string' }, documents: { type: 'string' }, seed: { type: 'string' },
        'shard-tokens': { type: 'string' }, overwrite: { type: 'boolean' }, json: { type: 'boolean' },
        format: { type: 'string' }, labels: { type: 'string' },
      },
      strict: true,
    });
    if (!values.tokenizer) throw new UsageError('--tokenizer T is required');
    if (!values.input?.length) throw new UsageError('--input FILE is required');
    if (!values.out) throw new UsageError('--out DIR is required');
    const format = values.format ?? 'tokens';
    if (!['tokens', 'seq2seq', 'classification'].includes(format)) throw new UsageError(`--format: expected tokens, seq2seq or classification, got '${format}'`);
    if (values.labels !== undefined && format !== 'classification') throw new UsageError('--labels is for --format classification');
    if (format !== 'tokens') {
      if (values.documents !== undefined || values['shard-tokens'] !== undefined) throw new UsageError(`--documents and --shard-tokens are for --format tokens, not ${format}`);
      const tokenizer = tokenizerFor(values.tokenizer);
      const bar = values.json ? null : new ProgressBar(100, 'tokenizing');
      const meta = prepareExamples({
        task: format as ExampleTask,
        tokenizer,
        tokenizerSource: values.tokenizer,
        inputs: values.input,
        out: values.out,
        valFraction: numberOption('val-fraction', values['val-fraction'], 0.1),
        seed: intOption('seed', values.seed, 0, 0),
        ...(values.labels !== undefined ? { labels: values.labels.split(',').map((l) => l.trim()) } : {}),
        overwrite: values.overwrite ?? false,
        onProgress: megabyteProgress(bar),
      });
      bar?.done();
      if (values.json) {
        console.log(JSON.stringify(meta));
        return;
      }
      const { train, val } = meta.splits;
      console.log(`${values.out}: ${train.examples} train examples (${train.tokens} tokens), ${val.examples} validation examples (${val.tokens} tokens); ` +
        `${meta.task}${meta.numLabels ? `, ${meta.numLabels} labels` : ''}, ${meta.dtype}, vocabulary ${meta.vocabSize}, pad ${meta.padId}, eos ${meta.eosId ?? 'none'}`);
      return;
    }
    const documents = values.documents ?? 'file';
    if (!['file', 'line', 'paragraph'].includes(documents)) throw new UsageError(`--documents: expected file, line or paragraph, got '${documents}'`);
    const tokenizer = tokenizerFor(values.tokenizer);
    const bar = values.json ? null : new ProgressBar(100, 'tokenizing');
    const meta = prepareDataset({
      tokenizer,
      tokenizerSource: values.tokenizer,
      inputs: values.input,
      out: values.out,
      valFraction: numberOption('val-fraction', values['val-fraction'], 0.05),
      seed: intOption('seed', values.seed, 0, 0),
      documents: documents as DocumentSplit,
      shardTokens: intOption('shard-tokens', values['shard-tokens'], 1 << 26, 1),
      overwrite: values.overwrite ?? false,
      onProgress: megabyteProgress(bar),
    });
    bar?.done();
    if (values.json) {
      console.log(JSON.stringify(meta));
      return;
    }
    const { train, val } = meta.splits;
    console.log(`${values.out}: ${train.tokens} train tokens (${train.documents} documents, ${train.shards.length} shard${train.shards.length === 1 ? '' : 's'}), ` +
      `${val.tokens} validation tokens (${val.documents} documents); ${meta.dtype}, vocabulary ${meta.vocabSize}, eos ${meta.eosId ?? 'none'}`);
  },
};

/** Progress callback (bytes done, bytes in all) for a percentage bar labelled in MB. */
function megabyteProgress(bar: ProgressBar | null): (done: number, total: number) => void {
  return (done, total) => bar?.update(Math.round((100 * done) / Math.max(total, 1)), `${(done / 1e6).toFixed(1)}/${(total / 1e6).toFixed(1)} MB`);
}
