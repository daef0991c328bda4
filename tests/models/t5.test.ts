/**
 * T5 v1.0 (relu, tied, d_model^-0.5 rescale) and v1.1 (gated-gelu, untied lm_head) against a torch
 * re-implementation of transformers' modeling_t5.py (tests/fixtures/models-t5.json from
 * scripts/reference/t5.py): HF tensor names load (tied duplicates skipped); with encoder padding,
 * logits match within max |diff| <= 1e-4, loss within 1e-5 relative, the gradient of the loss
 * w.r.t. every parameter within atol 1e-5, rtol 1e-3; _relative_position_bucket matches exactly
 * for relative positions -300..300 in both directions and several bucket settings.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  T5Config, T5ForConditionalGeneration, crossEntropy, fromTypedArray, mapSource, readHfFolder, relativePositionBucket,
  relativePositionBuckets, type T5ForwardOptions, type Tensor,
} from '../../src/index.js';
import { FIXTURES, assertClose, loadFixture, maxAbsDiff } from '../helpers.js';

interface T5Case {
  folder: string;
  config: Record<string, unknown>;
  input_ids: number[][];
  attention_mask: number[][];
  decoder_input_ids: number[][];
  labels: number[][];
  logits_shape: number[];
  logits: number[];
  loss: number;
  grads: Record<string, number[]>;
  checkpoint_names: string[];
}

interface BucketCase {
  bidirectional: boolean;
  num_buckets: number;
  max_distance: number;
  relative_position: number[];
  bucket: number[];
}

interface T5Fixture {
  reference: string;
  versions: Record<string, string>;
  models: T5Case[];
  buckets: BucketCase[];
}

function ints(rows: number[][]): Tensor {
  return fromTypedArray(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length]);
}

const doc = loadFixture<never>('models-t5.json') as unknown as T5Fixture;

for (const c of doc.models) {
  describe(`${c.folder} (${String(c.config['feed_forward_proj'])}, tied ${String(c.config['tie_word_embeddings'])}) vs ${doc.reference}, torch ${doc.versions.torch}`, () => {
    const model = T5ForConditionalGeneration.fromPretrained(readHfFolder(join(FIXTURES, c.folder)));
    const run = (opts: T5ForwardOptions = { attentionMask: ints(c.attention_mask) }) => model.forward(ints(c.input_ids), ints(c.decoder_input_ids), opts);
    const lossOf = (logits: Tensor) => crossEntropy(logits.reshape(-1, logits.shape[2]!), ints(c.labels).reshape(-1));

    it('has exactly the parameters of the reference (relative_attention_bias in block 0 only, lm_head iff untied)', () => {
      assert.deepEqual([...model.stateDict().keys()].sort(), Object.keys(c.grads).sort());
      assert.equal(model.encoder.block.length, c.config['num_layers']);
      assert.equal(model.decoder.block.length, c.config['num_decoder_layers']);
      assert.equal(model.lmHead === null, c.config['tie_word_embeddings']);
    });

    it('logits match within max |diff| <= 1e-4 with encoder padding; the loss matches', () => {
      const logits = run();
      assert.deepEqual([...logits.shape], c.logits_shape);
      const diff = maxAbsDiff(logits.toTypedArray(), c.logits);
      assert.ok(diff <= 1e-4, `max |logits diff| ${diff}`);
      const loss = lossOf(logits).item();
      assert.ok(Math.abs(loss - c.loss) <= 1e-5 * Math.abs(c.loss), `loss ${loss} vs ${c.loss}`);
    });

    it('the encoder padding mask matters (dropping it changes the logits)', () => {
      assert.ok(maxAbsDiff(run({}).toTypedArray(), c.logits) > 1e-3);
    });

    it('decoder padding hides padded keys only: positions before the padding keep the reference logits', () => {
      const [b, t] = [c.decoder_input_ids.length, c.decoder_input_ids[0]!.length];
      const keep = t - 2; // the last two decoder positions of every row are padding
      const decMask = ints(Array.from({ length: b }, () => Array.from({ length: t }, (_, j) => (j < keep ? 1 : 0))));
      const logits = run({ attentionMask: ints(c.attention_mask), decoderAttentionMask: decMask }).toTypedArray();
      const v = c.logits_shape[2]!;
      for (let r = 0; r < b; r++) {
        const at = (x: ArrayLike<number>, j: number) => Array.from(x).slice((r * t + j) * v, (r * t + j + 1) * v);
        for (let j = 0; j < keep; j++) assert.ok(maxAbsDiff(at(logits, j), at(c.logits, j)) <= 1e-4, `row ${r} position ${j}`);
        assert.ok(maxAbsDiff(at(logits, t - 1), at(c.logits, t - 1)) > 1e-3, `row ${r}: padding must change the last position`);
      }
    });

    it('the gradient of the loss w.r.t. every parameter matches', () => {
      model.zeroGrad();
      lossOf(run()).backward();
      const params = model.stateDict();
      for (const [name, expected] of Object.entries(c.grads)) {
        const p = params.get(name);
        assert.ok(p?.grad, `${name}: no gradient`);
        assertClose(p.grad, expected, { atol: 1e-5, rtol: 1e-3 }, `${c.folder} grad ${name}`);
      }
    });
  });
}

describe('T5 relative position buckets (_relative_position_bucket)', () => {
  for (const b of doc.buckets) {
    it(`${b.bidirectional ? 'bidirectional' : 'causal'}, ${b.num_buckets} buckets, max distance ${b.max_distance}: exact for -300..300`, () => {
      const opts = { bidirectional: b.bidirectional, numBuckets: b.num_buckets, maxDistance: b.max_distance };
      const ours = b.relative_position.map((r) => relativePositionBucket(r, opts));
      assert.deepEqual(ours, b.bucket);
    });
  }

  it('relativePositionBuckets lays out key - query over [Tq, Tk]', () => {
    const opts = { bidirectional: true, numBuckets: 32, maxDistance: 128 };
    const t = relativePositionBuckets(2, 3, opts);
    assert.deepEqual([...t.shape], [2, 3]);
    assert.deepEqual([...t.toTypedArray()], [0, 17, 18, 1, 0, 17]); // keys after the query use the upper half
    const causal = relativePositionBuckets(2, 3, { ...opts, bidirectional: false });
    assert.deepEqual([...causal.toTypedArray()], [0, 0, 0, 1, 0, 0]); // future keys collapse to bucket 0
  });
});

describe('T5 config and loading', () => {
  it('fromDict: HF names, num_decoder_layers defaults to num_layers, feed_forward_proj is parsed', () => {
    const c = T5Config.fromDict({ d_model: 8, num_layers: 3, feed_forward_proj: 'gated-gelu', architectures: ['x'] });
    assert.equal(c.num_decoder_layers, 3);
    assert.equal(c.feedForward().gated, true);
    assert.equal(T5Config.fromDict({ num_layers: 3, num_decoder_layers: 1 }).num_decoder_layers, 1);
    assert.throws(() => T5Config.fromDict({ feed_forward_proj: 'gated-tanh' }), /activation 'tanh' is not supported/);
    assert.throws(() => T5Config.fromDict({ feed_forward_proj: 'fancy-relu' }), /not of the form/);
    assert.throws(() => T5Config.fromDict({ d_kv: 0 }), /d_kv must be a positive integer/);
  });

  it('skips tied duplicates in a full state dict, names missing and mis-shaped tensors', () => {
    const tied = doc.models.find((m) => m.config['tie_word_embeddings'] === true)!;
    assert.ok(tied.checkpoint_names.includes('encoder.embed_tokens.weight') && tied.checkpoint_names.includes('lm_head.weight'));
    const cfg = T5Config.fromDict({ vocab_size: 10, d_model: 8, d_kv: 4, d_ff: 16, num_layers: 1, num_heads: 2, relative_attention_num_buckets: 4 });
    const state = new Map([...new T5ForConditionalGeneration(cfg).stateDict()].map(([k, v]) => [k, v.detach()]));
    state.delete('decoder.final_layer_norm.weight');
    state.set('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', fromTypedArray(new Float32Array(8), [2, 4]));
    assert.throws(() => new T5ForConditionalGeneration(cfg).loadWeights(mapSource(state)), (e: Error) => {
      assert.match(e.message, /T5ForConditionalGeneration.loadWeights: missing tensors: decoder.final_layer_norm.weight/);
      assert.match(e.message, /relative_attention_bias.weight: expected shape \[4,2\], got \[2,4\]/);
      return true;
    });
  });
});
