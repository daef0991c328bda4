/**
 * The four objectives train the families they are for: losses fall over a few AdamW steps on
 * learnable synthetic tasks, and padding never changes a loss (its labels are ignored and its
 * keys masked).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyOverrides, classificationBatch, classificationLoss, createModel, Generator, lossFor, MaskedLMBatches, maskedLmLoss,
  seq2seqBatch, seq2seqLoss, tidy, noGrad, TRAIN_DEFAULTS, Trainer, type AnyBatch, type Module,
} from '../../src/index.js';

function trainLosses(model: Module, objective: 'mlm' | 'seq2seq' | 'classification', next: () => AnyBatch, steps: number, lr: number): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'attn-obj-'));
  try {
    const config = applyOverrides(TRAIN_DEFAULTS, { objective, steps, warmupSteps: 1, lr, minLr: lr / 10, weightDecay: 0, outDir: dir });
    const t = new Trainer({ model, modelConfig: {}, config, loss: lossFor(objective), train: { next, state: null } });
    model.train();
    return Array.from({ length: steps }, () => t.trainStep().loss);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('objectives', () => {
  it('seq2seq (T5, teacher forcing): learns to copy; padding does not change the loss', () => {
    const model = createModel({ model_type: 't5', vocab_size: 20, d_model: 32, d_kv: 8, d_ff: 64, num_layers: 1, num_heads: 4 }, { seed: 1 });
    const g = new Generator(2);
    const example = () => {
      const n = 2 + g.randint(4);
      const src = Array.from({ length: n }, () => 3 + g.randint(17));
      return { source: src, target: [...src, 1] };
    };
    const losses = trainLosses(model, 'seq2seq', () => seq2seqBatch(Array.from({ length: 8 }, example), { padId: 0, decoderStartId: 0 }), 60, 1e-2);
    // below the uniform guess ln 20 by a margin: the decoder reads the source through cross-attention
    assert.ok(mean(losses.slice(-5)) < Math.log(20) - 0.3, `loss ${losses[0]} -> ${losses.at(-1)}`);
    model.eval();
    const pair = [{ source: [5, 6, 7], target: [5, 6, 7, 1] }, { source: [9], target: [9, 1] }];
    const a = tidy(() => noGrad(() => seq2seqLoss(model, seq2seqBatch(pair, { padId: 0, decoderStartId: 0 })).item()));
    const b = tidy(() => noGrad(() => seq2seqLoss(model, seq2seqBatch(pair, { padId: 13, decoderStartId: 0 })).item()));
    assert.ok(Math.abs(a - b) < 1e-5, `pad id changed the loss: ${a} vs ${b}`);
  });

  it('sequence classification (BERT): learns which of two tokens a sequence holds; padding ignored', () => {
    const model = createModel({ model_type: 'bert', vocab_size: 30, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 32, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }, { seed: 3, head: 'sequence-classification' });
    const g = new Generator(4);
    const example = () => {
      const label = g.randint(2);
      const ids = Array.from({ length: 3 + g.randint(6) }, () => 5 + g.randint(20));
      ids[g.randint(ids.length)] = label === 1 ? 3 : 4;
      for (let i = 0; i < ids.length; i++) if (ids[i] === (label === 1 ? 4 : 3)) ids[i] = 7;
      return { ids, label };
    };
    const losses = trainLosses(model, 'classification', () => classificationBatch(Array.from({ length: 16 }, example), { padId: 0 }), 40, 3e-3);
    assert.ok(mean(losses.slice(-5)) < 0.5 * mean(losses.slice(0, 5)), `loss ${losses[0]} -> ${losses.at(-1)}`);
    model.eval();
    const ex = [{ ids: [5, 3, 9], label: 1 }, { ids: [4, 6, 8, 10, 12, 14], label: 0 }];
    const a = tidy(() => noGrad(() => classificationLoss(model, classificationBatch(ex, { padId: 0 })).item()));
    const b = tidy(() => noGrad(() => classificationLoss(model, classificationBatch(ex, { padId: 17 })).item()));
    assert.ok(Math.abs(a - b) < 1e-5, `pad id changed the loss: ${a} vs ${b}`);
  });

  it('masked LM (BERT): the loss on masked positions falls on a predictable stream', () => {
    const model = createModel({ model_type: 'bert', vocab_size: 24, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 32, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }, { seed: 5 });
    const stream = Uint16Array.from({ length: 5000 }, (_, i) => 4 + ((i * 3) % 8)); // 8 of the 24 ids, in a fixed cycle
    const batches = new MaskedLMBatches(stream, { seqLen: 16, batchSize: 16, seed: 6, maskTokenId: 3, vocabSize: 24, specialIds: new Set([0, 1, 2, 3]) });
    const losses = trainLosses(model, 'mlm', () => batches.next(), 60, 1e-2);
    assert.ok(mean(losses.slice(-5)) < Math.log(24) - 1, `loss ${losses[0]} -> ${losses.at(-1)} (uniform: ln 24 = ${Math.log(24).toFixed(2)})`);
    assert.throws(() => maskedLmLoss(createModel({ model_type: 'gpt2', vocab_size: 24, n_embd: 8, n_layer: 1, n_head: 2, n_positions: 16 }), batches.next()), /needs a masked-LM model/);
  });
});
