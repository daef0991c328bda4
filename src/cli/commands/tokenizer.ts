import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { CL100K_PATTERN, GPT2_PATTERN, trainBpe, trainedTokenizerJson } from '../../tokenizers/index.js';
import { loadTiktoken } from '../../tokenizers/tiktoken-node.js';
import { intOption, UsageError, type Command } from '../command.js';

/** Named pre-tokenization patterns; o200k's comes from the tiktoken package's data. */
function patternNamed(name: string): string {
  if (name === 'gpt2') return GPT2_PATTERN;
  if (name === 'cl100k') return CL100K_PATTERN;
  if (name === 'o200k') return loadTiktoken('o200k_base').pattern;
  throw new UsageError(`--pattern: unknown pattern '${name}' (known: gpt2, cl100k, o200k)`);
}

export const tokenizer: Command = {
  name: 'tokenizer',
  summary: 'train a byte-level BPE tokenizer on text files and write it as tokenizer.json',
  usage: `attn tokenizer train --input FILE [--input FILE ...] --vocab-size N --output FILE
                     [--pattern gpt2|cl100k|o200k] [--min-frequency N] [--special TOKEN ...] [--json]

Learns byte-level BPE merges (start from the 256 bytes, repeatedly merge the most frequent pair
of adjacent tokens within regex pre-tokens) and writes a Hugging Face tokenizer.json that
'attn tokenize --tokenizer FILE' and Hugging Face tokenizers load.

Options:
  --input FILE        training text (repeatable)
  --vocab-size N      vocabulary size, the 256 byte tokens included (special tokens come after)
  --output FILE       where to write the tokenizer.json
  --pattern NAME      pre-tokenization regex: gpt2, cl100k (default, GPT-4's) or o200k
  --min-frequency N   stop when the most frequent pair occurs fewer than N times (default 2)
  --special TOKEN     add a special token such as <|endoftext|> (repeatable)
  --json              print a JSON summary instead of text`,
  run(argv) {
    const [sub, ...rest] = argv;
    if (sub !== 'train') throw new UsageError(sub === undefined ? "expected a subcommand: 'train'" : `unknown subcommand '${sub}' (expected 'train')`);
    const { values } = parseArgs({
      args: rest,
      options: {
        input: { type: 'string', multiple: true },
        'vocab-size': { type: 'string' },
        output: { type: 'string' },
        pattern: { type: 'string' },
        'min-frequency': { type: 'string' },
        special: { type: 'string', multiple: true },
        json: { type: 'boolean' },
      },
      strict: true,
    });
    if (!values.input?.length) throw new UsageError('--input FILE is required');
    if (values.output === undefined) throw new UsageError('--output FILE is required');
    if (values['vocab-size'] === undefined) throw new UsageError('--vocab-size N is required');
    const vocabSize = intOption('vocab-size', values['vocab-size'], 0, 256);
    const minFrequency = intOption('min-frequency', values['min-frequency'], 2, 1);
    const pattern = patternNamed(values.pattern ?? 'cl100k');
    const texts = values.input.map((f) => {
      try {
        return readFileSync(f, 'utf8');
      } catch (e) {
        throw new UsageError(`--input: cannot read '${f}': ${(e as Error).message}`);
      }
    });
    const t0 = performance.now();
    const trained = trainBpe(texts, { vocabSize, pattern, minFrequency });
    const seconds = (performance.now() - t0) / 1000;
    const specials = values.special ?? [];
    writeFileSync(values.output, JSON.stringify(trainedTokenizerJson(trained, { specialTokens: specials })));
    const summary = { output: values.output, vocabSize: trained.ranks.size + specials.length, merges: trained.merges.length, seconds };
    if (values.json) console.log(JSON.stringify(summary));
    else {
      const early = trained.ranks.size < vocabSize ? ` (stopped early: no pair occurs ${minFrequency} times)` : '';
      console.log(`${trained.merges.length} merges in ${seconds.toFixed(1)}s${early}; wrote ${summary.vocabSize} tokens to ${values.output}`);
    }
  },
};
