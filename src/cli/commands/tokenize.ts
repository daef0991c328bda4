import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { TIKTOKEN_ENCODINGS, isTiktokenEncodingName, loadTiktoken } from '../../tokenizers/tiktoken-node.js';
import { loadTokenizerJson } from '../../tokenizers/tokenizer-json-node.js';
import { loadSentencePiece } from '../../tokenizers/sentencepiece-node.js';
import { HfTokenizer, SentencePieceTokenizer, TokenizerError, type Tokenizer } from '../../tokenizers/index.js';
import { UsageError, type Command } from '../command.js';

export function tokenizerNamed(name: string | undefined): Tokenizer {
  if (name === undefined) throw new UsageError(`--tokenizer is required (one of ${TIKTOKEN_ENCODINGS.join(', ')}, a tokenizer.json file or a SentencePiece .model file)`);
  if (isTiktokenEncodingName(name)) return loadTiktoken(name);
  if (name.endsWith('.json')) return loadTokenizerJson(name);
  if (name.endsWith('.model')) return loadSentencePiece(name);
  throw new UsageError(`--tokenizer: unknown tokenizer '${name}' (known: ${TIKTOKEN_ENCODINGS.join(', ')}, or a path ending in .json or .model)`);
}

function inputText(text: string | undefined, input: string | undefined): string {
  if ((text === undefined) === (input === undefined)) throw new UsageError('give exactly one of --text S or --input FILE');
  if (text !== undefined) return text;
  try {
    return readFileSync(input === '-' ? 0 : input!, 'utf8');
  } catch (e) {
    throw new UsageError(`--input: cannot read '${input}': ${(e as Error).message}`);
  }
}

/** Ids to decode, written as `15339 1917`, `15339,1917` or a JSON array. */
function parseIds(raw: string): number[] {
  const fields = raw.replace(/[[\],]/g, ' ').split(/\s+/).filter((f) => f !== '');
  return fields.map((f) => {
    const id = Number(f);
    if (!Number.isInteger(id) || id < 0) throw new UsageError(`--decode: '${f}' is not a token id (expected non-negative integers separated by spaces or commas)`);
    return id;
  });
}

function encode(tok: Tokenizer, text: string, allowSpecial: boolean): number[] {
  if (tok instanceof HfTokenizer) return tok.encode(text); // added tokens are always recognised
  if (tok instanceof SentencePieceTokenizer) return tok.encode(text); // control pieces are never read from text
  try {
    return tok.encode(text, allowSpecial ? { allowedSpecial: 'all' } : {});
  } catch (e) {
    // The library's message names the API options; at the command line the switch is --allow-special.
    if (e instanceof TokenizerError && /special token/.test(e.message)) throw new TokenizerError('encode', `${e.message.replace(/^encode: /, '').replace(/; pass it in allowedSpecial.*$/, '')}; pass --allow-special to encode special tokens as their ids`);
    throw e;
  }
}

export const tokenize: Command = {
  name: 'tokenize',
  summary: 'encode text to token ids (or --decode ids to text) with a tiktoken encoding, a tokenizer.json or a SentencePiece .model',
  usage: `attn tokenize --tokenizer NAME (--text S | --input FILE) [--decode] [--allow-special] [--json]

Encodes text to token ids, exactly as tiktoken, Hugging Face tokenizers or SentencePiece do. The tiktoken
vocabularies are read from the tiktoken npm package's data; nothing is downloaded.

Options:
  --tokenizer NAME  one of ${TIKTOKEN_ENCODINGS.join(', ')},
                    a Hugging Face tokenizer.json file (BPE, WordPiece or Unigram),
                    or a SentencePiece .model file (Unigram or BPE; ids as spm_encode
                    --output_format=id gives them, no bos/eos)
  --text S          the text (or, with --decode, the ids) on the command line
  --input FILE      read it from FILE instead ('-' for standard input)
  --decode          the input is token ids (spaces, commas or a JSON array); print their text
  --allow-special   encode special tokens such as <|endoftext|> as their ids; without it, text
                    containing one is an error (tiktoken's default). tokenizer.json tokenizers
                    always recognise their added tokens and add their post-processor's
                    special tokens ([CLS] ... [SEP]), as Hugging Face tokenizers does;
                    SentencePiece never reads control pieces (<s>) from text
  --json            print one JSON object: ids, the text of each token, and the count`,
  run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        tokenizer: { type: 'string' },
        text: { type: 'string' },
        input: { type: 'string' },
        decode: { type: 'boolean' },
        'allow-special': { type: 'boolean' },
        json: { type: 'boolean' },
      },
      strict: true,
    });
    const tok = tokenizerNamed(values.tokenizer);
    const raw = inputText(values.text, values.input);
    const ids = values.decode ? parseIds(raw) : encode(tok, raw, values['allow-special'] ?? false);
    const text = values.decode ? tok.decode(ids) : raw;
    if (values.json) {
      const tokens = ids.map((id) => tok.decode([id]));
      console.log(JSON.stringify({ tokenizer: tok.name, count: ids.length, ids, tokens, ...(values.decode ? { text } : {}) }));
    } else if (values.decode) {
      process.stdout.write(text);
    } else {
      console.log(ids.join(' '));
    }
  },
};
