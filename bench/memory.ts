/**
 * Memory benchmark: trains the demo's encoder for 10,000 steps with `tidy` around each step and
 * prints resident memory (RSS) at the start and at the end. A flat RSS means the core releases
 * every intermediate, gradient and graph node; the buffer pool's hit rate shows reuse.
 *
 *   npm run bench -- memory [--steps N]
 */
import { getBackend, pool, runDemo, type WasmBackend } from '../src/index.js';

const argSteps = process.argv.indexOf('--steps');
const steps = argSteps > 0 ? Number(process.argv[argSteps + 1]) : 10_000;
const mb = (b: number) => b / 2 ** 20;

const samples: { step: number; rssMB: number; heapMB: number }[] = [];
let startRss = 0;
// V8 grows its heap during the first steps; measure from 10% of the run.
const warmup = Math.max(1, Math.floor(steps / 10));
let endRss = 0;
const t0 = performance.now();
const result = runDemo({ steps, batchSize: 8, dModel: 16, nHeads: 2, seed: 1 }, ({ step, loss }) => {
  if (step === warmup || step % 1000 === 0 || step === steps) {
    const m = process.memoryUsage();
    if (step === warmup) startRss = m.rss;
    if (step === steps) endRss = m.rss; // before the final evaluation batch
    samples.push({ step, rssMB: mb(m.rss), heapMB: mb(m.heapUsed) });
    console.log(`step ${String(step).padStart(6)}  loss ${loss.toFixed(4)}  rss ${mb(m.rss).toFixed(1)} MiB  heap ${mb(m.heapUsed).toFixed(1)} MiB`);
  }
});
const stats = pool.stats();
console.log(`\n${steps} steps in ${((performance.now() - t0) / 1000).toFixed(1)}s; final loss ${result.losses.at(-1)!.toFixed(4)}`);
console.log(`RSS at step ${warmup}: ${mb(startRss).toFixed(1)} MiB; at step ${steps}: ${mb(endRss).toFixed(1)} MiB (${(((endRss - startRss) / startRss) * 100).toFixed(1)}%)`);
const be = getBackend() as Partial<WasmBackend>;
if (be.memoryStats) {
  const h = be.memoryStats();
  console.log(`backend ${getBackend().name}: wasm heap ${(h.heapBytes / 2 ** 20).toFixed(2)} MiB, of which ${(h.freeBytes / 2 ** 20).toFixed(2)} MiB free for reuse`);
} else {
  console.log(`backend ${getBackend().name}: buffer pool ${stats.hits} reuses, ${stats.misses} fresh allocations (${((100 * stats.hits) / (stats.hits + stats.misses)).toFixed(1)}% reused)`);
}
console.log(JSON.stringify({ bench: 'memory-rss-10k-steps', ours: mb(endRss), peer: mb(startRss), ratio: endRss / startRss, unit: 'MiB (end vs start RSS)' }));
