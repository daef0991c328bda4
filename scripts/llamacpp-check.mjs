#!/usr/bin/env node
// Runs a GGUF file attn wrote (attn convert --out FILE.gguf) in llama.cpp and in attn, and prints
// how far they agree: tokenizer ids on a mixed corpus, logits at every position of a prompt (max
// difference, KL, top-1), and greedy continuations.
//
// llama.cpp comes from the npm package node-llama-cpp (prebuilt CPU binaries), which is NOT a
// dependency of attn: install it in a scratch folder outside the repository and point --llama-cpp
// at that folder (build attn first: npm run build):
//   mkdir /tmp/llamacpp && cd /tmp/llamacpp && npm init -y &&
//     npm i node-llama-cpp @node-llama-cpp/linux-x64 --omit=optional --ignore-scripts
//   node scripts/llamacpp-check.mjs --llama-cpp /tmp/llamacpp --gguf model.gguf [--prompt TEXT] [--steps N] [--activations q8_0]
// --activations q8_0 runs attn's Q8_0/Q4_0 layers with llama.cpp's arithmetic (inputs quantized to
// q8_0 blocks); the default keeps them float32.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const { values } = parseArgs({
  options: { 'llama-cpp': { type: 'string' }, gguf: { type: 'string' }, prompt: { type: 'string' }, steps: { type: 'string' }, activations: { type: 'string' } },
});
if (!values['llama-cpp'] || !values.gguf) {
  console.error('usage: node scripts/llamacpp-check.mjs --llama-cpp DIR --gguf FILE [--prompt TEXT] [--steps N]');
  process.exit(2);
}
const A = await import(pathToFileURL(join(process.cwd(), 'dist/src/index.js')).href);
const { getLlama } = await import(pathToFileURL(join(values['llama-cpp'], 'node_modules/node-llama-cpp/dist/index.js')).href);
const prompt = values.prompt ?? 'The President said that the Congress of the United States';
const steps = Number(values.steps ?? 24);

const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath: values.gguf });
const file = A.readGguf(values.gguf);
const { tokenizer } = A.tokenizerFromGguf(file.plainMetadata());
const vocab = Number(file.value(`${file.value('general.architecture')}.vocab_size`));

// tokenizer: State of the Union prose, attn's own source code, Unicode edge cases
const sotu = join('node_modules', '@stdlib', 'datasets-sotu', 'data');
const docs = readdirSync(sotu).filter((n) => n.endsWith('.txt')).sort().slice(0, 40).map((n) => readFileSync(join(sotu, n), 'utf8'));
docs.push(readFileSync('src/formats/gguf.ts', 'utf8'), readFileSync('src/tokenizers/sentencepiece.ts', 'utf8'));
docs.push('Ünïcödé — “quotes” 日本語のテキスト 🙂👍🏽 عربى  \t\n\n  tabs\tand  spaces   x\r\n', "don't I'LL you've 12345678 3.14159 a1b2c3");
let tokens = 0;
let differ = 0;
for (const d of docs) {
  const ours = tokenizer.encode(d, { addSpecialTokens: false });
  tokens += ours.length;
  if (JSON.stringify(Array.from(model.tokenize(d))) !== JSON.stringify(ours)) differ++;
}
console.log(`tokenizer: ${docs.length} documents, ${tokens} tokens; llama.cpp's ids differ on ${differ} documents`);

const ids = Array.from(model.tokenize(prompt));
const ctx = await model.createContext({ contextSize: Math.max(256, ids.length + steps + 8), threads: 2 });
const seq = ctx.getSequence();
const evaluated = await seq.controlledEvaluate(ids.map((t) => [t, { generateNext: { logits: true } }]));
const theirs = new Float32Array(ids.length * vocab);
evaluated.forEach((o, p) => { for (const [tok, v] of o.next.logits) theirs[p * vocab + tok] = v; });
const { model: ours } = A.loadGgufModel(file, { activations: values.activations ?? 'float32' });
const ourLogits = A.noGrad(() => ours.forward(A.fromTypedArray(Int32Array.from(ids), [1, ids.length])));
const cmp = A.compareLogits(ourLogits, A.fromTypedArray(theirs, [1, ids.length, vocab]));
let scale = 0;
for (const v of ourLogits.toTypedArray()) scale = Math.max(scale, Math.abs(v));
console.log(`logits: ${ids.length} positions x ${vocab}: max |attn - llama.cpp| ${cmp.maxAbsDiff.toExponential(3)} (max |logit| ${scale.toFixed(2)}), ` +
  `KL(attn || llama.cpp) mean ${cmp.klMean.toExponential(3)} max ${cmp.klMax.toExponential(3)}, top-1 agreement ${cmp.top1Agreement.toFixed(4)}`);
await seq.clearHistory();

const theirGen = [];
for await (const tok of seq.evaluate(ids, { temperature: 0 })) {
  theirGen.push(tok);
  if (theirGen.length >= steps) break;
}
const ourGen = [];
const context = [...ids];
for (let s = 0; s < steps; s++) {
  const l = A.noGrad(() => ours.forward(A.fromTypedArray(Int32Array.from(context), [1, context.length])));
  const last = l.toTypedArray().subarray((context.length - 1) * vocab);
  let best = 0;
  for (let j = 1; j < vocab; j++) if (last[j] > last[best]) best = j;
  ourGen.push(best);
  context.push(best);
}
let agree = 0;
while (agree < steps && theirGen[agree] === ourGen[agree]) agree++;
console.log(`greedy: the first ${agree} of ${steps} tokens agree\n  llama.cpp ${JSON.stringify(model.detokenize(theirGen))}\n  attn      ${JSON.stringify(tokenizer.decode(ourGen))}`);
await ctx.dispose();
await model.dispose();
