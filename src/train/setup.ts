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
  BertForMaskedLM, createModel, loadModel, PRESETS, type ModelHead,
} from '../models/index.js';
import { loadTokenizerJson } from '../tokenizers/tokenizer-json-node.js';
import type { TrainConfig } from './config.js';
import { CausalLMBatches, MaskedLMBatches, sequentialCausalBatches, maskTokens, IGNORE_INDEX } from './batches.js';
import { loadDataset, readDatasetMeta, type DatasetMeta } from './dataset.js';
import { lossFor, type AnyBatch } from './objectives.js';
import type { BatchSource } from './trainer.js';

export interface TrainingRun {
  model: Module;
  modelConfig: Record<string, unknown>;
  loss: (model: Module, batch: AnyBatch) => Tensor;
  train: BatchSource<AnyBatch>;
  validation?: () => Iterable<AnyBatch>;
  /** tokenizer.json of the dataset, copied into checkpoints. */
  copyFiles: string[];
  meta: DatasetMeta;
}

const HEAD_OF: Record<TrainConfig['objective'], ModelHead> = {
  'causal-lm': 'lm',
  mlm: 'masked-lm',
  seq2seq: 'lm',
  classification: 'sequence-classification',
};

/** The model of a run: a Hugging Face folder (fine-tuning), or a preset / config.json fields (fresh). */
export function modelForRun(c: TrainConfig, vocabSize: number): { model: Module; modelConfig: Record<string, unknown> } {
  if (c.model && existsSync(c.model) && statSync(c.model).isDirectory()) {
    const folder = readHfFolder(c.model);
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
  if (typeof dict['model_type'] !== 'string') fail('train', "the model config has no model_type (set 'model' to a preset or 'modelConfig.model_type')");
  const model = createModel(dict, { seed: c.seed, head: HEAD_OF[c.objective] });
  const modelConfig = (model as unknown as { config?: { toDict?: () => Record<string, unknown> } }).config?.toDict?.() ?? dict;
  return { model, modelConfig };
}

/** Everything `attn train` needs for a config (causal LM and masked LM on a prepared token dataset). */
export function setupRun(c: TrainConfig): TrainingRun {
  if (!c.data) fail('train', "no 'data' folder given (write one with 'attn data prepare')");
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
    return fail('train', `objective '${c.objective}' trains from example files; 'attn train' on a token dataset supports causal-lm and mlm`);
  }
  return { model, modelConfig, loss: lossFor(c.objective), train: source, ...(validation ? { validation } : {}), copyFiles, meta };
}
