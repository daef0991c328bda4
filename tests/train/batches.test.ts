/** Batches: shifted causal windows, dynamic MLM masking rates, seq2seq teacher forcing, padding. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CausalLMBatches, classificationBatch, Generator, IGNORE_INDEX, maskTokens, seq2seqBatch, sequentialCausalBatches, ShuffledIndices,
} from '../../src/index.js';

const stream = Uint16Array.from({ length: 100 }, (_, i) => i);

describe('causal LM batches', () => {
  it('labels are the inputs shifted by one, windows inside the stream, seeded', () => {
    const a = new CausalLMBatches(stream, { seqLen: 10, batchSize: 4, seed: 3 });
    const b = new CausalLMBatches(stream, { seqLen: 10, batchSize: 4, seed: 3 });
    const x = a.next();
    assert.deepEqual(x.inputIds.shape, [4, 10]);
    const ids = x.inputIds.toTypedArray();
    const labels = x.labels.toTypedArray();
    for (let i = 0; i < ids.length; i++) assert.equal(labels[i], ids[i]! + 1);
    for (let r = 0; r < 4; r++) assert.ok(ids[r * 10]! + 10 < 100);
    assert.deepEqual([...b.next().inputIds.toTypedArray()], [...ids]);
    // the state is the data position: restoring it replays the same batch
    const s = a.state;
    const next = [...a.next().inputIds.toTypedArray()];
    a.state = s;
    assert.deepEqual([...a.next().inputIds.toTypedArray()], next);
  });
  it('sequential windows cover the stream once', () => {
    const batches = [...sequentialCausalBatches(stream, { seqLen: 10, batchSize: 4 })];
    assert.deepEqual(batches.map((b) => b.inputIds.shape[0]), [4, 4, 1]); // 9 windows of 10 (+1 label) in 100 tokens
    assert.deepEqual([...batches[2]!.labels.toTypedArray()], [81, 82, 83, 84, 85, 86, 87, 88, 89, 90]);
    assert.throws(() => new CausalLMBatches(stream.subarray(0, 5), { seqLen: 10, batchSize: 1 }), /too few for one window/);
  });
});

describe('maskTokens (dynamic masking)', () => {
  it('selects 15% of non-special positions: 80% [MASK], 10% random, 10% kept', () => {
    const n = 200_000;
    const ids = Int32Array.from({ length: n }, (_, i) => 5 + (i % 50));
    ids[0] = 1; // special
    const { inputIds, labels } = maskTokens(ids, { maskTokenId: 3, vocabSize: 60, specialIds: new Set([1]), generator: new Generator(0) });
    let selected = 0; let masked = 0; let kept = 0; let random = 0;
    for (let i = 0; i < n; i++) {
      if (labels[i] === IGNORE_INDEX) {
        assert.equal(inputIds[i], ids[i]);
        continue;
      }
      assert.equal(labels[i], ids[i]);
      selected++;
      if (inputIds[i] === 3) masked++;
      else if (inputIds[i] === ids[i]) kept++;
      else random++;
    }
    assert.equal(labels[0], IGNORE_INDEX, 'special ids are never selected');
    // binomial standard errors: selection ~0.0008, shares ~0.002
    assert.ok(Math.abs(selected / n - 0.15) < 0.004, `selected ${selected / n}`);
    assert.ok(Math.abs(masked / selected - 0.8) < 0.01, `masked ${masked / selected}`);
    // a random draw equals the original 1 time in 60
    assert.ok(Math.abs(kept / selected - (0.1 + 0.1 / 60)) < 0.01, `kept ${kept / selected}`);
    assert.ok(Math.abs(random / selected - 0.1 * (59 / 60)) < 0.01, `random ${random / selected}`);
  });
});

describe('seq2seq and classification batches', () => {
  it('pads sources, shifts targets right for the decoder, ignores padded labels', () => {
    const b = seq2seqBatch([{ source: [5, 6, 7], target: [8, 9] }, { source: [5], target: [10, 11, 12] }], { padId: 0, decoderStartId: 1 });
    assert.deepEqual([...b.inputIds.toTypedArray()], [5, 6, 7, 5, 0, 0]);
    assert.deepEqual([...b.attentionMask.toTypedArray()], [1, 1, 1, 1, 0, 0]);
    assert.deepEqual([...b.decoderInputIds.toTypedArray()], [1, 8, 0, 1, 10, 11]);
    assert.deepEqual([...b.labels.toTypedArray()], [8, 9, IGNORE_INDEX, 10, 11, 12]);
    assert.equal(b.tokens, 5);
    assert.throws(() => seq2seqBatch([{ source: [1], target: [] }], { padId: 0, decoderStartId: 1 }), /example 0 has an empty target/);
  });
  it('classification pads with a mask and truncates to maxLen', () => {
    const b = classificationBatch([{ ids: [4, 5, 6, 7], label: 1 }, { ids: [4], label: 0 }], { padId: 0, maxLen: 3 });
    assert.deepEqual(b.inputIds.shape, [2, 3]);
    assert.deepEqual([...b.inputIds.toTypedArray()], [4, 5, 6, 4, 0, 0]);
    assert.deepEqual([...b.attentionMask.toTypedArray()], [1, 1, 1, 1, 0, 0]);
    assert.deepEqual([...b.labels.toTypedArray()], [1, 0]);
  });
  it('shuffled passes visit every example once per epoch and resume exactly', () => {
    const s = new ShuffledIndices(5, 2, 9);
    const epoch = [...s.next(), ...s.next(), ...s.next()].slice(0, 5);
    assert.deepEqual([...epoch].sort(), [0, 1, 2, 3, 4]);
    const st = s.state;
    const a = s.next();
    s.state = st;
    assert.deepEqual(s.next(), a);
  });
});
