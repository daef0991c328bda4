/**
 * Attention: naive (composed: scores [T, T] materialised, softmax, matmul) vs tiled (the fused
 * FlashAttention-style kernel), same backend, same run. Causal, B=1, H=1, D=64.
 *
 *   npm run bench -- attention [--max 8192] [--backward-max 4096]
 *
 * Time is the best of 3 (1 for the largest naive runs). Peak memory is the extra bytes held at
 * once during the call: tensor storages (counted by the core) plus the wasm kernels' scratch
 * arena, inputs excluded. Ends with JSON lines {"bench","ours","peer","ratio"} where ours is
 * the tiled kernel and peer the naive composition.
 */
import { cpus } from 'node:os';
import {
  Generator, backward, getBackend, randn, resetPeakTensorMemory, scaledDotProductAttention, tensorMemory, tidy,
  withoutFused, type WasmBackend,
} from '../src/index.js';

const args = process.argv.slice(2);
const maxT = args.includes('--max') ? Number(args[args.indexOf('--max') + 1]) : 8192;
const maxBwd = args.includes('--backward-max') ? Number(args[args.indexOf('--backward-max') + 1]) : 4096;
const be = getBackend() as WasmBackend;
// One head, so that the naive baseline (T x T scores and its intermediates) still fits at 8192.
const [B, H, D] = [1, 1, 64];

function measure(t: number, tiled: boolean, withBackward: boolean): { ms: number; peakMB: number } {
  const g = new Generator(t);
  let best = Infinity;
  let peak = 0;
  const reps = !tiled && t >= 4096 ? 1 : 3;
  for (let r = 0; r < reps; r++) {
    tidy(() => {
      const q = randn([B, H, t, D], { generator: g }).requiresGrad_(withBackward);
      const k = randn([B, H, t, D], { generator: g }).requiresGrad_(withBackward);
      const v = randn([B, H, t, D], { generator: g }).requiresGrad_(withBackward);
      const up = withBackward ? randn([B, H, t, D], { generator: g }) : null;
      resetPeakTensorMemory();
      be.takePeakScratchBytes?.();
      const base = tensorMemory().liveBytes;
      const start = performance.now();
      const run = () => {
        const out = scaledDotProductAttention(q, k, v, { causal: true });
        if (up) backward(out, up);
        return 0;
      };
      if (tiled) run();
      else withoutFused(run);
      best = Math.min(best, performance.now() - start);
      peak = Math.max(peak, tensorMemory().peakBytes - base + (be.takePeakScratchBytes?.() ?? 0));
      return 0;
    });
  }
  return { ms: best, peakMB: peak / 2 ** 20 };
}

console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}, Node ${process.version}, backend ${be.name}`);
console.log(`causal attention, B=${B}, H=${H}, D=${D}, float32\n`);
console.log(`${'pass'.padEnd(9)} ${'T'.padStart(6)} ${'naive ms'.padStart(10)} ${'tiled ms'.padStart(10)} ${'speedup'.padStart(8)} ${'naive MiB'.padStart(10)} ${'tiled MiB'.padStart(10)} ${'mem ratio'.padStart(10)}`);
const lines: string[] = [];
for (const [pass, limit] of [['forward', maxT], ['fwd+bwd', maxBwd]] as const) {
  for (const t of [512, 1024, 2048, 4096, 8192].filter((x) => x <= limit)) {
    const naive = measure(t, false, pass === 'fwd+bwd');
    const tiled = measure(t, true, pass === 'fwd+bwd');
    console.log(`${pass.padEnd(9)} ${String(t).padStart(6)} ${naive.ms.toFixed(1).padStart(10)} ${tiled.ms.toFixed(1).padStart(10)} ${(naive.ms / tiled.ms).toFixed(2).padStart(8)} ${naive.peakMB.toFixed(1).padStart(10)} ${tiled.peakMB.toFixed(1).padStart(10)} ${(naive.peakMB / tiled.peakMB).toFixed(1).padStart(10)}`);
    lines.push(JSON.stringify({ bench: `attention-${pass}-T${t}-time`, ours: +tiled.ms.toFixed(2), peer: +naive.ms.toFixed(2), ratio: +(tiled.ms / naive.ms).toFixed(4), unit: 'ms (peer: naive)' }));
    lines.push(JSON.stringify({ bench: `attention-${pass}-T${t}-peak-memory`, ours: +tiled.peakMB.toFixed(2), peer: +naive.peakMB.toFixed(2), ratio: +(tiled.peakMB / naive.peakMB).toFixed(5), unit: 'MiB (peer: naive)' }));
  }
}
console.log('');
for (const l of lines) console.log(l);
be.close?.();
