/** Example datasets: the ids on disk are the tokenizer's, streaming across read chunks changes nothing, labels keep their order, corrupt folders are refused. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  classificationBatch, ExampleBatches, IGNORE_INDEX, loadExamples, prepareExamples, seq2seqBatch, sequentialExampleBatches,
} from '../../src/index.js';
import { loadTiktoken } from '../../src/tokenizers/tiktoken-node.js';

const tok = loadTiktoken('gpt2');
const EOT = 50256;

describe('example datasets', () => {
  it('seq2seq pairs: source and target ids + end of text, split by a seeded draw, the same across 1 MB read chunks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attn-examples-'));
    try {
      // ~1.6 MB of rows, so the line reader crosses several chunk boundaries (and multi-byte characters)
      const rows = Array.from({ length: 20000 }, (_, i) => ({ source: `row ${i}: déjà vu ${'x'.repeat(i % 37)}`, target: `${i * 7} → ok` }));
      writeFileSync(join(dir, 'pairs.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
      const meta = prepareExamples({ task: 'seq2seq', tokenizer: tok, tokenizerSource: 'gpt2', inputs: [join(dir, 'pairs.jsonl')], out: join(dir, 'ds'), valFraction: 0.1, seed: 3 });
      assert.equal(meta.splits.train.examples + meta.splits.val.examples, 20000);
      assert.equal(meta.eosId, EOT);
      assert.equal(meta.padId, EOT, 'gpt2 has no pad token: the end-of-text id pads');
      const train = loadExamples(join(dir, 'ds'), 'train');
      const val = loadExamples(join(dir, 'ds'), 'val');
      assert.equal(train.task, 'seq2seq');
      if (train.task !== 'seq2seq' || val.task !== 'seq2seq') return;
      // reassemble the original order: the split is the seeded draw per row, in order
      const all = [...train.examples, ...val.examples];
      let checked = 0;
      for (const i of [0, 1, 777, 12345, 19999]) {
        const want = { source: [...tok.encode(rows[i]!.source), EOT], target: [...tok.encode(rows[i]!.target), EOT] };
        assert.ok(all.some((e) => JSON.stringify(Array.from(e.source)) === JSON.stringify(want.source) && JSON.stringify(Array.from(e.target)) === JSON.stringify(want.target)), `row ${i}`);
        checked++;
      }
      assert.equal(checked, 5);
      assert.equal(meta.splits.train.tokens, train.examples.reduce((n, e) => n + e.source.length + e.target.length, 0));
      // prepared twice with the same seed: byte-identical files
      prepareExamples({ task: 'seq2seq', tokenizer: tok, tokenizerSource: 'gpt2', inputs: [join(dir, 'pairs.jsonl')], out: join(dir, 'ds2'), valFraction: 0.1, seed: 3 });
      for (const f of ['train.tokens.bin', 'val.lengths.bin']) assert.deepEqual(readFileSync(join(dir, 'ds2', f)), readFileSync(join(dir, 'ds', f)), f);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('classification: labels numbered by first appearance across files (integers as strings), batches padded with a mask', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attn-examples-'));
    try {
      writeFileSync(join(dir, 'a.jsonl'), '{"text": "good film", "label": "pos"}\n{"text": "bad film", "label": "neg"}\n');
      writeFileSync(join(dir, 'b.tsv'), 'fine\t2\nawful\tneg\n');
      const meta = prepareExamples({ task: 'classification', tokenizer: tok, tokenizerSource: 'gpt2', inputs: [join(dir, 'a.jsonl'), join(dir, 'b.tsv')], out: join(dir, 'ds'), valFraction: 0 });
      assert.equal(meta.numLabels, 3);
      const d = loadExamples(join(dir, 'ds'), 'train');
      assert.equal(d.task, 'classification');
      if (d.task !== 'classification') return;
      assert.deepEqual(d.labels, ['pos', 'neg', '2']);
      assert.deepEqual(d.examples.map((e) => e.label), [0, 1, 2, 1]);
      assert.deepEqual(Array.from(d.examples[0]!.ids), tok.encode('good film'), 'tiktoken adds no special tokens');
      const b = classificationBatch(d.examples.slice(0, 2), { padId: meta.padId });
      assert.deepEqual(b.attentionMask.shape, [2, 2]);
      // the example loaders: a shuffled pass covers every example once, sequential batches keep the order
      const seen: number[] = [];
      const batches = new ExampleBatches(d.examples, { batchSize: 2, seed: 1, build: (es) => es.map((e) => e.label) });
      seen.push(...batches.next(), ...batches.next());
      assert.deepEqual(seen.sort(), [0, 1, 1, 2]);
      assert.deepEqual([...sequentialExampleBatches(d.examples, { batchSize: 3, build: (es) => es.length })], [3, 1]);
      assert.deepEqual([...sequentialExampleBatches(d.examples, { batchSize: 1, maxBatches: 2, build: (es) => es.length })], [1, 1]);
      // a corrupted labels file is refused with the split and example named
      const labels = readFileSync(join(dir, 'ds', 'train.labels.bin'));
      labels.writeUInt32LE(9, 4);
      writeFileSync(join(dir, 'ds', 'train.labels.bin'), labels);
      assert.throws(() => loadExamples(join(dir, 'ds'), 'train'), /train example 1 has label id 9, outside the 3 labels/);
      writeFileSync(join(dir, 'ds', 'train.lengths.bin'), Buffer.alloc(4));
      assert.throws(() => loadExamples(join(dir, 'ds'), 'train'), /train\.lengths\.bin holds 1 lengths, expected 4/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('seq2seq batches from loaded pairs: decoder input starts with the pad id, labels -100 on padding', () => {
    const b = seq2seqBatch([{ source: [5, 6, 7], target: [8, 1] }, { source: [5], target: [9, 9, 1] }], { padId: 0, decoderStartId: 0 });
    assert.deepEqual([...b.decoderInputIds.toTypedArray()], [0, 8, 0, 0, 9, 9]);
    assert.deepEqual([...b.labels.toTypedArray()], [8, 1, IGNORE_INDEX, 9, 9, 1]);
    assert.equal(b.tokens, 5);
  });
});
