/**
 * Encoding time per MB at 1, 10 and 100 MB, streamed: text is generated chunk by chunk (never held
 * whole), cut by a `TextSegmenter` where the encoding gives the same ids as on the whole text, and
 * each segment encoded. Constant time per MB across sizes means linear time; inputs are prose and
 * the pathological runs of one character (spaces, digits, a letter), on which tiktoken itself
 * (npm, WebAssembly) is quadratic: its time per MB at 16 and 64 KB is printed beside ours.
 *
 *   npm run bench -- tokenize-scale [--sizes 1,10,100] [--encoding cl100k_base] [--inputs prose,spaces,digits,letter]
 */
import { get_encoding } from 'tiktoken';
import { loadTiktoken, segmentRuleFor, TextSegmenter, type TiktokenEncodingName } from '../src/index.js';
import { englishProse } from '../tests/tokenizers/corpus.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const sizes = arg('sizes', '1,10,100').split(',').map(Number);
const encoding = arg('encoding', 'cl100k_base') as TiktokenEncodingName;
const inputs = arg('inputs', 'prose,spaces,digits,letter').split(',');

const prose = englishProse(20_000_000).join('\n');
const UNITS: Record<string, string> = { spaces: ' ', digits: '7', letter: 'a' };
/** The input's first `bytes` bytes, produced 1 MB at a time. */
function* chunks(input: string, bytes: number): Generator<string> {
  const chunk = 1 << 20;
  for (let done = 0; done < bytes; done += chunk) {
    const n = Math.min(chunk, bytes - done);
    if (input === 'prose') {
      const at = done % prose.length;
      yield (prose.slice(at) + prose).slice(0, n); // ASCII prose: one character per byte
    } else yield UNITS[input]!.repeat(n);
  }
}

const tok = loadTiktoken(encoding);
console.log(`${encoding}, node ${process.version}; ms per MB (MB = 2^20 bytes), streamed`);
console.log(`input    ${sizes.map((s) => `${s} MB`.padStart(10)).join('')}   tiktoken 16 KB / 64 KB (ms per MB)`);
const lines: string[] = [];
for (const input of inputs) {
  if (input !== 'prose' && !(input in UNITS)) throw new Error(`--inputs: unknown input '${input}' (prose, spaces, digits, letter)`);
  const cells: string[] = [];
  const perMb: number[] = [];
  for (const size of sizes) {
    const seg = new TextSegmenter(segmentRuleFor(tok));
    let tokens = 0;
    const t0 = performance.now();
    for (const c of chunks(input, size << 20)) for (const s of seg.push(c)) tokens += tok.encode(s, { disallowedSpecial: [] }).length;
    for (const s of seg.end()) tokens += tok.encode(s, { disallowedSpecial: [] }).length;
    const ms = (performance.now() - t0) / size;
    perMb.push(ms);
    cells.push(ms.toFixed(0).padStart(10));
  }
  // tiktoken on small runs only: it is quadratic on them and aborts past about 200 KB.
  const peer: number[] = [];
  const ref = get_encoding(encoding);
  for (const kb of [16, 64]) {
    const text = [...chunks(input, kb << 10)].join('');
    const t0 = performance.now();
    ref.encode(text, [], []);
    peer.push((performance.now() - t0) / (kb / 1024));
  }
  ref.free();
  console.log(`${input.padEnd(8)} ${cells.join('')}   ${peer.map((p) => p.toFixed(0)).join(' / ')}`);
  lines.push(
    JSON.stringify({
      bench: `tokenize-scale-${encoding}-${input}`,
      ours: +perMb.at(-1)!.toFixed(1),
      peer: +peer[1]!.toFixed(1),
      ratio: +(peer[1]! / perMb.at(-1)!).toFixed(3),
      unit: `ms per MB (ours at ${sizes.at(-1)} MB streamed; peer: tiktoken npm at 64 KB; ratio = peer / ours)`,
      ours_ms_per_mb: Object.fromEntries(sizes.map((s, i) => [`${s}MB`, +perMb[i]!.toFixed(1)])),
    }),
  );
}
console.log('');
for (const l of lines) console.log(l);
