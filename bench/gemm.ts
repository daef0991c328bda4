/**
 * GEMM throughput: attn's wasm backend vs numpy/OpenBLAS, same shapes, same machine, same run.
 *
 *   npm run bench -- gemm [--threads 1,2] [--quick]
 *
 * Square sizes 256..2048 and transformer shapes [T x d] @ [d x 4d] (T = 1024, d = 384, 768).
 * Each figure is the best of several runs (>= 3, up to 0.5 s). The peer is /usr/bin/python3
 * with numpy (apt-get install python3-numpy libopenblas0-pthread), OPENBLAS_NUM_THREADS set to
 * the same thread count. Each thread count also prints the 128-bit SIMD ceiling (bench/simd-peak.ts
 * on that many threads at once) as a fraction of OpenBLAS at 1024^3: what no wasm SIMD128 kernel
 * can pass on this machine. Ends with JSON lines {"bench","ours","peer","ratio"}.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { createWasmBackend, getBackend, randn, setBackend, Generator } from '../src/index.js';
import { simdPeakGflops } from './simd-peak.js';

const args = process.argv.slice(2);
const threadList = (args.includes('--threads') ? args[args.indexOf('--threads') + 1]! : '1,2').split(',').map(Number);
const quick = args.includes('--quick');
const shapes: [string, number, number, number][] = [
  ['256', 256, 256, 256],
  ['512', 512, 512, 512],
  ['1024', 1024, 1024, 1024],
  ...(quick ? [] : [['2048', 2048, 2048, 2048] as [string, number, number, number]]),
  ['T1024xd384x1536', 1024, 384, 1536],
  ['T1024xd768x3072', 1024, 768, 3072],
];

function peer(threads: number): number[] | null {
  const r = spawnSync('/usr/bin/python3', ['bench/peers/numpy_gemm.py', JSON.stringify(shapes.map(([, m, k, n]) => [m, k, n]))], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
  });
  if (r.status !== 0) {
    console.error(`peer unavailable (numpy via /usr/bin/python3): ${r.stderr.trim().split('\n').at(-1) ?? r.error}`);
    return null;
  }
  return (JSON.parse(r.stdout) as { gflops: number[] }).gflops;
}

console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}, Node ${process.version}`);
const lines: string[] = [];
for (const threads of threadList) {
  const be = createWasmBackend({ threads });
  // operands allocated by the backend under test, so they live in its memory as a model's do
  // (created under another backend instance they would be copied in on every call)
  const prev = getBackend();
  setBackend(be);
  const g = new Generator(0);
  const ours: number[] = [];
  for (const [, m, k, n] of shapes) {
    const a = randn([m, k], { generator: g }).view();
    const b = randn([k, n], { generator: g }).view();
    // each result goes back to the backend's heap, as a model's disposed activations do: left
    // to the garbage collector, every call would take fresh pages from a growing memory and pay
    // their first-touch faults (about a fifth of the time at 1024^3 on two threads)
    be.free!(be.matmul(a, b, 'float32'));
    let best = Infinity;
    const start = performance.now();
    for (let reps = 0; reps < 3 || (performance.now() - start < 500 && reps < 50); reps++) {
      const t = performance.now();
      const out = be.matmul(a, b, 'float32');
      best = Math.min(best, performance.now() - t);
      be.free!(out);
    }
    ours.push((2 * m * k * n) / (best / 1000) / 1e9);
  }
  setBackend(prev);
  be.close();
  const theirs = peer(threads);
  console.log(`\n${be.name} vs numpy/OpenBLAS, ${threads} thread${threads > 1 ? 's' : ''} (GFLOPS)`);
  console.log(`${'shape'.padEnd(18)} ${'attn'.padStart(8)} ${'numpy'.padStart(8)} ${'ratio'.padStart(7)}`);
  shapes.forEach(([name], i) => {
    const o = ours[i]!;
    const p = theirs?.[i] ?? null;
    console.log(`${name.padEnd(18)} ${o.toFixed(1).padStart(8)} ${p === null ? '     n/a' : p.toFixed(1).padStart(8)} ${p === null ? '    n/a' : (o / p).toFixed(3).padStart(7)}`);
    lines.push(JSON.stringify({ bench: `gemm-${name}-${threads}t`, ours: +o.toFixed(2), peer: p === null ? null : +p.toFixed(2), ratio: p === null ? null : +(o / p).toFixed(4), unit: 'GFLOPS' }));
  });
  // what no 128-bit kernel can pass: the multiply-add probe on as many threads at once, against
  // OpenBLAS at 1024^3
  const at1024 = shapes.findIndex(([name]) => name === '1024');
  const peak = await simdPeakGflops(threads);
  const ceiling = peak.gflops;
  const p1024 = theirs?.[at1024] ?? null;
  console.log(`128-bit SIMD ceiling: ${ceiling.toFixed(1)} GFLOPS (${peak.relaxed ? 'fused' : 'mul + add'} multiply-add probe, bench/simd-peak.ts, on ${threads} thread${threads > 1 ? 's' : ''} at once)` +
    (p1024 === null ? '' : `, ${(ceiling / p1024).toFixed(3)} of OpenBLAS at 1024^3; attn reaches ${(ours[at1024]! / ceiling).toFixed(3)} of the ceiling`));
  lines.push(JSON.stringify({ bench: `gemm-simd128-ceiling-${threads}t`, ours: +ceiling.toFixed(2), peer: p1024 === null ? null : +p1024.toFixed(2), ratio: p1024 === null ? null : +(ceiling / p1024).toFixed(4), unit: 'GFLOPS (ours: 128-bit multiply-add probe on the threads at once; peer: OpenBLAS 1024^3)' }));
}
console.log('');
for (const l of lines) console.log(l);
