/**
 * The original Transformer against torch.nn.Transformer itself (tests/fixtures/models-transformer.json
 * from scripts/reference/transformer.py): torch's state dict (in_proj_weight, linear1, norm1,
 * multihead_attn, encoder.norm, decoder.norm) plus the shared embedding loads by name; with a
 * causal target mask and source/target padding, logits must match within max |diff| <= 1e-4, and
 * the loss and the gradient w.r.t. every parameter must match (atol 1e-5, rtol 1e-3).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  Transformer, TransformerConfig, crossEntropy, fromTypedArray, mapSource, readHfFolder, sinusoidalPositions, type Tensor,
} from '../../src/index.js';
import { FIXTURES, assertClose, loadFixture, maxAbsDiff } from '../helpers.js';

interface TransformerFixture {
  reference: string;
  versions: Record<string, string>;
  folder: string;
  src_ids: number[][];
  tgt_ids: number[][];
  src_key_padding_mask: boolean[][];
  tgt_key_padding_mask: boolean[][];
  targets: number[][];
  logits_shape: number[];
  logits: number[];
  loss: number;
  grads: Record<string, number[]>;
}

function ints(rows: number[][]): Tensor {
  return fromTypedArray(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length]);
}

/** torch's key_padding_mask (true = padding) -> attn's padding mask (1 = token). */
function tokens(pad: boolean[][]): Tensor {
  return ints(pad.map((row) => row.map((p) => (p ? 0 : 1))));
}

const doc = loadFixture<never>('models-transformer.json') as unknown as TransformerFixture;

describe(`transformer vs ${doc.reference}, torch ${doc.versions.torch}`, () => {
  const model = Transformer.fromPretrained(readHfFolder(join(FIXTURES, doc.folder)));
  const masks = () => ({ srcMask: tokens(doc.src_key_padding_mask), tgtMask: tokens(doc.tgt_key_padding_mask) });

  it("loads torch's state dict names exactly (in_proj_weight, linear1, norm1..3, encoder.norm, decoder.norm)", () => {
    assert.deepEqual([...model.stateDict().keys()].sort(), Object.keys(doc.grads).sort());
    assert.deepEqual([...model.encoder.layers.at(0).selfAttn.inProjWeight.shape], [96, 32]);
  });

  it('logits match within max |diff| <= 1e-4 with a causal target mask and source/target padding', () => {
    const logits = model.forward(ints(doc.src_ids), ints(doc.tgt_ids), masks());
    assert.deepEqual([...logits.shape], doc.logits_shape);
    const diff = maxAbsDiff(logits.toTypedArray(), doc.logits);
    assert.ok(diff <= 1e-4, `max |logits diff| ${diff}`);
    const loss = crossEntropy(logits.reshape(-1, logits.shape[2]!), ints(doc.targets).reshape(-1));
    assert.ok(Math.abs(loss.item() - doc.loss) <= 1e-5 * Math.abs(doc.loss), `loss ${loss.item()} vs ${doc.loss}`);
  });

  it('the source padding mask matters (dropping it changes the logits of the padded row)', () => {
    const logits = model.forward(ints(doc.src_ids), ints(doc.tgt_ids), { tgtMask: tokens(doc.tgt_key_padding_mask) });
    assert.ok(maxAbsDiff(logits.toTypedArray(), doc.logits) > 1e-2);
  });

  it('the gradient of the loss w.r.t. every parameter matches', () => {
    model.zeroGrad();
    const logits = model.forward(ints(doc.src_ids), ints(doc.tgt_ids), masks());
    crossEntropy(logits.reshape(-1, logits.shape[2]!), ints(doc.targets).reshape(-1)).backward();
    const params = model.stateDict();
    for (const [name, expected] of Object.entries(doc.grads)) {
      const p = params.get(name);
      assert.ok(p?.grad, `${name}: no gradient`);
      assertClose(p.grad, expected, { atol: 1e-5, rtol: 1e-3 }, `transformer grad ${name}`);
    }
  });
});

describe('transformer config, positions and loading', () => {
  it('sinusoidal positions: PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(same)', () => {
    const pe = sinusoidalPositions(3, 4).toTypedArray();
    const expected = [0, 1, 0, 1, Math.sin(1), Math.cos(1), Math.sin(0.01), Math.cos(0.01), Math.sin(2), Math.cos(2), Math.sin(0.02), Math.cos(0.02)];
    assertClose(pe, expected, { atol: 1e-7, rtol: 0 }, 'PE');
  });

  it("fromDict uses nn.Transformer's argument names and rejects norm_first and unknown activations", () => {
    const c = TransformerConfig.fromDict({ vocab_size: 10, d_model: 8, nhead: 2, batch_first: true });
    assert.equal(c.dim_feedforward, 2048);
    assert.equal(c.num_encoder_layers, 6);
    assert.throws(() => TransformerConfig.fromDict({ d_model: 8, nhead: 3 }), /d_model 8 is not divisible by nhead 3/);
    assert.throws(() => TransformerConfig.fromDict({ norm_first: true }), /norm_first/);
    assert.throws(() => TransformerConfig.fromDict({ activation: 'tanh' }), /activation 'tanh' is not supported/);
  });

  it('names missing and mis-shaped tensors', () => {
    const cfg = TransformerConfig.fromDict({ vocab_size: 10, d_model: 8, nhead: 2, num_encoder_layers: 1, num_decoder_layers: 1, dim_feedforward: 16 });
    const state = new Map([...new Transformer(cfg).stateDict()].map(([k, v]) => [k, v.detach()]));
    state.delete('decoder.norm.weight');
    state.set('encoder.layers.0.self_attn.in_proj_weight', fromTypedArray(new Float32Array(64), [8, 8]));
    assert.throws(() => new Transformer(cfg).loadWeights(mapSource(state)), (e: Error) => {
      assert.match(e.message, /Transformer.loadWeights: missing tensors: decoder.norm.weight/);
      assert.match(e.message, /encoder.layers.0.self_attn.in_proj_weight: expected shape \[24,8\], got \[8,8\]/);
      return true;
    });
  });
});
