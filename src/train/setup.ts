/**
 * From a TrainConfig to the pieces the Trainer runs: the model (a preset or config made fresh, or
 * a Hugging Face folder to fine-tune), its config.json fields, the loss of the objective, the
 * training batches and the validation batches of a prepared dataset (dataset.ts).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fail, fromTypedArray, Generator, type Tensor } from '../tensor/index.js';
import type { Module } from '../nn/index.js';
import { readHfFolder } from '../formats/index.js';
import {
  BertForMaskedLM, BertForSequenceClassification, createModel, loadModel, PRESETS, T5ForConditionalGeneration, Transformer, type ModelHead,
} from '../models/index.js';
import { loadTokenizerJson } from '../tokenizers/tokenizer-json-node.js';
import type { TrainConfig } from './config.js';
import {
  CausalLMBatches, classificationBatch, ExampleBatches, MaskedLMBatches, maskTokens, IGNORE_INDEX, seq2seqBatch, sequentialCausalBatches,
  sequentialExampleBatches, type ClassificationExample, type Seq2SeqExample,
} from './batches.js';
import { loadDataset, readDatasetMeta, type DatasetMeta } from './dataset.js';
import { loadExamples, readExamplesMeta, type ExamplesMeta } from './example-dataset.js';
import { evaluatorFor, lossFor, type AnyBatch, type BatchEvaluation } from './objectives.js';
import type { BatchSource } from './trainer.js';

export interface TrainingRun {
  model: Module;
  modelConfig: Record<string, unknown>;
  loss: (model: Module, batch: AnyBatch) => Tensor;
  train: BatchSource<AnyBatch>;
  validation?: () => Iterable<AnyBatch>;
  /** Accuracy figures per validation batch (seq2seq, classification). */
  evaluateBatch?: (model: Module, batch: AnyBatch) => BatchEvaluation;
  /** tokenizer.json of the dataset, copied into checkpoints. */
  copyFiles: string[];
  meta: DatasetMeta | ExamplesMeta;
  /** One line on the data: train and validation sizes. */
  dataSummary: string;
}

const HEAD_OF: Record<TrainConfig['objective'], ModelHead> = {
  'causal-lm': 'lm',
  mlm: 'masked-lm',
  seq2seq: 'lm',
  classification: 'sequence-classification',
};

/** The model of a run: a Hugging Face folder (fine-tuning), or a preset / config.json fields (fresh). */
export function modelForRun(
  c: TrainConfig, vocabSize: number, labels?: readonly string[], tokenIds: Record<string, number> = {},
): { model: Module; modelConfig: Record<string, unknown> } {
  if (c.model && existsSync(c.model) && statSync(c.model).isDirectory()) {
    const folder = readHfFolder(c.model);
    if (c.objective === 'classification') {
      const archs = folder.config['architectures'];
      if (!(Array.isArray(archs) && archs.includes('BertForSequenceClassification'))) {
        fail('train', `objective classification fine-tunes a BertForSequenceClassification folder; ${c.model} has architectures ${JSON.stringify(archs)}`);
      }
      const model = BertForSequenceClassification.fromPretrained(folder);
      if (labels && model.config.num_labels !== labels.length) fail('train', `${c.model} has ${model.config.num_labels} labels, the dataset ${labels.length}`);
      return { model, modelConfig: { ...folder.config } };
    }
    const loaded = loadModel(folder);
    return { model: loaded.model, modelConfig: { ...folder.config } };
  }
  let dict: Record<string, unknown> = {};
  if (c.model) {
    const preset = PRESETS[c.model];
    if (!preset) fail('train', `model '${c.model}' is neither a Hugging Face folder nor a preset (${Object.keys(PRESETS).join(', ')})`);
    dict = { ...preset.config };
  }
  dict = { ...dict, ...c.modelConfig };
  if (dict['vocab_size'] === undefined) dict['vocab_size'] = vocabSize;
  // the dataset's special ids (pad, decoder start, eos), unless modelConfig sets them: a fresh model's config.json then matches its data
  for (const [k, v] of Object.entries(tokenIds)) if (c.modelConfig[k] === undefined) dict[k] = v;
  if (typeof dict['model_type'] !== 'string') fail('train', "the model config has no model_type (set 'model' to a preset or 'modelConfig.model_type')");
  if (labels) {
    // the classifier's width and label names come from the dataset (transformers' id2label / label2id)
    if (dict['num_labels'] !== undefined && dict['num_labels'] !== labels.length) fail('train', `modelConfig.num_labels is ${String(dict['num_labels'])} but the dataset has ${labels.length} labels (${labels.join(', ')})`);
    dict['num_labels'] = labels.length;
    dict['id2label'] = Object.fromEntries(labels.map((l, i) => [String(i), l]));
  }
  const model = createModel(dict, { seed: c.seed, head: HEAD_OF[c.objective] });
  const modelConfig = (model as unknown as { config?: { toDict?: () => Record<string, unknown> } }).config?.toDict?.() ?? dict;
  if (labels) modelConfig['label2id'] = Object.fromEntries(labels.map((l, i) => [l, i]));
  return { model, modelConfig };
}

/** Everything `attn train` needs for a config: causal LM and masked LM on a token dataset, seq2seq and classification on an example dataset. */
export function setupRun(c: TrainConfig): TrainingRun {
  if (!c.data) fail('train', "no 'data' folder given (write one with 'attn data prepare')");
  if (c.objective === 'seq2seq' || c.objective === 'classification') return setupExampleRun(c);
  if (readExamplesMeta(c.data)) fail('train', `${c.data} holds ${readExamplesMeta(c.data)!.task} examples: train it with objective '${readExamplesMeta(c.data)!.task}', not '${c.objective}'`);
  const meta = readDatasetMeta(c.data);
  const train = loadDataset(c.data, 'train').tokens;
  const val = meta.splits.val.tokens > c.seqLen ? loadDataset(c.data, 'val').tokens : null;
  const { model, modelConfig } = modelForRun(c, meta.vocabSize);
  const vocab = Number(modelConfig['vocab_size']);
  if (vocab < meta.vocabSize) fail('train', `the model's vocab_size ${vocab} is smaller than the dataset's tokenizer (${meta.vocabSize})`);
  const tokenizerPath = join(c.data, 'tokenizer.json');
  const copyFiles = existsSync(tokenizerPath) ? [tokenizerPath] : [];
  let source: BatchSource<AnyBatch>;
  let validation: (() => Iterable<AnyBatch>) | undefined;
  const evalLimit = c.evalBatches > 0 ? { maxBatches: c.evalBatches } : {};
  if (c.objective === 'causal-lm') {
    source = new CausalLMBatches(train, { seqLen: c.seqLen, batchSize: c.batchSize, seed: c.seed + 1 });
    if (val) validation = () => sequentialCausalBatches(val, { seqLen: c.seqLen, batchSize: c.batchSize, ...evalLimit });
  } else if (c.objective === 'mlm') {
    if (!(model instanceof BertForMaskedLM)) fail('train', `objective mlm needs a BERT model, got ${model.constructor.name}`);
    if (!existsSync(tokenizerPath)) fail('train', `objective mlm needs the dataset's tokenizer.json (for [MASK]); ${c.data} has none`);
    const tok = loadTokenizerJson(tokenizerPath);
    const maskTokenId = tok.specialTokens.get('[MASK]') ?? tok.specialTokens.get('<mask>');
    if (maskTokenId === undefined) fail('train', 'objective mlm: the tokenizer has no [MASK] or <mask> token');
    const specialIds = new Set(tok.specialTokens.values());
    const mlm = { maskTokenId, vocabSize: vocab, specialIds };
    source = new MaskedLMBatches(train, { seqLen: c.seqLen, batchSize: c.batchSize, seed: c.seed + 1, ...mlm });
    if (val) {
      validation = function* () {
        // the same masks at every evaluation: a fixed generator over the windows in order
        const g = new Generator(c.seed + 3);
        const windows = Math.floor(val.length / c.seqLen);
        const limit = c.evalBatches > 0 ? c.evalBatches * c.batchSize : windows;
        for (let w = 0; w < Math.min(windows, limit); w += c.batchSize) {
          const rows = Math.min(c.batchSize, windows - w, limit - w);
          const x = new Int32Array(rows * c.seqLen);
          const y = new Int32Array(rows * c.seqLen);
          let tokens = 0;
          for (let r = 0; r < rows; r++) {
            const m = maskTokens(val.subarray((w + r) * c.seqLen, (w + r + 1) * c.seqLen), { ...mlm, generator: g });
            x.set(m.inputIds, r * c.seqLen);
            y.set(m.labels, r * c.seqLen);
            for (const l of m.labels) if (l !== IGNORE_INDEX) tokens++;
          }
          yield { inputIds: fromTypedArray(x, [rows, c.seqLen]), labels: fromTypedArray(y, [rows, c.seqLen]), tokens };
        }
      };
    }
  } else {
    return fail('train', `unknown objective '${String(c.objective)}'`);
  }
  const dataSummary = `${meta.splits.train.tokens} train / ${meta.splits.val.tokens} val tokens`;
  return { model, modelConfig, loss: lossFor(c.objective), train: source, ...(validation ? { validation } : {}), copyFiles, meta, dataSummary };
}

/** Padding and truncation of an example dataset's batches (sequences longer than seqLen are cut to seqLen). */
export function exampleBatchBuilder(meta: ExamplesMeta, seqLen: number): (examples: (Seq2SeqExample | ClassificationExample)[]) => AnyBatch {
  if (meta.task === 'seq2seq') {
    const o = { padId: meta.padId, decoderStartId: meta.decoderStartId ?? meta.padId, maxSourceLen: seqLen, maxTargetLen: seqLen };
    return (examples) => seq2seqBatch(examples as Seq2SeqExample[], o);
  }
  return (examples) => classificationBatch(examples as ClassificationExample[], { padId: meta.padId, maxLen: seqLen });
}

/** seq2seq (T5, the original Transformer) and sequence classification (BERT) on a dataset of examples (example-dataset.ts). */
function setupExampleRun(c: TrainConfig): TrainingRun {
  const meta = readExamplesMeta(c.data);
  if (!meta) return fail('train', `objective '${c.objective}' needs a dataset of examples ('attn data prepare --format ${c.objective}'); ${c.data} holds a token stream`);
  if (meta.task !== c.objective) fail('train', `${c.data} holds ${meta.task} examples, but the objective is '${c.objective}'`);
  const train = loadExamples(c.data, 'train');
  const val = meta.splits.val.examples > 0 ? loadExamples(c.data, 'val') : null;
  const labels = train.task === 'classification' ? train.labels : undefined;
  const tokenIds: Record<string, number> = { pad_token_id: meta.padId };
  if (meta.task === 'seq2seq') {
    tokenIds['decoder_start_token_id'] = meta.decoderStartId ?? meta.padId;
    if (meta.eosId !== null) tokenIds['eos_token_id'] = meta.eosId;
  }
  const { model, modelConfig } = modelForRun(c, meta.vocabSize, labels, tokenIds);
  if (c.objective === 'seq2seq' && !(model instanceof T5ForConditionalGeneration || model instanceof Transformer)) {
    fail('train', `objective seq2seq needs an encoder-decoder model (model_type t5 or transformer), got ${model.constructor.name}`);
  }
  if (c.objective === 'classification' && !(model instanceof BertForSequenceClassification)) {
    fail('train', `objective classification needs a BERT model (model_type bert), got ${model.constructor.name}`);
  }
  const vocab = Number(modelConfig['vocab_size']);
  if (vocab < meta.vocabSize) fail('train', `the model's vocab_size ${vocab} is smaller than the dataset's tokenizer (${meta.vocabSize})`);
  const tokenizerPath = join(c.data, 'tokenizer.json');
  const copyFiles = existsSync(tokenizerPath) ? [tokenizerPath] : [];
  const build = exampleBatchBuilder(meta, c.seqLen);
  const examples = train.examples as (Seq2SeqExample | ClassificationExample)[];
  const source = new ExampleBatches(examples, { batchSize: c.batchSize, seed: c.seed + 1, build });
  const valExamples = (val?.examples ?? []) as (Seq2SeqExample | ClassificationExample)[];
  const validation = val ? () => sequentialExampleBatches(valExamples, { batchSize: c.batchSize, maxBatches: c.evalBatches, build }) : undefined;
  const evaluateBatch = evaluatorFor(c.objective)!;
  const dataSummary = `${meta.splits.train.examples} train / ${meta.splits.val.examples} val ${meta.task} examples` + (labels ? ` (${labels.length} labels)` : '');
  return { model, modelConfig, loss: lossFor(c.objective), train: source, ...(validation ? { validation } : {}), evaluateBatch, copyFiles, meta, dataSummary };
}
