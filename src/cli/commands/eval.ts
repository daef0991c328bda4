import { parseArgs } from 'node:util';
import { loadModelFile } from '../../models/load-file-node.js';
import { causalLmLoss } from '../../train/objectives.js';
import { loadDataset } from '../../train/dataset.js';
import { sequentialCausalBatches } from '../../train/batches.js';
import { noGrad, tidy } from '../../tensor/index.js';
import { ProgressBar } from '../progress.js';
import { intOption, UsageError, type Command } from '../command.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'validation loss and perplexity of a causal LM on a prepared dataset',
  usage: `attn eval --model DIR|FILE.gguf --data DIR [--split val|train] [--seq-len N] [--batch-size N] [--max-batches N] [--json]

Runs the model (a Hugging Face folder, e.g. a training checkpoint or models/attn-tiny, or a
.gguf file) over
non-overlapping windows of the dataset split and reports the mean next-token cross-entropy
(nats per token) and the perplexity exp(loss).

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
