/**
 * Decode matrix-vector bandwidth: y = x W^T with W [4096, 4096] in f32, f16, int8 (blocks of
 * 32 with f16 scales) and int4 (q4_0 blocks), one token (M = 1), on 1 and on all threads; the
 * yardstick is a plain read (four sequential streams per thread: a single stream per thread left
 * about a third of the bandwidth unused), measured in the same run on the same threads.
 *
 * Two tables per thread count:
 * - resident: one matrix per format, called again and again, against a read of a buffer the
 *   size of the f32 weights (64 MiB). The smaller formats (32, 18, 10 MiB) then sit largely in
 *   the last-level cache, and so does part of the read buffer: this is the kernels' own speed.
 * - stream (--stream-mib, default 512; 0 skips it): as in a decode step, where every layer's
 *   weights come from DRAM once per token. Each format gets as many distinct copies of its
 *   matrix as make up --stream-mib, and one timed sweep calls the kernel once on each, in
 *   order (a model's layers); the read sweeps the f32 copies, the same number of bytes. Copies
 *   are evicted from the cache by the others before they come round again. The int8/int4 rows run twice: with float
 * activations (exact, dequantising every weight to f32) and with q8_0 activations (llama.cpp's
 * arithmetic: integer dot products per block).
 *
 *   npm run bench -- matvec [--size 4096] [--threads 1,2] [--rounds 4] [--reps 30] [--stream-mib 512] [--stream-reps 10]
 *
 * GB/s = bytes of weights (and scales) read / time, in steady state: each format is called 20
 * times first (the first calls of a kernel run slower for a while, in Liftoff and TurboFan code
 * alike), then the best of --reps calls (stream: 3 sweeps, then the best of --stream-reps) is kept, over --rounds rounds in which the plain read and
 * every format are measured in turn, so that a slow spell on a shared machine (steal time) hits
 * all of them rather than whichever ran then.
 *
 * The one-thread table is the kernels' compute ceiling: a format whose one-thread rate times the
 * thread count is below the plain read of all threads cannot reach that read whatever the
 * memory system does (its loop retires too few bytes per cycle); the "ceiling" column prints that
 * product as a fraction of the all-thread read. Ends with JSON lines {"bench","ours","peer","ratio"}
 * per format, table and thread count, where peer is the plain read of that table on as many
 * threads.
 */
import { availableParallelism, cpus } from 'node:os';
import { allocate, newStorage } from '../src/tensor/storage.js';
import {
  Tensor, createWasmBackend, getBackend, Generator, linear, quantizeInt4, quantizeInt8, randn, setBackend,
  type LinearKernelOptions,
} from '../src/index.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => (args.includes(name) ? args[args.indexOf(name) + 1] ?? '' : dflt);
const size = Number(opt('--size', '4096'));
const rounds = Number(opt('--rounds', '4'));
const reps = Number(opt('--reps', '30'));
const streamMiB = Number(opt('--stream-mib', '512'));
const streamReps = Number(opt('--stream-reps', '10'));
const all = availableParallelism();
const threadList = opt('--threads', all > 1 ? `1,${all}` : '1').split(',').map(Number);
if (!Number.isInteger(size) || size < 32 || size % 32 !== 0) throw new Error(`bench matvec: --size must be a multiple of 32, got ${size}`);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`bench matvec: --rounds must be a positive integer, got ${rounds}`);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`bench matvec: --reps must be a positive integer, got ${reps}`);
if (!Number.isInteger(streamMiB) || streamMiB < 0) throw new Error(`bench matvec: --stream-mib must be a non-negative integer, got ${streamMiB}`);
if (!Number.isInteger(streamReps) || streamReps < 1) throw new Error(`bench matvec: --stream-reps must be a positive integer, got ${streamReps}`);
if (threadList.some((t) => !Number.isInteger(t) || t < 1)) throw new Error(`bench matvec: --threads must be positive integers separated by commas, got '${opt('--threads', '')}'`);

/** Best seconds of `n` calls after `warm` unmeasured ones. */
function best(fn: () => void, n = reps, warm = 20): number {
  for (let i = 0; i < warm; i++) fn();
  let b = Infinity;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    b = Math.min(b, performance.now() - t);
  }
  return b / 1000;
}

const names = ['f32', 'f16', 'int8', 'int8-q8act', 'int4', 'int4-q8act'];
const bytesOf = [size * size * 4, size * size * 2, size * size * 1.125, size * size * 1.125, size * size * 0.625, size * size * 0.625];
const readBytes = size * size * 4;

/** A copy of `t` in fresh storage of the current backend (its block scales copied too). */
function copyOf(t: Tensor): Tensor {
  const src = t.storage;
  const data = allocate(src.dtype, t.size, false);
  data.set(src.data as never);
  let quant = null;
  if (src.quant) {
    const scales = allocate('float32', src.quant.scales.length, false) as Float32Array;
    scales.set(src.quant.scales);
    quant = { scales, blockSize: src.quant.blockSize };
  }
  return new Tensor(newStorage(data, src.dtype, true, quant), t.shape);
}

interface Table { readGBs: number; readMiB: number; gbs: number[]; copies: number[] }
interface Run { threads: number; name: string; resident: Table; stream: Table | null }
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
    // the stream sets: each format's matrix and copies of it, --stream-mib in all (the float and
    // q8_0-activation rows of int8 / int4 sweep the same copies); all must stay in this
    // backend's memory, or linear would stage each weight into scratch and time the copy
    const made = new Map<Tensor, Tensor[]>();
    const sets = formats.map(([w], i) => {
      const count = streamMiB > 0 ? Math.max(1, Math.ceil((streamMiB * 2 ** 20) / bytesOf[i]!)) : 0;
      if (!made.has(w)) made.set(w, count > 0 ? [w, ...Array.from({ length: count - 1 }, () => copyOf(w))] : []);
      return made.get(w)!;
    });
    if (sets.some((set) => set.some((w) => !(w.storage.data.buffer instanceof SharedArrayBuffer)))) {
      throw new Error(`bench matvec: the stream sets of --stream-mib ${streamMiB} at --size ${size} do not fit in the backend's 4 GiB memory; use a smaller --stream-mib`);
    }
    const readSet = sets[0]!.map((w) => w.storage.data as Float32Array);
    let readSecs = Infinity, streamReadSecs = Infinity;
    const secs = formats.map(() => Infinity);
    const streamSecs = formats.map(() => Infinity);
    for (let r = 0; r < rounds; r++) {
      readSecs = Math.min(readSecs, best(() => be.readBandwidthProbe(data)));
      formats.forEach(([w, o], i) => {
        secs[i] = Math.min(secs[i]!, best(() => linear(x, w, null, o).dispose()));
      });
      if (streamMiB === 0) continue;
      streamReadSecs = Math.min(streamReadSecs, best(() => { for (const d of readSet) be.readBandwidthProbe(d); }, streamReps, 3));
      formats.forEach(([, o], i) => {
        streamSecs[i] = Math.min(streamSecs[i]!, best(() => { for (const w of sets[i]!) linear(x, w, null, o).dispose(); }, streamReps, 3));
      });
    }
    const resident: Table = { readGBs: readBytes / readSecs / 1e9, readMiB: readBytes / 2 ** 20, gbs: secs.map((s, i) => bytesOf[i]! / s / 1e9), copies: formats.map(() => 1) };
    const stream: Table | null = streamMiB === 0 ? null : {
      readGBs: (readBytes * readSet.length) / streamReadSecs / 1e9,
      readMiB: (readBytes * readSet.length) / 2 ** 20,
      gbs: streamSecs.map((s, i) => (bytesOf[i]! * sets[i]!.length) / s / 1e9),
      copies: sets.map((c) => c.length),
    };
    return { threads, name: be.name, resident, stream };
  } finally {
    setBackend(prev);
    be.close();
  }
}

console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}, Node ${process.version}; W [${size}, ${size}], best of ${reps} calls (stream: ${streamReps} sweeps) x ${rounds} rounds`);
const runs = threadList.map(measure);
const single = runs.find((r) => r.threads === 1);
const lines: string[] = [];
function report(run: Run, kind: 'resident' | 'stream'): void {
  const table = run[kind];
  if (!table) return;
  const one = single?.[kind];
  const ceiling = one && run.threads > 1;
  console.log(`\n${run.name}, ${kind}: plain read of ${table.readMiB.toFixed(0)} MiB ${table.readGBs.toFixed(2)} GB/s`);
  console.log(`${'weights'.padEnd(11)} ${'MiB'.padStart(7)} ${'ms/matrix'.padStart(9)} ${'GB/s'.padStart(7)} ${'of read'.padStart(8)}${ceiling ? `  ${'ceiling'.padStart(8)}` : ''}`);
  names.forEach((name, i) => {
    const gbs = table.gbs[i]!;
    const roof = ceiling ? `  ${((100 * one.gbs[i]! * run.threads) / table.readGBs).toFixed(1).padStart(7)}%` : '';
    const mib = (bytesOf[i]! * table.copies[i]!) / 2 ** 20;
    console.log(`${name.padEnd(11)} ${mib.toFixed(1).padStart(7)} ${((bytesOf[i]! / gbs / 1e9) * 1000).toFixed(3).padStart(9)} ${gbs.toFixed(2).padStart(7)} ${((100 * gbs) / table.readGBs).toFixed(1).padStart(7)}%${roof}`);
    const tag = kind === 'stream' ? `-stream${streamMiB}` : '';
    lines.push(JSON.stringify({ bench: `matvec-${name}-${size}${tag}-${run.threads}t`, ours: +gbs.toFixed(3), peer: +table.readGBs.toFixed(3), ratio: +(gbs / table.readGBs).toFixed(4), unit: `GB/s (peer: plain read of ${table.readMiB.toFixed(0)} MiB, same threads)` }));
  });
  if (ceiling) console.log(`ceiling: the one-thread rate x ${run.threads} threads, of this read (what the kernel's instruction stream allows)`);
}
for (const run of runs) {
  report(run, 'resident');
  report(run, 'stream');
}
console.log('');
for (const l of lines) console.log(l);
