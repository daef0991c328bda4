/** attn data prepare: streamed tokens equal whole-text encoding; documents split; atomic; loads back. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset, loadTiktoken, prepareDataset } from '../../src/index.js';
import { englishProse } from '../tokenizers/corpus.js';

describe('prepareDataset', () => {
  const tok = loadTiktoken('gpt2');
  const eot = tok.specialTokens.get('<|endoftext|>')!;

  it('streams in small chunks and still gives the ids of encoding each document whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attn-data-'));
    try {
      const docs = englishProse(600_000).slice(0, 12);
      const file = join(dir, 'corpus.txt');
      writeFileSync(file, docs.join('\n\n'));
      // documents 'file': the whole file is one document, read in 1 MB chunks cut at safe newlines
      const meta = prepareDataset({ tokenizer: tok, tokenizerSource: 'gpt2', inputs: [file], out: join(dir, 'one'), valFraction: 0, shardTokens: 10_000 });
      const expected = [...tok.encode(docs.join('\n\n'), { disallowedSpecial: [] }), eot];
      const { tokens } = loadDataset(join(dir, 'one'), 'train');
      assert.equal(tokens.length, expected.length);
      assert.deepEqual(Array.from(tokens), expected);
      assert.equal(meta.dtype, 'uint16');
      assert.ok(meta.splits.train.shards.length > 1, 'several shards');
      assert.equal(meta.splits.val.tokens, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('splits whole paragraphs into train and validation, seeded, each followed by <|endoftext|>', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attn-data-'));
    try {
      const paras = Array.from({ length: 200 }, (_, i) => `Paragraph number ${i} says hello.\nIt has two lines.`);
      const file = join(dir, 'p.txt');
      writeFileSync(file, paras.join('\n\n\n'));
      const a = prepareDataset({ tokenizer: tok, tokenizerSource: 'gpt2', inputs: [file], out: join(dir, 'a'), documents: 'paragraph', valFraction: 0.2, seed: 5 });
      const b = prepareDataset({ tokenizer: tok, tokenizerSource: 'gpt2', inputs: [file], out: join(dir, 'b'), documents: 'paragraph', valFraction: 0.2, seed: 5 });
      assert.equal(a.splits.train.documents + a.splits.val.documents, 200);
      assert.ok(a.splits.val.documents > 20 && a.splits.val.documents < 60, `val documents ${a.splits.val.documents}`);
      assert.deepEqual(a.splits, b.splits, 'same seed, same split');
      const train = Array.from(loadDataset(join(dir, 'a'), 'train').tokens);
      const val = Array.from(loadDataset(join(dir, 'a'), 'val').tokens);
      const decode = (ids: number[]): string[] => tok.decode(ids).split('<|endoftext|>').filter((s) => s !== '');
      const all = [...decode(train), ...decode(val)].sort();
      assert.deepEqual(all, [...paras].sort(), 'every paragraph exactly once, intact');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad input with clear errors and leaves no partial folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attn-data-'));
    try {
      assert.throws(() => prepareDataset({ tokenizer: tok, tokenizerSource: 'gpt2', inputs: [join(dir, 'missing.txt')], out: join(dir, 'x') }), /input '.*missing.txt' is not a readable file/);
      const bad = join(dir, 'bad.jsonl');
      writeFileSync(bad, '{"text": "fine"}\n{"txt": 3}\n');
      assert.throws(() => prepareDataset({ tokenizer: tok, tokenizerSource: 'gpt2', inputs: [bad], out: join(dir, 'x'), valFraction: 0 }), /bad.jsonl:2: expected an object with a string "text" field/);
      const one = join(dir, 'one.txt');
      writeFileSync(one, 'just one document');
      assert.throws(() => prepareDataset({ tokenizer: tok, tokenizerSource: 'gpt2', inputs: [one], out: join(dir, 'x'), valFraction: 0.5, seed: 1 }), /(no document went to validation|training split is empty)/);
      assert.equal(existsSync(join(dir, 'x')), false);
      assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.')), [], 'no temporary folder left behind');
      assert.throws(() => loadDataset(dir, 'train'), /no meta.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
