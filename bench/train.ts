/**
 * Training throughput: a nanoGPT-sized GPT-2 (6 layers, 6 heads, d=384, T=256, batch 8, vocab
 * 8192) trained with AdamW by attn's Trainer vs the same model in PyTorch on the CPU
 * (bench/peers/torch_train.py, Debian python3-torch), same threads and batch, same run.
 *
 *   npm run bench -- train [--steps N] [--threads N]
 *
 * Reports tokens/s (mean over the timed steps after one warm-up step) and MFU: achieved training
 * FLOP/s (the calculator's count: 3 x forward, matmuls and attention) over the GEMM peak measured
 * in the same run. Ends with {"bench": "train", "ours": ..., "peer": ..., "ratio": ...}.
 */
import { cpus } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  applyOverrides, causalLmLoss, CausalLMBatches, createModel, forwardFlops, getBackend, measurePeakGflops, modelShape, TRAIN_DEFAULTS, Trainer,
} from '../src/index.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : dflt);
const steps = opt('steps', 3);
const threads = opt('threads', Number(process.env.ATTN_THREADS ?? cpus().length));
const shape = { layers: 6, heads: 6, d: 384, seq: 256, batch: 8, vocab: 8192 };
const config = { model_type: 'gpt2', n_layer: shape.layers, n_head: shape.heads, n_embd: shape.d, n_positions: shape.seq, vocab_size: shape.vocab };

console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}, Node ${process.version}, backend ${getBackend().name}, threads ${threads}`);
console.log(`GPT-2 ${shape.layers} layers, ${shape.heads} heads, d=${shape.d}, T=${shape.seq}, batch ${shape.batch}, vocab ${shape.vocab}; AdamW; ${steps} timed steps after 1 warm-up\n`);

const peak = measurePeakGflops(1024, 3);
const flopsPerToken = forwardFlops(modelShape(config), { seq: shape.seq }).training / shape.seq;
const out = mkdtempSync(join(tmpdir(), 'attn-bench-train-'));
const stream = Uint16Array.from({ length: 1 << 18 }, (_, i) => (i * 2654435761) % shape.vocab);
const model = createModel(config, { seed: 0 });
const trainer = new Trainer({
  model, modelConfig: config, loss: causalLmLoss, flopsPerToken,
  config: applyOverrides(TRAIN_DEFAULTS, { steps: steps + 1, warmupSteps: 0, seqLen: shape.seq, batchSize: shape.batch, outDir: out, peakGflops: peak }),
  train: new CausalLMBatches(stream, { seqLen: shape.seq, batchSize: shape.batch, seed: 0 }),
});
model.train();
trainer.trainStep(); // warm-up
let seconds = 0;
for (let s = 0; s < steps; s++) seconds += trainer.trainStep().stepSeconds;
rmSync(out, { recursive: true, force: true });
const ours = (steps * shape.batch * shape.seq) / seconds;
console.log(`attn:    ${ours.toFixed(0)} tokens/s, ${(seconds / steps).toFixed(2)} s/step, ${(model.numParameters() / 1e6).toFixed(2)}M parameters, MFU ${((100 * ours * flopsPerToken) / (peak * 1e9)).toFixed(1)}% of the measured ${peak.toFixed(1)} GFLOPS GEMM peak`);

const r = spawnSync('/usr/bin/python3', ['bench/peers/torch_train.py', JSON.stringify({ ...shape, steps, threads })], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
let peer: number | null = null;
if (r.status === 0) {
  const p = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { torch: string; tokens_per_s: number; params: number };
  peer = p.tokens_per_s;
  console.log(`PyTorch: ${peer.toFixed(0)} tokens/s (torch ${p.torch}, ${(p.params / 1e6).toFixed(2)}M parameters), MFU ${((100 * peer * flopsPerToken) / (peak * 1e9)).toFixed(1)}%`);
} else {
  console.error(`peer unavailable (torch via /usr/bin/python3): ${r.stderr.trim().split('\n').at(-1) ?? r.error}`);
}
console.log(JSON.stringify({ bench: 'train', ours, peer, ratio: peer ? ours / peer : null, unit: 'tokens/s' }));
