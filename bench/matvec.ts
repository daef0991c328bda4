/**
 * Decode matrix-vector bandwidth: y = x W^T with W [4096, 4096] in f32, f16, int8 (blocks of
 * 32 with f32 scales) and int4 (q4_0 blocks), one token (M = 1), all threads; the yardstick is a
 * plain read of a resident buffer of the same size as the f32 weights (four sequential streams per
 * thread: a single stream per thread left about a third of the bandwidth unused), measured in the same run.
 * The int8/int4 rows run twice: with float activations (exact, dequantising every weight to f32)
 * and with q8_0 activations (llama.cpp's arithmetic: integer dot products per block).
 *
 *   npm run bench -- matvec [--size 4096]
 *
 * GB/s = bytes of weights (and scales) read / time: the best of --rounds rounds (default 4) of
 * 10 calls each, the plain read and every format measured in each round, so that a slow spell
 * on a shared machine (steal time) hits all of them rather than whichever ran then. Ends with
 * JSON lines {"bench","ours","peer","ratio"} where peer is the plain-read bandwidth.
 */
import { cpus } from 'node:os';
import { Generator, getBackend, linear, quantizeInt4, quantizeInt8, randn, type LinearKernelOptions, type WasmBackend } from '../src/index.js';

const args = process.argv.slice(2);
const size = args.includes('--size') ? Number(args[args.indexOf('--size') + 1]) : 4096;
const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 4;
if (!Number.isInteger(size) || size < 32 || size % 32 !== 0) throw new Error(`bench matvec: --size must be a multiple of 32, got ${size}`);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`bench matvec: --rounds must be a positive integer, got ${rounds}`);
const be = getBackend() as WasmBackend;
const g = new Generator(0);

function best(fn: () => void, reps = 10): number {
  fn();
  let b = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    b = Math.min(b, performance.now() - t);
  }
  return b / 1000;
}

console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}, Node ${process.version}, backend ${be.name}`);
const w32 = randn([size, size], { generator: g });
const x = randn([1, size], { generator: g });
const readBytes = size * size * 4;

const int8 = quantizeInt8(w32, { blockSize: 32, scaleFormat: 'float16' });
const int4 = quantizeInt4(w32, { blockSize: 32, scaleFormat: 'float16' });
const q8: LinearKernelOptions = { activations: 'q8_0' };
const formats: [string, ReturnType<typeof randn>, number, LinearKernelOptions][] = [
  ['f32', w32, size * size * 4, {}],
  ['f16', w32.to('float16'), size * size * 2, {}],
  ['int8', int8, size * size + (size * size / 32) * 4, {}],
  ['int8-q8act', int8, size * size + (size * size / 32) * 4, q8],
  ['int4', int4, size * size / 2 + (size * size / 32) * 4, {}],
  ['int4-q8act', int4, size * size / 2 + (size * size / 32) * 4, q8],
];
const readProbe = () => be.readBandwidthProbe(w32.storage.data as Float32Array);
let readSecs = Infinity;
const secs = formats.map(() => Infinity);
for (let r = 0; r < rounds; r++) {
  readSecs = Math.min(readSecs, best(readProbe));
  formats.forEach(([, w, , opts], i) => {
    secs[i] = Math.min(secs[i]!, best(() => linear(x, w, null, opts).dispose()));
  });
}
const readGBs = readBytes / readSecs / 1e9;
console.log(`plain read of ${(readBytes / 2 ** 20).toFixed(0)} MiB: ${readGBs.toFixed(2)} GB/s (best of ${rounds} rounds)\n`);
const lines: string[] = [];
console.log(`${'weights'.padEnd(11)} ${'MiB'.padStart(7)} ${'ms/token'.padStart(9)} ${'GB/s'.padStart(7)} ${'of read'.padStart(8)}`);
formats.forEach(([name, , bytes], i) => {
  const gbs = bytes / secs[i]! / 1e9;
  console.log(`${name.padEnd(11)} ${(bytes / 2 ** 20).toFixed(1).padStart(7)} ${(secs[i]! * 1000).toFixed(2).padStart(9)} ${gbs.toFixed(2).padStart(7)} ${((100 * gbs) / readGBs).toFixed(1).padStart(7)}%`);
  lines.push(JSON.stringify({ bench: `matvec-${name}-${size}`, ours: +gbs.toFixed(3), peer: +readGBs.toFixed(3), ratio: +(gbs / readGBs).toFixed(4), unit: 'GB/s (peer: plain read)' }));
});
console.log('');
for (const l of lines) console.log(l);
