import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { TIKTOKEN_ENCODINGS, isTiktokenEncodingName, loadTiktoken } from '../../tokenizers/tiktoken-node.js';
import { loadTokenizerJson } from '../../tokenizers/tokenizer-json-node.js';
import type { Tokenizer } from '../../tokenizers/index.js';
import { prepareDataset, type DocumentSplit } from '../../train/dataset.js';
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
  summary: 'tokenize a text corpus into token shards with a train/validation split (attn data prepare)',
  usage: `attn data prepare --tokenizer T --input FILE [--input FILE ...] --out DIR
                  [--val-fraction F] [--documents file|line|paragraph] [--seed S]
                  [--shard-tokens N] [--overwrite] [--json]

Streams the input files through the tokenizer (bounded memory) into DIR:
meta.json, tokenizer.json (a copy, when T is a file), train-00000.bin, val-00000.bin, ...
Tokens are little-endian uint16 (uint32 when the vocabulary exceeds 65536), each document followed
by the end-of-text token (<|endoftext|>, </s> or [SEP] when the tokenizer has one). Whole documents
go to validation with probability F, drawn with a seeded generator.

Options:
  --tokenizer T       tokenizer.json path or a tiktoken encoding (${TIKTOKEN_ENCODINGS.join(', ')})
  --input FILE        text file (repeatable); .jsonl files hold one {"text": ...} document per line
  --out DIR           output folder (written under a temporary name, renamed when complete)
  --val-fraction F    fraction of documents held out for validation (default 0.05)
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
      },
      strict: true,
    });
    if (!values.tokenizer) throw new UsageError('--tokenizer T is required');
    if (!values.input?.length) throw new UsageError('--input FILE is required');
    if (!values.out) throw new UsageError('--out DIR is required');
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
      onProgress: (done, total) => bar?.update(Math.round((100 * done) / Math.max(total, 1)), `${(done / 1e6).toFixed(1)}/${(total / 1e6).toFixed(1)} MB`),
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
