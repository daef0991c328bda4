import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  bpeWordCounts,
  CL100K_PATTERN,
  GPT2_PATTERN,
  TokenizerStatsCounter,
  trainBpe,
  trainedTokenizerJson,
  trainUnigram,
  trainWordPiece,
  unigramTokenizerJson,
  unigramWordCounts,
  wordPieceTokenizerJson,
  wordPieceWordCounts,
  type TokenizerStats,
  type TrainProgress,
  type WordCounts,
} from '../../tokenizers/index.js';
import { loadTiktoken } from '../../tokenizers/tiktoken-node.js';
import { saveTokenizerJson } from '../../tokenizers/tokenizer-json-node.js';
import { countFiles, inputSizes, readTextChunks } from '../../tokenizers/training-input-node.js';
import { intOption, numberOption, UsageError, type Command } from '../command.js';
import { ProgressBar } from '../progress.js';
import { tokenizerNamed } from './tokenize.js';

/** Named pre-tokenization patterns; o200k's comes from the tiktoken package's data. */
function patternNamed(name: string): string {
  if (name === 'gpt2') return GPT2_PATTERN;
  if (name === 'cl100k') return CL100K_PATTERN;
  if (name === 'o200k') return loadTiktoken('o200k_base').pattern;
  throw new UsageError(`--pattern: unknown pattern '${name}' (known: gpt2, cl100k, o200k)`);
}

const TYPES = ['bpe', 'wordpiece', 'unigram'] as const;
type TrainType = (typeof TYPES)[number];

const TRAIN_USAGE = `attn tokenizer train --type bpe|wordpiece|unigram --vocab-size N --input FILE [--input FILE ...]
                     (--out DIR | --output FILE) [--special TOKEN ...] [--min-frequency N]
                     [--pattern gpt2|cl100k|o200k] [--cased] [--character-coverage F]
                     [--max-words N] [--quiet] [--json]

Trains a tokenizer on text files and writes a Hugging Face tokenizer.json that 'attn tokenize
--tokenizer FILE' and Hugging Face tokenizers load (and give the same ids). Files are read in
chunks and only word counts are kept, so memory is bounded however large the input; the same
input always gives the same file. A progress bar goes to stderr.

  bpe        byte-level BPE (GPT-2/GPT-4 style): the 256 bytes, then merges of the most
             frequent adjacent pair within regex pre-tokens; --vocab-size counts the bytes
             and merges, special tokens (--special, none by default) come after
  wordpiece  BERT WordPiece (Hugging Face's WordPieceTrainer): BERT's basic tokenizer
             (lowercased unless --cased), then BPE merges with the ## continuation prefix;
             special tokens [PAD] [UNK] [CLS] [SEP] [MASK] first (or --special ...)
  unigram    SentencePiece's Unigram LM: seed substrings, EM, pruning by loss; NFKC and
             whitespace as spm_train; special tokens <unk> <s> </s> first (or --special ...)

Options:
  --type T            bpe (default), wordpiece or unigram
  --input FILE        training text (repeatable)
  --vocab-size N      vocabulary size (see above for what it counts)
  --out DIR           write DIR/tokenizer.json (DIR is created)
  --output FILE       write FILE instead
  --special TOKEN     special token (repeatable; for wordpiece and unigram it replaces the defaults;
                      the unknown token is then [UNK] / <unk> if listed, else the first one)
  --min-frequency N   bpe, wordpiece: stop when the best pair occurs fewer than N times (default 2)
  --pattern NAME      bpe: pre-tokenization regex gpt2, cl100k (default, GPT-4's) or o200k
  --cased             wordpiece: keep case and accents (default: lowercase, strip accents)
  --character-coverage F
                      unigram: fraction of the text's characters the vocabulary must hold
                      (default 0.9995, as spm_train)
  --max-words N       distinct words kept while counting (default 4000000; the rarest are
                      dropped beyond it, which bounds memory)
  --quiet             no progress bar
  --json              print a JSON summary instead of text`;

const STATS_USAGE = `attn tokenizer stats --tokenizer T --input FILE [--input FILE ...] [--compare LIST] [--json]

Encodes the files with T and, side by side, with gpt2 and cl100k_base, and reports bytes/token,
characters/token, tokens/word (words: whitespace-separated), vocabulary utilisation (distinct ids
used / vocabulary size) and the unknown-token rate. Files are streamed in chunks.

Options:
  --tokenizer T     a tiktoken encoding name, a tokenizer.json or a SentencePiece .model
  --input FILE      text to encode (repeatable)
  --compare LIST    comma-separated tokenizers to compare with (default gpt2,cl100k_base; '' for none)
  --json            print JSON: {input, tokenizers: [...]}`;

function progressReporter(quiet: boolean): { count(done: number, total: number): void; train(p: TrainProgress): void; finish(): void } {
  let bar: ProgressBar | null = null;
  let phase = '';
  const show = (name: string, done: number, total: number, info = ''): void => {
    if (quiet) return;
    if (phase !== name || !bar) {
      bar?.done();
      bar = new ProgressBar(total, name.padEnd(8));
      phase = name;
    }
    bar.update(done, info);
  };
  return {
    count: (done, total) => show('count', done, total, 'bytes'),
    train: (p) => show(p.phase, p.done, p.total, p.info ?? ''),
    finish: () => bar?.done(),
  };
}

function outputPath(out: string | undefined, output: string | undefined): string {
  if ((out === undefined) === (output === undefined)) throw new UsageError('give exactly one of --out DIR or --output FILE');
  if (output !== undefined) return output;
  if (existsSync(out!) && !statSync(out!).isDirectory()) throw new UsageError(`--out: '${out}' exists and is not a directory`);
  mkdirSync(out!, { recursive: true });
  return join(out!, 'tokenizer.json');
}

function train(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      type: { type: 'string' },
      input: { type: 'string', multiple: true },
      'vocab-size': { type: 'string' },
      out: { type: 'string' },
      output: { type: 'string' },
      pattern: { type: 'string' },
      'min-frequency': { type: 'string' },
      special: { type: 'string', multiple: true },
      cased: { type: 'boolean' },
      'character-coverage': { type: 'string' },
      'max-words': { type: 'string' },
      quiet: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  const type = (values.type ?? 'bpe') as TrainType;
  if (!TYPES.includes(type)) throw new UsageError(`--type: unknown type '${values.type}' (known: ${TYPES.join(', ')})`);
  if (!values.input?.length) throw new UsageError('--input FILE is required');
  if (values['vocab-size'] === undefined) throw new UsageError('--vocab-size N is required');
  const vocabSize = intOption('vocab-size', values['vocab-size'], 0, type === 'bpe' ? 256 : 2);
  const minFrequency = intOption('min-frequency', values['min-frequency'], 2, 1);
  const maxWords = intOption('max-words', values['max-words'], 4_000_000, 1);
  if (type !== 'bpe' && values.pattern !== undefined) throw new UsageError(`--pattern applies to --type bpe, not ${type}`);
  if (type !== 'wordpiece' && values.cased) throw new UsageError(`--cased applies to --type wordpiece, not ${type}`);
  if (type !== 'unigram' && values['character-coverage'] !== undefined) throw new UsageError(`--character-coverage applies to --type unigram, not ${type}`);
  const characterCoverage = numberOption('character-coverage', values['character-coverage'], 0.9995);
  if (!(characterCoverage > 0 && characterCoverage <= 1)) throw new UsageError(`--character-coverage: expected a number in (0, 1], got '${values['character-coverage']}'`);
  if (type === 'unigram' && values['min-frequency'] !== undefined) throw new UsageError('--min-frequency applies to bpe and wordpiece, not unigram');
  const pattern = patternNamed(values.pattern ?? 'cl100k');
  try {
    inputSizes(values.input);
  } catch (e) {
    throw new UsageError(`--input: ${(e as Error).message.replace(/^input: /, '')}`);
  }
  const target = outputPath(values.out, values.output);
  const specials = values.special;
  const lowercase = !values.cased;
  const report = progressReporter(values.quiet ?? false);

  const t0 = performance.now();
  const counts: WordCounts =
    type === 'bpe' ? bpeWordCounts(pattern, { maxWords }) : type === 'wordpiece' ? wordPieceWordCounts({ lowercase }, { maxWords }) : unigramWordCounts({ maxWords });
  countFiles(values.input, counts, { onProgress: (p) => report.count(p.done, p.total) });
  const countSeconds = (performance.now() - t0) / 1000;
  const onProgress = report.train;
  let json: Record<string, unknown>;
  let size: number;
  let merges: number | undefined;
  if (type === 'bpe') {
    const trained = trainBpe(counts, { vocabSize, pattern, minFrequency, onProgress });
    json = trainedTokenizerJson(trained, { specialTokens: specials ?? [] });
    size = trained.ranks.size + (specials?.length ?? 0);
    merges = trained.merges.length;
  } else if (type === 'wordpiece') {
    const trained = trainWordPiece(counts, { vocabSize, minFrequency, lowercase, onProgress, ...(specials ? { specialTokens: specials, unkToken: specials.includes('[UNK]') ? '[UNK]' : specials[0]! } : {}) });
    json = wordPieceTokenizerJson(trained);
    size = trained.vocab.length;
  } else {
    const trained = trainUnigram(counts, { vocabSize, characterCoverage, onProgress, ...(specials ? { specialTokens: specials, unkToken: specials.includes('<unk>') ? '<unk>' : specials[0]! } : {}) });
    json = unigramTokenizerJson(trained);
    size = trained.pieces.length;
  }
  report.finish();
  saveTokenizerJson(target, json);
  const seconds = (performance.now() - t0) / 1000;
  const summary = {
    type,
    output: target,
    vocabSize: size,
    ...(merges !== undefined ? { merges } : {}),
    distinctWords: counts.size,
    prunedWords: counts.prunes > 0 ? { prunes: counts.prunes, maxDroppedCount: counts.maxDroppedCount } : null,
    countSeconds: +countSeconds.toFixed(3),
    seconds: +seconds.toFixed(3),
  };
  if (values.json) console.log(JSON.stringify(summary));
  else {
    const early = size < vocabSize ? ' (stopped early: no pair is frequent enough)' : '';
    const pruned = counts.prunes > 0 ? `; the word table was pruned ${counts.prunes}x (words seen <= ${counts.maxDroppedCount} times dropped)` : '';
    console.log(`${type}: ${size} tokens from ${counts.size} distinct words in ${seconds.toFixed(1)}s${early}${pruned}; wrote ${target}`);
  }
}

function formatTable(rows: TokenizerStats[]): string {
  const pct = (x: number | null): string => (x === null ? 'n/a' : `${(100 * x).toFixed(2)}%`);
  const header = ['tokenizer', 'tokens', 'bytes/token', 'chars/token', 'tokens/word', 'vocab used', 'unknown'];
  const body = rows.map((r) => [
    r.tokenizer,
    String(r.tokens),
    r.bytesPerToken.toFixed(3),
    r.charsPerToken.toFixed(3),
    r.tokensPerWord.toFixed(3),
    `${r.distinctTokens}/${r.vocabSize} (${pct(r.vocabUtilisation)})`,
    pct(r.unknownRate),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [header, ...body].map((cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

function stats(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      tokenizer: { type: 'string' },
      input: { type: 'string', multiple: true },
      compare: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.input?.length) throw new UsageError('--input FILE is required');
  try {
    inputSizes(values.input);
  } catch (e) {
    throw new UsageError(`--input: ${(e as Error).message.replace(/^input: /, '')}`);
  }
  const names = [values.tokenizer, ...(values.compare ?? 'gpt2,cl100k_base').split(',').filter((s) => s !== '')];
  const tokenizers = names.map((n) => tokenizerNamed(n));
  const counters = tokenizers.map((t) => new TokenizerStatsCounter(t));
  for (const file of values.input) {
    readTextChunks(file, (text) => {
      for (const c of counters) c.push(text);
    });
    for (const c of counters) c.end();
  }
  const rows = counters.map((c) => c.result());
  rows.forEach((r, i) => (r.tokenizer = names[i]!));
  if (values.json) {
    const first = rows[0]!;
    console.log(JSON.stringify({ input: { files: values.input, bytes: first.bytes, chars: first.chars, words: first.words }, tokenizers: rows }));
  } else {
    const first = rows[0]!;
    console.log(`${values.input.join(', ')}: ${first.bytes} bytes, ${first.chars} characters, ${first.words} words\n`);
    console.log(formatTable(rows));
  }
}

export const tokenizer: Command = {
  name: 'tokenizer',
  summary: 'train a BPE, WordPiece or Unigram tokenizer (tokenizer.json), or report compression stats',
  usage: `${TRAIN_USAGE}\n\n${STATS_USAGE}`,
  run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'train') return train(rest);
    if (sub === 'stats') return stats(rest);
    throw new UsageError(sub === undefined ? "expected a subcommand: 'train' or 'stats'" : `unknown subcommand '${sub}' (expected 'train' or 'stats')`);
  },
};
