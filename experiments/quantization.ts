/**
 * What weight quantization costs a trained model: perplexity on held-out text and KL divergence
 * from the float32 model's next-token distributions (llama.cpp's `perplexity --kl-divergence`
 * figures), for attn's in-memory schemes (quantizeModel: int8 per channel, q8_0, q4_0) and for
 * the same model written to GGUF and read back (q8_0; q4_0, whose output matrix stays Q8_0).
 *
 *   node dist/experiments/quantization.js --model DIR|FILE.gguf [--windows N] [--seq-len T] [--out FILE.json]
 * The model must use the tokenizer of the prepared corpus (build/default-model/data, attn-tiny's BPE).
 */
import { writeFileSync } from 'node:fs';
import {
  GgufFile, compareLogits, fromTypedArray, loadGgufModel, loadModelFile, noGrad, perplexityOfLogits, quantizeModel, serializeGguf, tidy,
  toGgufExport, type CausalLM, type QuantScheme, type Tensor,
} from '../src/index.js';
import { corpus } from './common.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string | null): string | null => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : def);
const modelPath = opt('model', null);
if (!modelPath) throw new Error('usage: node dist/experiments/quantization.js --model DIR|FILE.gguf [--windows N] [--seq-len T] [--out FILE.json]');
const windows = Number(opt('windows', '16'));
const seqLen = Number(opt('seq-len', '256'));

const { val, vocabSize } = corpus();
const load = (): CausalLM => {
  const m = loadModelFile(modelPath, { keepQuantized: false });
  if (m.kind !== 'decoder-only') throw new Error(`${modelPath} is ${m.kind}, not a causal LM`);
  return m.model;
};
const base = load();
const modelVocab = Number((base as unknown as { config: { vocab_size: number } }).config.vocab_size);
if (modelVocab < vocabSize) throw new Error(`the model's vocabulary (${modelVocab}) is smaller than the corpus tokenizer's (${vocabSize})`);
if (val.length < windows * seqLen + 1) throw new Error(`the validation split has ${val.length} tokens, fewer than ${windows} windows of ${seqLen}`);

/** Logits of every window (held as [windows, T, V] rows) and the next tokens they predict. */
const inputs: Tensor[] = [];
const targets: number[] = [];
for (let w = 0; w < windows; w++) {
  const start = w * seqLen;
  inputs.push(fromTypedArray(Int32Array.from(val.subarray(start, start + seqLen)), [1, seqLen]));
  targets.push(...val.subarray(start + 1, start + seqLen + 1));
}
function logitsOf(model: CausalLM): Tensor {
  const parts = inputs.map((x) => tidy(() => noGrad(() => model.forward(x))));
  const v = parts[0]!.shape[2]!;
  const all = new Float32Array(windows * seqLen * v);
  parts.forEach((p, i) => all.set(p.toTypedArray(), i * seqLen * v));
  return fromTypedArray(all, [windows * seqLen, v]);
}

const reference = logitsOf(base);
const rows: Record<string, number | string>[] = [];
const report = (name: string, bytes: string, logits: Tensor | null) => {
  const ppl = perplexityOfLogits(logits ?? reference, targets);
  const c = logits ? compareLogits(reference, logits) : null;
  rows.push({ name, weights: bytes, perplexity: ppl, klMean: c?.klMean ?? 0, klMax: c?.klMax ?? 0, top1: c?.top1Agreement ?? 1 });
  console.log(`${name.padEnd(14)} ${bytes.padEnd(26)} perplexity ${ppl.toFixed(3).padStart(9)}  KL mean ${(c?.klMean ?? 0).toExponential(2)}  max ${(c?.klMax ?? 0).toExponential(2)}  top-1 ${(c?.top1Agreement ?? 1).toFixed(4)}`);
};
console.log(`${modelPath}: ${windows} windows of ${seqLen} held-out tokens (${targets.length} predictions)`);
report('float32', 'Linear weights 4 B/weight', null);
for (const scheme of ['int8', 'q8_0', 'q4_0'] as QuantScheme[]) {
  const m = load();
  const r = quantizeModel(m, { scheme });
  report(scheme, `${(r.bytesAfter / r.bytesBefore * 4).toFixed(3)} B/weight, ${r.quantized.length} layers`, logitsOf(m));
}
for (const fileType of ['q8_0', 'q4_0'] as const) {
  const exp = toGgufExport(base, { fileType });
  const bytes = serializeGguf({ metadata: exp.metadata, tensors: exp.tensors });
  const { model } = loadGgufModel(new GgufFile(bytes, `gguf-${fileType}`));
  report(`gguf ${fileType}`, `file ${(bytes.length / 1e6).toFixed(2)} MB`, logitsOf(model));
}
const out = opt('out', null);
if (out) {
  writeFileSync(out, `${JSON.stringify({ model: modelPath, windows, seqLen, rows }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
