/**
 * `attn tokenize` and `attn tokenizer train`: spawns the CLI and checks its ids against known
 * cl100k_base / o200k_base ids and against Hugging Face tokenizers on a trained tokenizer.json.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { get_encoding } from 'tiktoken';
import hf from 'tokenizers';
import { englishProse } from '../tokenizers/corpus.js';
import { FIXTURES, tempDir } from '../helpers.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function attn(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('attn tokenize', () => {
  it('encodes --text to the reference ids', () => {
    const r = attn('tokenize', '--tokenizer', 'cl100k_base', '--text', 'hello world');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '15339 1917\n');
  });

  it('--json gives ids, the text of each token and the count', () => {
    const r = attn('tokenize', '--tokenizer', 'o200k_base', '--text', 'hello world', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { tokenizer: 'o200k_base', count: 2, ids: [24912, 2375], tokens: ['hello', ' world'] });
  });

  it('--input FILE reads the text; --decode turns the ids back into it', () => {
    const dir = tempDir('attn-tokenize-');
    const text = 'Ünïcödé 👨‍👩‍👧 text\n\twith  tabs, 12345 digits and 中文.\n';
    writeFileSync(join(dir, 'in.txt'), text);
    const enc = attn('tokenize', '--tokenizer', 'p50k_base', '--input', join(dir, 'in.txt'));
    assert.equal(enc.code, 0, enc.stderr);
    const ref = get_encoding('p50k_base');
    assert.equal(enc.stdout.trim(), Array.from(ref.encode(text)).join(' '));
    ref.free();
    writeFileSync(join(dir, 'ids.txt'), enc.stdout);
    const dec = attn('tokenize', '--tokenizer', 'p50k_base', '--input', join(dir, 'ids.txt'), '--decode');
    assert.equal(dec.code, 0, dec.stderr);
    assert.equal(dec.stdout, text);
    assert.equal(attn('tokenize', '--tokenizer', 'cl100k_base', '--text', '[15339, 1917]', '--decode').stdout, 'hello world');
  });

  it('special tokens are an error unless --allow-special', () => {
    const r = attn('tokenize', '--tokenizer', 'cl100k_base', '--text', 'a<|endoftext|>');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the text contains the special token "<\|endoftext\|>" at offset 1; pass --allow-special/);
    const ok = attn('tokenize', '--tokenizer', 'cl100k_base', '--text', 'a<|endoftext|>', '--allow-special');
    assert.equal(ok.stdout, '64 100257\n');
  });

  it('--tokenizer FILE.json loads a Hugging Face tokenizer.json', () => {
    const dir = tempDir('attn-tokenize-');
    const vocab = { '[UNK]': 0, '[CLS]': 1, '[SEP]': 2, un: 3, '##aff': 4, '##able': 5, '!': 6 };
    const json = {
      added_tokens: [],
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: { type: 'BertProcessing', sep: ['[SEP]', 2], cls: ['[CLS]', 1] },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
    };
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
    const r = attn('tokenize', '--tokenizer', join(dir, 'tokenizer.json'), '--text', 'UnAffable! xyz', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).ids, [1, 3, 4, 5, 6, 0, 2]);
    const bad = attn('tokenize', '--tokenizer', join(dir, 'missing.json'), '--text', 'x');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /loadTokenizerJson: cannot read '.*missing\.json'/);
  });

  it('--tokenizer FILE.model loads a SentencePiece model (ids as spm_encode gives them)', () => {
    // Ids from sentencepiece 0.1.97 (`spm_encode --output_format=id`) for this fixture model.
    const model = join(FIXTURES, 'sentencepiece', 'unigram.model');
    const r = attn('tokenize', '--tokenizer', model, '--text', 'hello world  again', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { tokenizer: string; ids: number[]; tokens: string[] };
    assert.equal(out.tokenizer, 'unigram.model');
    assert.deepEqual(out.ids, [7, 554, 567, 189, 371]);
    const dec = attn('tokenize', '--tokenizer', model, '--text', out.ids.join(' '), '--decode');
    assert.equal(dec.code, 0, dec.stderr);
    assert.equal(dec.stdout, 'hello world again');
    // Control pieces are text like any other, with or without --allow-special.
    const s = attn('tokenize', '--tokenizer', model, '--text', '<s>', '--allow-special');
    assert.equal(s.code, 0, s.stderr);
    assert.ok(!s.stdout.trim().split(' ').includes('1'), s.stdout);
    const dir = tempDir('attn-tokenize-');
    writeFileSync(join(dir, 'not.model'), '{"model": {}}');
    const bad = attn('tokenize', '--tokenizer', join(dir, 'not.model'), '--text', 'x');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /loadSentencePiece: '.*not\.model': sentencepiece: /);
  });

  it('bad input fails with a message naming it', () => {
    const unknown = attn('tokenize', '--tokenizer', 'bert', '--text', 'x');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--tokenizer: unknown tokenizer 'bert'/);
    const both = attn('tokenize', '--tokenizer', 'gpt2', '--text', 'x', '--input', 'y');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /exactly one of --text S or --input FILE/);
    const badId = attn('tokenize', '--tokenizer', 'gpt2', '--text', '1 two', '--decode');
    assert.equal(badId.code, 2);
    assert.match(badId.stderr, /--decode: 'two' is not a token id/);
    const outside = attn('tokenize', '--tokenizer', 'gpt2', '--text', '50257', '--decode');
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /decode: id 50257 is outside the vocabulary \(size 50257\)/);
    const missing = attn('tokenize', '--tokenizer', 'gpt2', '--input', '/nonexistent/file');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--input: cannot read '\/nonexistent\/file'/);
  });
});

describe('attn tokenizer train', () => {
  it('trains a tokenizer.json that attn tokenize and Hugging Face tokenizers both load', async () => {
    const dir = tempDir('attn-train-');
    const docs = englishProse(120_000);
    writeFileSync(join(dir, 'a.txt'), docs.slice(0, 3).join('\n'));
    writeFileSync(join(dir, 'b.txt'), docs.slice(3, 6).join('\n'));
    const out = join(dir, 'tokenizer.json');
    const r = attn('tokenizer', 'train', '--input', join(dir, 'a.txt'), '--input', join(dir, 'b.txt'), '--vocab-size', '600', '--special', '<|endoftext|>', '--output', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { merges: number; vocabSize: number };
    assert.deepEqual([summary.merges, summary.vocabSize], [344, 601]);
    const text = 'The Congress of the United States<|endoftext|>';
    const ids = JSON.parse(attn('tokenize', '--tokenizer', out, '--text', text, '--json').stdout).ids as number[];
    assert.deepEqual(ids, (await hf.Tokenizer.fromFile(out).encode(text)).getIds());
    assert.equal(ids.at(-1), 600);
    assert.ok(ids.length < 20, `${ids.length} tokens`);
  });

  it('bad arguments fail with a message naming them', () => {
    assert.match(attn('tokenizer', 'fit').stderr, /unknown subcommand 'fit'/);
    assert.match(attn('tokenizer', 'train', '--input', 'x', '--output', 'y', '--vocab-size', '10').stderr, /--vocab-size: expected an integer >= 256, got '10'/);
    assert.match(attn('tokenizer', 'train', '--input', 'x', '--output', 'y', '--vocab-size', '300', '--pattern', 'bert').stderr, /--pattern: unknown pattern 'bert'/);
    assert.match(attn('tokenizer', 'train', '--output', 'y', '--vocab-size', '300').stderr, /--input FILE is required/);
  });
});
