/**
 * The KV-cache study: TTFT, TPOT, tokens/s and peak tensor memory of greedy generation with and
 * without the cache, on a random LLaMA-style model, at prompt + generation lengths N (half
 * prompt, half generated). Without the cache every step recomputes the whole sequence, so the
 * decode work grows as the sum of the lengths (O(N^2) token-passes); with it each step is one
 * token against the cache (O(N) token-passes, O(N) attention per step). The theory column is
 * that ratio of token-passes; the measured one is the ratio of decode times.
 *
 *   npm run bench -- kvcache [--lengths 128,512] [--hidden 256] [--layers 4] [--heads 4] [--kv-heads 2] [--vocab 4096]
 *
 * TTFT is the median of 5 prefills each way (alternated); TPOT, tokens/s and peak memory come
 * from one full run each way. Ends with JSON lines {"bench","ours","peer","ratio"}: ours is the
 * cached run, peer the uncached one, per length and metric.
 */
import { cpus } from 'node:os';
import {
  Generator, LlamaConfig, LlamaForCausalLM, generateAll, generativeModel, getBackend, resetPeakTensorMemory, tensorMemory,
  type SessionCache,
} from '../src/index.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : dflt);
const lengths = arg('lengths', '128,512').split(',').map(Number);
const hidden = Number(arg('hidden', '256'));
const config = LlamaConfig.fromDict({
  vocab_size: Number(arg('vocab', '4096')), hidden_size: hidden, intermediate_size: Math.round((hidden * 8) / 3 / 64) * 64,
  num_hidden_layers: Number(arg('layers', '4')), num_attention_heads: Number(arg('heads', '4')), num_key_value_heads: Number(arg('kv-heads', '2')),
  max_position_embeddings: Math.max(...lengths),
});
const model = generativeModel(new LlamaForCausalLM(config, { generator: new Generator(0) }));

async function measure(n: number, cache: SessionCache, maxTokens = n / 2) {
  const prompt = Array.from({ length: n / 2 }, (_, i) => (i * 7919) % config.vocab_size);
  resetPeakTensorMemory();
  const base = tensorMemory().liveBytes;
  const r = await generateAll(model, null, prompt, { maxTokens, stopIds: [], cache });
  return { ...r.stats, peakMiB: (tensorMemory().peakBytes - base) / 2 ** 20 };
}

/**
 * TTFT is one prefill, tens of ms, so a single sample is at the mercy of a noisy host (one run
 * each read the cached TTFT above the uncached one, though the two prefills do the same work):
 * the median of TTFT_RUNS prefills, cached and uncached alternated.
 */
const TTFT_RUNS = 5;
async function medianTtfts(n: number): Promise<{ cached: number; none: number }> {
  const cached: number[] = [], none: number[] = [];
  for (let i = 0; i < TTFT_RUNS; i++) {
    cached.push((await measure(n, { kind: 'dense' }, 1)).ttftMs);
    none.push((await measure(n, 'none', 1)).ttftMs);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[TTFT_RUNS >> 1]!;
  return { cached: median(cached), none: median(none) };
}

console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}, Node ${process.version}, backend ${getBackend().name}`);
console.log(`model: LLaMA-style, hidden ${config.hidden_size}, ${config.num_hidden_layers} layers, ${config.num_attention_heads} heads / ${config.numKeyValueHeads} KV heads, vocab ${config.vocab_size}; greedy, prompt N/2, generate N/2\n`);
console.log(`${'N'.padStart(6)} ${'cache'.padEnd(8)} ${'TTFT ms'.padStart(9)} ${'TPOT ms'.padStart(9)} ${'tok/s'.padStart(8)} ${'peak MiB'.padStart(9)} ${'decode ratio'.padStart(13)} ${'theory'.padStart(8)}`);
const lines: string[] = [];
await measure(16, { kind: 'dense' }); // warm up the kernels
for (const n of lengths) {
  // untimed first: the first run at a new length pays one-time costs (code paths for the new
  // shapes, the wasm heap growing to the new size) that otherwise landed on whichever run came
  // first, cached or not
  await measure(n, { kind: 'dense' }, 2);
  await measure(n, 'none', 2);
  const ttft = await medianTtfts(n);
  const cached = { ...(await measure(n, { kind: 'dense' })), ttftMs: ttft.cached };
  const none = { ...(await measure(n, 'none')), ttftMs: ttft.none };
  const half = n / 2;
  // token-passes during decode: uncached sum_{t=half+1}^{n-1} t, cached one per step
  let passes = 0;
  for (let t = half + 1; t < n; t++) passes += t;
  const theory = passes / (half - 1);
  const measured = none.tpotMs / cached.tpotMs;
  for (const [name, s] of [['cache', cached], ['no-cache', none]] as const) {
    console.log(`${String(n).padStart(6)} ${name.padEnd(8)} ${s.ttftMs.toFixed(1).padStart(9)} ${s.tpotMs.toFixed(2).padStart(9)} ${s.tokensPerS.toFixed(1).padStart(8)} ${s.peakMiB.toFixed(1).padStart(9)} ${name === 'cache' ? '' : measured.toFixed(1).padStart(13)} ${name === 'cache' ? '' : theory.toFixed(1).padStart(8)}`);
  }
  lines.push(JSON.stringify({ bench: `kvcache-N${n}-tpot`, ours: +cached.tpotMs.toFixed(3), peer: +none.tpotMs.toFixed(3), ratio: +(cached.tpotMs / none.tpotMs).toFixed(4), unit: 'ms (peer: no cache)' }));
  lines.push(JSON.stringify({ bench: `kvcache-N${n}-ttft`, ours: +cached.ttftMs.toFixed(2), peer: +none.ttftMs.toFixed(2), ratio: +(cached.ttftMs / none.ttftMs).toFixed(4), unit: 'ms (peer: no cache)' }));
  lines.push(JSON.stringify({ bench: `kvcache-N${n}-peak-memory`, ours: +cached.peakMiB.toFixed(2), peer: +none.peakMiB.toFixed(2), ratio: +(cached.peakMiB / none.peakMiB).toFixed(4), unit: 'MiB (peer: no cache)' }));
}
console.log('');
for (const l of lines) console.log(l);
(getBackend() as { close?: () => void }).close?.();
