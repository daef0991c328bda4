/**
 * BERT against tests/fixtures/models-bert.json (scripts/reference/bert.py, a torch
 * re-implementation of transformers' modeling_bert): a tiny random BERT with token types and a
 * padding mask, loaded from Hugging Face style folders. Masked-LM and classification logits must
 * match within max |diff| <= 1e-4, the MLM loss (labels -100 ignored) and the gradient of that
 * loss w.r.t. every parameter must match (atol 1e-5, rtol 1e-3).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  BertConfig, BertForMaskedLM, BertForSequenceClassification, Generator, crossEntropy, fromTypedArray, loadPretrained,
  mapSource, readHfFolder, type Tensor,
} from '../../src/index.js';
import { FIXTURES, assertClose, loadFixture, maxAbsDiff } from '../helpers.js';

interface BertFixture {
  reference: string;
  versions: Record<string, string>;
  folder: string;
  cls_folder: string;
  input_ids: number[][];
  token_type_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
  logits_shape: number[];
  logits: number[];
  loss: number;
  grads: Record<string, number[]>;
  cls_logits_shape: number[];
  cls_logits: number[];
}

function ints(rows: number[][]): Tensor {
  return fromTypedArray(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length]);
}

const doc = loadFixture<never>('models-bert.json') as unknown as BertFixture;
const inputs = () => ({ tokenTypeIds: ints(doc.token_type_ids), attentionMask: ints(doc.attention_mask) });

describe(`bert vs ${doc.reference}, torch ${doc.versions.torch}`, () => {
  const mlm = loadPretrained(readHfFolder(join(FIXTURES, doc.folder)));

  it('model_type bert loads a BertForMaskedLM, skipping the pooler, NSP head and tied decoder copies', () => {
    assert.ok(mlm instanceof BertForMaskedLM);
    assert.deepEqual([...mlm.stateDict().keys()].sort(), Object.keys(doc.grads).sort());
    const folder = readHfFolder(join(FIXTURES, doc.folder));
    for (const skipped of ['bert.pooler.dense.weight', 'cls.seq_relationship.weight', 'cls.predictions.decoder.weight']) {
      assert.ok(folder.weights.has(skipped), `the checkpoint holds ${skipped}`);
    }
  });

  it('masked-LM logits match within max |diff| <= 1e-4, and the loss over labelled positions matches', () => {
    const model = mlm as BertForMaskedLM;
    const logits = model.forward(ints(doc.input_ids), inputs());
    assert.deepEqual([...logits.shape], doc.logits_shape);
    const diff = maxAbsDiff(logits.toTypedArray(), doc.logits);
    assert.ok(diff <= 1e-4, `max |logits diff| ${diff}`);
    const loss = crossEntropy(logits.reshape(-1, logits.shape[2]!), ints(doc.labels).reshape(-1));
    assert.ok(Math.abs(loss.item() - doc.loss) <= 1e-5 * Math.abs(doc.loss), `loss ${loss.item()} vs ${doc.loss}`);
  });

  it('the padding mask matters: without it the logits of the padded rows differ', () => {
    const model = mlm as BertForMaskedLM;
    const logits = model.forward(ints(doc.input_ids), { tokenTypeIds: ints(doc.token_type_ids) });
    assert.ok(maxAbsDiff(logits.toTypedArray(), doc.logits) > 1e-2);
  });

  it('the gradient of the MLM loss w.r.t. every parameter matches (the tied word embeddings get both paths)', () => {
    const model = mlm as BertForMaskedLM;
    model.zeroGrad();
    const logits = model.forward(ints(doc.input_ids), inputs());
    crossEntropy(logits.reshape(-1, logits.shape[2]!), ints(doc.labels).reshape(-1)).backward();
    const params = model.stateDict();
    for (const [name, expected] of Object.entries(doc.grads)) {
      const p = params.get(name);
      assert.ok(p?.grad, `${name}: no gradient`);
      assertClose(p.grad, expected, { atol: 1e-5, rtol: 1e-3 }, `bert grad ${name}`);
    }
  });

  it('sequence-classification logits match within max |diff| <= 1e-4 (num_labels from id2label)', () => {
    const folder = readHfFolder(join(FIXTURES, doc.cls_folder));
    const model = BertForSequenceClassification.fromPretrained(folder);
    assert.equal(model.config.num_labels, 3);
    const logits = model.forward(ints(doc.input_ids), inputs());
    assert.deepEqual([...logits.shape], doc.cls_logits_shape);
    const diff = maxAbsDiff(logits.toTypedArray(), doc.cls_logits);
    assert.ok(diff <= 1e-4, `max |classification logits diff| ${diff}`);
  });
});

describe('bert config and loading', () => {
  const tiny = { vocab_size: 16, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 12, max_position_embeddings: 8 };

  it('fromDict reads HF names, ignores unknown keys and rejects what it cannot run', () => {
    const c = BertConfig.fromDict({ ...tiny, hidden_act: 'gelu_new', architectures: ['BertModel'], num_labels: 5 });
    assert.equal(c.hidden_act, 'gelu_new');
    assert.equal(c.num_labels, 5);
    assert.equal((c as unknown as Record<string, unknown>)['architectures'], undefined);
    assert.throws(() => BertConfig.fromDict({ ...tiny, hidden_act: 'swish' }), /hidden_act 'swish' is not supported/);
    assert.throws(() => BertConfig.fromDict({ ...tiny, num_attention_heads: 3 }), /hidden_size 8 is not divisible by num_attention_heads 3/);
    assert.throws(() => BertConfig.fromDict({ ...tiny, position_embedding_type: 'relative_key' }), /position_embedding_type 'relative_key' is not supported/);
  });

  it('loads TF-converted names (LayerNorm.gamma/beta, no bert. prefix) and names what is missing', () => {
    const cfg = BertConfig.fromDict(tiny);
    const src = new BertForMaskedLM(cfg, { generator: new Generator(3) });
    const renamed = new Map<string, Tensor>();
    for (const [k, v] of src.stateDict()) {
      renamed.set(k.replace(/^bert\./, '').replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta'), v.detach());
    }
    const dst = new BertForMaskedLM(cfg, { generator: new Generator(4) }).loadWeights(mapSource(renamed));
    const ids = fromTypedArray(Int32Array.from([1, 2, 3, 4]), [1, 4]);
    assert.equal(maxAbsDiff(dst.forward(ids).toTypedArray(), src.forward(ids).toTypedArray()), 0);
    renamed.delete('cls.predictions.bias');
    assert.throws(() => new BertForMaskedLM(cfg).loadWeights(mapSource(renamed)), /BertForMaskedLM.loadWeights: missing tensors: cls.predictions.bias/);
    assert.throws(() => new BertForSequenceClassification(cfg).loadWeights(mapSource(renamed)), /missing tensors: .*bert.pooler.dense.weight.*classifier.weight/);
  });
});
