/**
 * Training objectives: batch -> scalar loss (mean cross-entropy over the labelled positions).
 * - causal LM: next-token prediction; the batch's labels are already the inputs shifted by one.
 * - masked LM: predict the original ids at the masked positions (labels -100 elsewhere).
 * - seq2seq: teacher forcing; the decoder reads the target shifted right and predicts the target.
 * - sequence classification: one label per sequence from the pooled encoder output.
 */
import type { Tensor } from '../tensor/index.js';
import { fail } from '../tensor/index.js';
import { crossEntropy } from '../ops/index.js';
import type { Module } from '../nn/index.js';
import { BertForMaskedLM, BertForSequenceClassification, T5ForConditionalGeneration, Transformer } from '../models/index.js';
import type { CausalLMBatch, ClassificationBatch, MaskedLMBatch, Seq2SeqBatch } from './batches.js';
import { IGNORE_INDEX } from './batches.js';
import type { Objective } from './config.js';

export type AnyBatch = CausalLMBatch | MaskedLMBatch | Seq2SeqBatch | ClassificationBatch;

/** ids [B, T] -> logits [B, T, V] */
interface IdsToLogits {
  forward(inputIds: Tensor): Tensor;
}

export function causalLmLoss(model: Module, batch: CausalLMBatch): Tensor {
  const logits = (model as unknown as IdsToLogits).forward(batch.inputIds); // [B, T, V]
  return crossEntropy(logits, batch.labels, { ignoreIndex: IGNORE_INDEX });
}

export function maskedLmLoss(model: Module, batch: MaskedLMBatch): Tensor {
  if (!(model instanceof BertForMaskedLM)) fail('maskedLmLoss', `needs a masked-LM model (BertForMaskedLM), got ${model.constructor.name}`);
  return crossEntropy(model.forward(batch.inputIds), batch.labels, { ignoreIndex: IGNORE_INDEX }); // logits [B, T, V]
}

/** Teacher-forced decoder logits [B, T, V] of an encoder-decoder (T5 or the original Transformer). */
function seq2seqLogits(model: Module, batch: Seq2SeqBatch, what: string): Tensor {
  if (model instanceof T5ForConditionalGeneration) {
    return model.forward(batch.inputIds, batch.decoderInputIds, { attentionMask: batch.attentionMask, decoderAttentionMask: batch.decoderAttentionMask });
  }
  if (model instanceof Transformer) {
    return model.forward(batch.inputIds, batch.decoderInputIds, { srcMask: batch.attentionMask, tgtMask: batch.decoderAttentionMask });
  }
  return fail(what, `needs an encoder-decoder model (T5, Transformer), got ${model.constructor.name}`);
}

export function seq2seqLoss(model: Module, batch: Seq2SeqBatch): Tensor {
  const logits = seq2seqLogits(model, batch, 'seq2seqLoss'); // [B, T, V]
  return crossEntropy(logits, batch.labels, { ignoreIndex: IGNORE_INDEX });
}

export function classificationLoss(model: Module, batch: ClassificationBatch): Tensor {
  if (!(model instanceof BertForSequenceClassification)) fail('classificationLoss', `needs a sequence classifier (BertForSequenceClassification), got ${model.constructor.name}`);
  const logits = model.forward(batch.inputIds, { attentionMask: batch.attentionMask }); // [B, num_labels]
  return crossEntropy(logits, batch.labels);
}

/** The loss function of an objective. */
export function lossFor(objective: Objective): (model: Module, batch: AnyBatch) => Tensor {
  switch (objective) {
    case 'causal-lm': return (m, b) => causalLmLoss(m, b as CausalLMBatch);
    case 'mlm': return (m, b) => maskedLmLoss(m, b as MaskedLMBatch);
    case 'seq2seq': return (m, b) => seq2seqLoss(m, b as Seq2SeqBatch);
    case 'classification': return (m, b) => classificationLoss(m, b as ClassificationBatch);
    default: return fail('lossFor', `unknown objective '${String(objective)}'`);
  }
}

/**
 * One evaluation batch: the loss, the weight to average it with (labelled tokens, or sequences for
 * classification, whose loss is a mean over sequences), and counts for the accuracy figures:
 * classification `accuracy` (argmax = label); seq2seq `token_accuracy` (teacher-forced argmax =
 * target token) and `exact_match` (every target token right; with teacher forcing this is exactly
 * when greedy decoding reproduces the target, so it needs no decoding loop).
 */
export interface BatchEvaluation {
  loss: number;
  weight: number;
  /** name -> [correct, total] */
  counts: Record<string, [number, number]>;
}

function argmaxRows(logits: Tensor): Int32Array {
  return Int32Array.from(logits.argmax(-1).toTypedArray() as ArrayLike<number>);
}

export function evaluateSeq2seq(model: Module, batch: Seq2SeqBatch): BatchEvaluation {
  const logits = seq2seqLogits(model, batch, 'evaluateSeq2seq'); // [B, T, V]
  const loss = crossEntropy(logits, batch.labels, { ignoreIndex: IGNORE_INDEX }).item();
  const pred = argmaxRows(logits);
  const labels = batch.labels.toTypedArray();
  const [b, t] = batch.labels.shape as [number, number];
  let right = 0;
  let total = 0;
  let exact = 0;
  for (let i = 0; i < b; i++) {
    let all = true;
    for (let j = 0; j < t; j++) {
      const l = labels[i * t + j]!;
      if (l === IGNORE_INDEX) continue;
      total++;
      if (pred[i * t + j] === l) right++;
      else all = false;
    }
    if (all) exact++;
  }
  return { loss, weight: batch.tokens, counts: { token_accuracy: [right, total], exact_match: [exact, b] } };
}

export function evaluateClassification(model: Module, batch: ClassificationBatch): BatchEvaluation {
  if (!(model instanceof BertForSequenceClassification)) fail('evaluateClassification', `needs a sequence classifier (BertForSequenceClassification), got ${model.constructor.name}`);
  const logits = model.forward(batch.inputIds, { attentionMask: batch.attentionMask }); // [B, num_labels]
  const loss = crossEntropy(logits, batch.labels).item();
  const pred = argmaxRows(logits);
  const labels = batch.labels.toTypedArray();
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) right++;
  return { loss, weight: labels.length, counts: { accuracy: [right, labels.length] } };
}

/** The evaluation of an objective with accuracy figures (seq2seq, classification); null for the language-model objectives (loss only). */
export function evaluatorFor(objective: Objective): ((model: Module, batch: AnyBatch) => BatchEvaluation) | null {
  if (objective === 'seq2seq') return (m, b) => evaluateSeq2seq(m, b as Seq2SeqBatch);
  if (objective === 'classification') return (m, b) => evaluateClassification(m, b as ClassificationBatch);
  return null;
}
