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

export function seq2seqLoss(model: Module, batch: Seq2SeqBatch): Tensor {
  let logits: Tensor; // [B, T, V]
  if (model instanceof T5ForConditionalGeneration) {
    logits = model.forward(batch.inputIds, batch.decoderInputIds, { attentionMask: batch.attentionMask, decoderAttentionMask: batch.decoderAttentionMask });
  } else if (model instanceof Transformer) {
    logits = model.forward(batch.inputIds, batch.decoderInputIds, { srcMask: batch.attentionMask, tgtMask: batch.decoderAttentionMask });
  } else {
    return fail('seq2seqLoss', `needs an encoder-decoder model (T5, Transformer), got ${model.constructor.name}`);
  }
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
