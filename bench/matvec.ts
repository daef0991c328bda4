/**
 * Decode matrix-vector bandwidth: y = x W^T with W [4096, 4096] in f32, f16, int8 (blocks of
 * 32 with f16 scales) and int4 (q4_0 blocks), one token (M = 1), on 1 and on all threads; the
 * yardstick is a plain read of a resident buffer of the same size as the f32 weights (four
 * sequential streams per thread: a single stream per thread left about a third of the bandwidth
 * unused), measured in the same run on the same threads. The int8/int4 rows run twice: with float
 * activations (exact, dequantising every weight to f32) and with q8_0 activations (llama.cpp's
 * arithmetic: integer dot products per block).
 *
 *   npm run bench -- matvec [--size 4096] [--threads 1,2] [--rounds 4] [--reps 30]
 *
 * GB/s = bytes of weights (and scales) read / time, in steady state: each format is called 20
 * times first (the first calls of a kernel run slower for a while, in Liftoff and TurboFan code
 * alike), then the best of --reps calls is kept, over --rounds rounds in which the plain read and
 * every format are measured in turn, so that a slow spell on a shared machine (steal time) hits
 * all of them rather than whichever ran then.
 *
 * The one-thread table is the kernels' compute ceiling: a format whose one-thread rate times the
 * thread count is below the plain read of all threads cannot reach that read whatever the
 * memory system does (its loop retires too few bytes per cycle); the "ceiling" column prints that
 * product as a fraction of the all-thread read. Ends with JSON lines {"bench","ours","peer","ratio"}
 * per thread count, where peer is the plain-read bandwidth on as many threads.
 */
import { availableParallelism, cpus } from 'node:os';
import {
  createWasmBackend, getBackend, Generator, linear, quantizeInt4, quantizeInt8, randn, setBackend,
  type LinearKernelOptions, type Tensor,
} from '../src/index.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => (args.includes(name) ? args[args.indexOf(name) + 1] ?? '' : dflt);
const size = Number(opt('--size', '4096'));
const rounds = Number(opt('--rounds', '4'));
const reps = Number(opt('--reps', '30'));
const all = availableParallelism();
const threadList = opt('--threads', all > 1 ? `1,${all}` : '1').split(',').map(Number);
if (!Number.isInteger(size) || size < 32 || size % 32 !== 0) throw new Error(`bench matvec: --size must be a multiple of 32, got ${size}`);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`bench matvec: --rounds must be a positive integer, got ${rounds}`);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`bench matvec: --reps must be a positive integer, got ${reps}`);
if (threadList.some((t) => !Number.isInteger(t) || t < 1)) throw new Error(`bench matvec: --threads must be positive integers separated by commas, got '${opt('--threads', '')}'`);

/** Best seconds of `reps` calls after 20 unmeasured ones. */
function best(fn: () => void): number {
  for (let i = 0; i < 20; i++) fn();
  let b = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    b = Math.min(b, performance.now() - t);
  }
  return b / 1000;
}

const names = ['f32', 'f16', 'int8', 'int8-q8act', 'int4', 'int4-q8act'];
const bytesOf = [size * size * 4, size * size * 2, size * size * 1.125, size * size * 1.125, size * size * 0.625, size * size * 0.625];
const readBytes = size * size * 4;

interface Run { threads: number; name: string; readGBs: number; gbs: number[] }
function measure(threads: number): Run {
  const be = createWasmBackend({ threads });
  // weights made under the backend under test, so they live in its memory as a model's do
  const prev = getBackend();
  setBackend(be);
  try {
    const g = new Generator(0);
    const w32 = randn([size, size], { generator: g });
    const x = randn([1, size], { generator: g });
    const int8 = quantizeInt8(w32, { blockSize: 32, scaleFormat: 'float16' });
    const int4 = quantizeInt4(w32, { blockSize: 32, scaleFormat: 'float16' });
    const q8: LinearKernelOptions = { activations: 'q8_0' };
    const formats: [Tensor, LinearKernelOptions][] = [[w32, {}], [w32.to('float16'), {}], [int8, {}], [int8, q8], [int4, {}], [int4, q8]];
    const data = w32.storage.data as Float32Array;
    let readSecs = Infinity;
    const secs = formats.map(() => Infinity);
    for (let r = 0; r < rounds; r++) {
      readSecs = Math.min(readSecs, best(() => be.readBandwidthProbe(data)));
      formats.forEach(([w, o], i) => {
        secs[i] = Math.min(secs[i]!, best(() => linear(x, w, null, o).dispose()));
      });
    }
    return { threads, name: be.name, readGBs: readBytes / readSecs / 1e9, gbs: secs.map((s, i) => bytesOf[i]! / s / 1e9) };
  } finally {
    setBackend(prev);
    be.close();
  }
}

console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}, Node ${process.version}; W [${size}, ${size}], best of ${reps} calls x ${rounds} rounds`);
const runs = threadList.map(measure);
const single = runs.find((r) => r.threads === 1);
const lines: string[] = [];
for (const run of runs) {
  const ceiling = single && run.threads > 1;
  console.log(`\n${run.name}: plain read of ${(readBytes / 2 ** 20).toFixed(0)} MiB ${run.readGBs.toFixed(2)} GB/s`);
  console.log(`${'weights'.padEnd(11)} ${'MiB'.padStart(6)} ${'ms/token'.padStart(9)} ${'GB/s'.padStart(7)} ${'of read'.padStart(8)}${ceiling ? `  ${'ceiling'.padStart(8)}` : ''}`);
  names.forEach((name, i) => {
    const gbs = run.gbs[i]!;
    const roof = ceiling ? `  ${((100 * single.gbs[i]! * run.threads) / run.readGBs).toFixed(1).padStart(7)}%` : '';
    console.log(`${name.padEnd(11)} ${(bytesOf[i]! / 2 ** 20).toFixed(1).padStart(6)} ${((bytesOf[i]! / gbs / 1e9) * 1000).toFixed(3).padStart(9)} ${gbs.toFixed(2).padStart(7)} ${((100 * gbs) / run.readGBs).toFixed(1).padStart(7)}%${roof}`);
    lines.push(JSON.stringify({ bench: `matvec-${name}-${size}-${run.threads}t`, ours: +gbs.toFixed(3), peer: +run.readGBs.toFixed(3), ratio: +(gbs / run.readGBs).toFixed(4), unit: 'GB/s (peer: plain read, same threads)' }));
  });
  if (ceiling) console.log(`ceiling: the one-thread rate x ${run.threads} threads, of this read (what the kernel's instruction stream allows)`);
}
console.log('');
for (const l of lines) console.log(l);
