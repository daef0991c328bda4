/**
 * attn vs llama.cpp on the same ~100M-parameter LLaMA-style model exported to GGUF: prefill
 * tokens/s and decode tokens/s at f32 and q8_0, same thread count, in the same run.
 *
 * The model is random (seeded), so the figures measure the engines, not a checkpoint: 14 layers,
 * hidden 768, 12 heads / 4 KV heads, SwiGLU 2048, untied head, with the attn-tiny BPE tokenizer's
 * vocabulary (8,193 ids) so that llama.cpp has a real vocabulary to load. attn writes the GGUF
 * (toGgufExport: f32 matrices, or Q8_0 blocks exactly as llama-quantize makes them) and both
 * engines load that file: attn keeps the Q8_0 blocks as int8 storage (decode reads them in the
 * matvec kernel; prefill dequantises 4 MB chunks to float32 for the GEMM), llama.cpp runs its CPU
 * kernels.
 *
 * Prefill: the prompt's P tokens in one batch, time to the end of the forward pass (attn: the
 * session's feed; llama.cpp: evaluateWithoutGeneratingNewTokens). Decode: after the prompt,
 * greedy tokens one at a time; tokens/s over the steps after the first (attn's generate() TPOT;
 * llama.cpp's evaluate() generator, timed between yields). Best of --reps runs each.
 *
 * llama.cpp comes from node-llama-cpp (prebuilt CPU binaries), which is NOT a dependency of attn
 * (about 1 GB with GPU variants); install it in a scratch folder and pass it with --llama-cpp:
 *   mkdir /tmp/llamacpp && cd /tmp/llamacpp && npm init -y &&
 *     npm i node-llama-cpp @node-llama-cpp/linux-x64 --omit=optional --ignore-scripts
 *   npm run bench -- llamacpp [--llama-cpp /tmp/llamacpp] [--threads 2] [--prompt 256] [--decode 64] [--reps 3]
 *
 * Ends with JSON lines {"bench","ours","peer","ratio"}, one per phase and precision (tokens/s;
 * ratio = attn / llama.cpp).
 */
import { cpus, tmpdir } from 'node:os';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  Generator, InferenceSession, LlamaConfig, LlamaForCausalLM, generateAll, generativeModel, getBackend, ggufTokenizerMetadata,
  loadModelFile, toGgufExport, writeGguf, type GgufFileType, type GgufMetadataValue,
} from '../src/index.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string): string => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : dflt);
const llamaDir = resolve(arg('llama-cpp', process.env.ATTN_LLAMA_CPP ?? '/tmp/llamacpp'));
const threads = Number(arg('threads', String(cpus().length)));
const promptLen = Number(arg('prompt', '256'));
const decodeLen = Number(arg('decode', '64'));
const reps = Number(arg('reps', '3'));
const precisions = arg('precisions', 'f32,q8_0').split(',') as GgufFileType[];

const entry = join(llamaDir, 'node_modules/node-llama-cpp/dist/index.js');
if (!existsSync(entry)) {
  console.error(`llamacpp bench: node-llama-cpp not found under ${llamaDir} (looked for ${entry}).\n` +
    'Install it in a scratch folder (not a dependency of attn):\n' +
    '  mkdir /tmp/llamacpp && cd /tmp/llamacpp && npm init -y && npm i node-llama-cpp @node-llama-cpp/linux-x64 --omit=optional --ignore-scripts\n' +
    'then: npm run bench -- llamacpp --llama-cpp /tmp/llamacpp');
  process.exit(2);
}
const { getLlama } = await import(pathToFileURL(entry).href) as { getLlama: (o: object) => Promise<any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

// the model: random LLaMA-style weights with attn-tiny's vocabulary
const tokenizerJson = JSON.parse(readFileSync('models/attn-tiny/tokenizer.json', 'utf8')) as unknown;
const tinyConfig = JSON.parse(readFileSync('models/attn-tiny/config.json', 'utf8')) as Record<string, unknown>;
const vocab = Number(tinyConfig['vocab_size']);
const config = LlamaConfig.fromDict({
  vocab_size: vocab, hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 14, num_attention_heads: 12,
  num_key_value_heads: 4, max_position_embeddings: 2048, rms_norm_eps: 1e-5, tie_word_embeddings: false,
});
const source = new LlamaForCausalLM(config, { generator: new Generator(0) });
let params = 0;
for (const [, p] of source.namedParameters()) params += p.size;

const dir = mkdtempSync(join(tmpdir(), 'attn-llamacpp-'));
const files = new Map<GgufFileType, string>();
for (const fileType of precisions) {
  const exp = toGgufExport(source, { fileType, name: 'attn bench llama-100m' });
  const meta = ggufTokenizerMetadata(tokenizerJson, { vocabSize: vocab, bosTokenId: null, eosTokenId: null, padTokenId: null });
  const path = join(dir, `model-${fileType}.gguf`);
  writeGguf(path, { metadata: [...exp.metadata, ...(meta as [string, GgufMetadataValue][])], tensors: exp.tensors });
  files.set(fileType, path);
}

// a prompt of real-looking ids (deterministic), never a special id
const prompt = Array.from({ length: promptLen }, (_, i) => 1 + ((i * 7919 + 13) % (vocab - 2)));

interface Figures { prefill: number; decode: number; decoded: number }

async function llamaCpp(path: string): Promise<Figures> {
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
  const model = await llama.loadModel({ modelPath: path });
  const ctx = await model.createContext({ contextSize: promptLen + decodeLen + 16, threads, batchSize: Math.max(512, promptLen), sequences: 1 });
  const seq = ctx.getSequence();
  let prefill = 0;
  let decode = 0;
  let decoded = 0;
  for (let r = -1; r < reps; r++) { // r = -1: warm-up, not counted
    await seq.clearHistory();
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(prompt);
    if (r >= 0) prefill = Math.max(prefill, (promptLen * 1000) / (performance.now() - t0));

    await seq.clearHistory();
    await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
    let first = 0;
    let last = 0;
    let n = 0;
    for await (const _ of seq.evaluate([prompt[promptLen - 1]], { temperature: 0 })) { // eslint-disable-line @typescript-eslint/no-unused-vars
      const now = performance.now();
      if (n === 0) first = now;
      last = now;
      if (++n >= decodeLen) break;
    }
    decoded = n;
    if (r >= 0 && n > 1) decode = Math.max(decode, ((n - 1) * 1000) / (last - first));
  }
  await ctx.dispose();
  await model.dispose();
  return { prefill, decode, decoded };
}

async function ours(path: string, activations: 'float32' | 'q8_0'): Promise<Figures> {
  const { model: loaded, config: cfg } = loadModelFile(path, { activations });
  const model = generativeModel(loaded, { config: cfg, eosTokenIds: [] });
  let prefill = 0;
  let decode = 0;
  let decoded = 0;
  for (let r = -1; r < reps; r++) { // r = -1: warm-up, not counted
    const session = new InferenceSession(model, { cache: { kind: 'dense' }, prefillChunk: Math.max(512, promptLen) });
    const t0 = performance.now();
    session.feed(prompt);
    if (r >= 0) prefill = Math.max(prefill, (promptLen * 1000) / (performance.now() - t0));
    session.dispose();
    const g = await generateAll(model, null, prompt, { maxTokens: decodeLen, stopIds: [], cache: { kind: 'dense' }, prefillChunk: Math.max(512, promptLen) });
    decoded = g.stats.generatedTokens;
    if (r >= 0) decode = Math.max(decode, g.stats.decodeTokensPerS);
  }
  return { prefill, decode, decoded };
}

console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}, Node ${process.version}, attn backend ${getBackend().name}, threads ${threads} (both)`);
console.log(`model: LLaMA-style, ${(params / 1e6).toFixed(1)}M parameters (14 layers, hidden 768, 12 heads / 4 KV heads, SwiGLU 2048, vocab ${vocab}, untied head), random weights`);
console.log(`prompt ${promptLen} tokens (prefill in one batch); decode ${decodeLen} greedy tokens; best of ${reps} after a warm-up run\n`);
console.log(`${'precision'.padEnd(36)} ${'phase'.padEnd(8)} ${'attn tok/s'.padStart(11)} ${'llama.cpp tok/s'.padStart(16)} ${'ratio'.padStart(7)}`);
const lines: string[] = [];
for (const fileType of precisions) {
  const path = files.get(fileType)!;
  const theirs = await llamaCpp(path);
  // f32: one arithmetic. q8_0: llama.cpp quantizes activations to q8_0 blocks; attn runs both
  // that (same precision, the headline ratio) and its exact float-activation default.
  const modes: ['float32' | 'q8_0', string][] = fileType === 'f32' ? [['float32', '']] : [['q8_0', ''], ['float32', '-exact']];
  for (const [activations, suffix] of modes) {
    const mine = await ours(path, activations);
    if (theirs.decoded !== decodeLen || mine.decoded !== decodeLen) console.log(`  (decoded tokens: attn ${mine.decoded}, llama.cpp ${theirs.decoded})`);
    const label = `${fileType}${suffix ? ' (attn float activations)' : fileType === 'f32' ? '' : ' (q8_0 activations, as llama.cpp)'}`;
    for (const phase of ['prefill', 'decode'] as const) {
      const ratio = mine[phase] / theirs[phase];
      console.log(`${label.padEnd(36)} ${phase.padEnd(8)} ${mine[phase].toFixed(1).padStart(11)} ${theirs[phase].toFixed(1).padStart(16)} ${ratio.toFixed(3).padStart(7)}`);
      lines.push(JSON.stringify({ bench: `llamacpp-${fileType}${suffix}-${phase}`, ours: +mine[phase].toFixed(2), peer: +theirs[phase].toFixed(2), ratio: +ratio.toFixed(4), unit: 'tokens/s (peer: llama.cpp via node-llama-cpp)' }));
    }
  }
}
console.log('');
for (const l of lines) console.log(l);
rmSync(dir, { recursive: true, force: true });
(getBackend() as { close?: () => void }).close?.();
