/**
 * Tokenizer throughput, attn next to tiktoken (its Rust core in WebAssembly, the `tiktoken` npm
 * package) in the same run: MB/s encoding English prose and source code with each encoding, and
 * the ratio. Cold = a fresh encoder (empty piece cache); warm = the second pass.
 *
 *   npm run bench -- tokenizers [--mb 4]
 */
import { get_encoding } from 'tiktoken';
import { loadTiktoken } from '../src/index.js';
import { englishProse, sourceCode } from '../tests/tokenizers/corpus.js';

const argMb = process.argv.indexOf('--mb');
const mb = argMb > 0 ? Number(process.argv[argMb + 1]) : 4;
const docs = [...englishProse((mb * 1e6 * 3) / 4), ...sourceCode((mb * 1e6) / 4)];
const bytes = docs.reduce((s, d) => s + Buffer.byteLength(d), 0);

function time(f: () => number): { seconds: number; tokens: number } {
  const t0 = performance.now();
  const tokens = f();
  return { seconds: (performance.now() - t0) / 1000, tokens };
}

console.log(`${(bytes / 1e6).toFixed(2)} MB of prose and code, node ${process.version}`);
console.log('encoding      attn cold MB/s  attn warm MB/s  tiktoken MB/s  attn warm / tiktoken');
const lines: string[] = [];
for (const name of ['r50k_base', 'cl100k_base', 'o200k_base'] as const) {
  const ours = loadTiktoken(name);
  const cold = time(() => docs.reduce((n, d) => n + ours.encode(d, { disallowedSpecial: [] }).length, 0));
  const warm = time(() => docs.reduce((n, d) => n + ours.encode(d, { disallowedSpecial: [] }).length, 0));
  const ref = get_encoding(name);
  const theirs = time(() => docs.reduce((n, d) => n + ref.encode(d, [], []).length, 0));
  ref.free();
  if (warm.tokens !== theirs.tokens) throw new Error(`${name}: ${warm.tokens} tokens vs tiktoken's ${theirs.tokens}`);
  const rate = (t: { seconds: number }): number => bytes / 1e6 / t.seconds;
  console.log(`${name.padEnd(12)}  ${rate(cold).toFixed(2).padStart(14)}  ${rate(warm).toFixed(2).padStart(14)}  ${rate(theirs).toFixed(2).padStart(13)}  ${(rate(warm) / rate(theirs)).toFixed(2).padStart(20)}`);
  for (const [phase, t] of [['cold', cold], ['warm', warm]] as const) {
    lines.push(JSON.stringify({ bench: `tokenize-${name}-${phase}`, ours: +rate(t).toFixed(3), peer: +rate(theirs).toFixed(3), ratio: +(rate(t) / rate(theirs)).toFixed(3), unit: 'MB/s (peer: tiktoken npm)' }));
  }
}
console.log('');
for (const l of lines) console.log(l);
