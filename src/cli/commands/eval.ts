import { parseArgs } from 'node:util';
import { loadModelFile } from '../../models/load-file-node.js';
import { causalLmLoss } from '../../train/objectives.js';
import { loadDataset } from '../../train/dataset.js';
import { sequentialCausalBatches, sequentialExampleBatches, type ClassificationExample, type Seq2SeqExample } from '../../train/batches.js';
import { loadExamples, readExamplesMeta, type ExamplesMeta } from '../../train/example-dataset.js';
import { evaluatorFor } from '../../train/objectives.js';
import { exampleBatchBuilder } from '../../train/setup.js';
import { readHfFolder } from '../../formats/index.js';
import { BertForSequenceClassification, loadModel } from '../../models/index.js';
import type { Module } from '../../nn/index.js';
import { noGrad, tidy } from '../../tensor/index.js';
import { ProgressBar } from '../progress.js';
import { intOption, UsageError, type Command } from '../command.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'validation loss and perplexity of a causal LM on a prepared dataset (loss and accuracy on seq2seq / classification examples)',
  usage: `attn eval --model DIR|FILE.gguf --data DIR [--split val|train] [--seq-len N] [--batch-size N] [--max-batches N] [--json]

Runs the model (a Hugging Face folder, e.g. a training checkpoint or models/attn-tiny, or a
.gguf file) over
non-overlapping windows of the dataset split and reports the mean next-token cross-entropy
(nats per token) and the perplexity exp(loss).
On an example dataset ('attn data prepare --format seq2seq|classification') the model is a T5 /
Transformer folder or a BertForSequenceClassification folder (what 'attn train' writes), --seq-len
truncates each sequence as in training, and the report adds accuracy (classification) or token
accuracy and exact match (seq2seq), as the trainer's evaluation computes them.

Options:
  --model P         Hugging Face folder or .gguf file of a decoder-only model
  --data DIR        a folder written by 'attn data prepare'
  --split S         val (default) or train
  --seq-len N       window length (default 256)
  --batch-size N    windows per forward pass (default 8)
  --max-batches N   stop after N batches (default: the whole split)
  --json            print {"loss", "perplexity", "tokens"}`,
  run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' }, data: { type: 'string' }, split: { type: 'string' }, 'seq-len': { type: 'string' },
        'batch-size': { type: 'string' }, 'max-batches': { type: 'string' }, json: { type: 'boolean' },
      },
      strict: true,
    });
    if (!values.model) throw new UsageError('--model DIR|FILE.gguf is required');
    if (!values.data) throw new UsageError('--data DIR is required');
    const split = values.split ?? 'val';
    if (split !== 'val' && split !== 'train') throw new UsageError(`--split: expected val or train, got '${split}'`);
    const seqLen = intOption('seq-len', values['seq-len'], 256, 1);
    const batchSize = intOption('batch-size', values['batch-size'], 8, 1);
    const maxBatches = intOption('max-batches', values['max-batches'], 0, 0);
    const exampleMeta = readExamplesMeta(values.data);
    if (exampleMeta) {
      evalExamples(values.model, values.data, exampleMeta, split, seqLen, batchSize, maxBatches, values.json ?? false);
      return;
    }
    const loaded = loadModelFile(values.model);
    if (loaded.kind !== 'decoder-only') throw new UsageError(`--model: attn eval measures causal LMs; ${values.model} is ${loaded.kind}`);
    const model = loaded.model.eval();
    const { meta, tokens } = loadDataset(values.data, split);
    const vocab = Number((model as unknown as { config: { vocab_size: number } }).config.vocab_size);
    if (vocab < meta.vocabSize) throw new UsageError(`the model's vocabulary (${vocab}) is smaller than the dataset's tokenizer (${meta.vocabSize}): not the same tokenizer`);
    const windows = Math.floor((tokens.length - 1) / seqLen);
    const total = maxBatches ? Math.min(maxBatches, Math.ceil(windows / batchSize)) : Math.ceil(windows / batchSize);
    const bar = values.json ? null : new ProgressBar(total, 'eval');
    let sum = 0;
    let count = 0;
    let done = 0;
    for (const batch of sequentialCausalBatches(tokens, { seqLen, batchSize, ...(maxBatches ? { maxBatches } : {}) })) {
      sum += tidy(() => noGrad(() => causalLmLoss(model, batch).item())) * batch.tokens;
      count += batch.tokens;
      batch.inputIds.dispose();
      batch.labels.dispose();
      bar?.update(++done, `loss ${(sum / count).toFixed(4)}`);
    }
    bar?.done();
    const loss = sum / count;
    if (values.json) console.log(JSON.stringify({ loss, perplexity: Math.exp(loss), tokens: count }));
    else console.log(`${values.model} on ${values.data} (${split}, ${count} tokens): loss ${loss.toFixed(4)}, perplexity ${Math.exp(loss).toFixed(2)}`);
  },
};

/** Loss and accuracy figures of a seq2seq or classification model on an example dataset's split. */
function evalExamples(modelPath: string, dataDir: string, meta: ExamplesMeta, split: 'train' | 'val', seqLen: number, batchSize: number, maxBatches: number, json: boolean): void {
  const folder = readHfFolder(modelPath);
  let model: Module;
  if (meta.task === 'classification') {
    const archs = folder.config['architectures'];
    if (!(Array.isArray(archs) && archs.includes('BertForSequenceClassification'))) {
      throw new UsageError(`--model: ${dataDir} holds classification examples; ${modelPath} is not a BertForSequenceClassification (architectures ${JSON.stringify(archs)})`);
    }
    const classifier = BertForSequenceClassification.fromPretrained(folder);
    if (classifier.config.num_labels !== meta.numLabels) throw new UsageError(`--model: ${modelPath} has ${classifier.config.num_labels} labels, ${dataDir} has ${meta.numLabels}`);
    model = classifier;
  } else {
    const loaded = loadModel(folder);
    if (loaded.kind !== 'encoder-decoder') throw new UsageError(`--model: ${dataDir} holds seq2seq examples; ${modelPath} is ${loaded.kind}, not an encoder-decoder (t5, transformer)`);
    model = loaded.model;
  }
  model.eval();
  const vocab = Number((model as unknown as { config: { vocab_size: number } }).config.vocab_size);
  if (vocab < meta.vocabSize) throw new UsageError(`the model's vocabulary (${vocab}) is smaller than the dataset's tokenizer (${meta.vocabSize}): not the same tokenizer`);
  const data = loadExamples(dataDir, split);
  const examples = data.examples as (Seq2SeqExample | ClassificationExample)[];
  const evaluate = evaluatorFor(meta.task)!;
  const build = exampleBatchBuilder(meta, seqLen);
  const total = maxBatches ? Math.min(maxBatches, Math.ceil(examples.length / batchSize)) : Math.ceil(examples.length / batchSize);
  const bar = json ? null : new ProgressBar(total, 'eval');
  let sum = 0;
  let weight = 0;
  let tokens = 0;
  let done = 0;
  const counts: Record<string, [number, number]> = {};
  for (const batch of sequentialExampleBatches(examples, { batchSize, maxBatches, build })) {
    const e = tidy(() => noGrad(() => evaluate(model, batch)));
    sum += e.loss * e.weight;
    weight += e.weight;
    tokens += batch.tokens;
    for (const [k, [right, n]] of Object.entries(e.counts)) counts[k] = [(counts[k]?.[0] ?? 0) + right, (counts[k]?.[1] ?? 0) + n];
    for (const v of Object.values(batch)) if (typeof v === 'object' && v !== null && 'dispose' in v) (v as { dispose(): void }).dispose();
    bar?.update(++done, `loss ${(sum / weight).toFixed(4)}`);
  }
  bar?.done();
  const loss = sum / weight;
  const figures = Object.fromEntries(Object.entries(counts).map(([k, [right, n]]) => [k, right / n]));
  const evaluated = Object.values(counts)[meta.task === 'seq2seq' ? 1 : 0]?.[1] ?? 0;
  if (json) console.log(JSON.stringify({ loss, perplexity: Math.exp(loss), tokens, examples: evaluated, ...figures }));
  else {
    console.log(`${modelPath} on ${dataDir} (${split}, ${evaluated} ${meta.task} examples): loss ${loss.toFixed(4)}, perplexity ${Math.exp(loss).toFixed(2)}` +
      Object.entries(figures).map(([k, v]) => `, ${k.replace('_', ' ')} ${(100 * v).toFixed(1)}%`).join(''));
  }
}
