/**
 * Pre-norm vs post-norm at high learning rates, with and without warmup (the seeds' divergence
 * problem; Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture"): in a
 * post-norm block the gradient of the output layers is large at initialisation and grows with
 * depth, so without warmup a high learning rate destabilises it; pre-norm keeps an identity path
 * from the loss to every layer and trains.
 *
 *   node dist/experiments/norm-position.js [--steps N] [--lrs 1e-2,3e-2] [--layers L] [--warmup W] [--beta2 B] [--out PREFIX]
 * Writes PREFIX-<lr>.svg (one chart per lr) and PREFIX.json; PREFIX defaults to docs/experiments/norm-position.
 * --task text (default: the Brown + State of the Union corpus, GPT-2 with learned positions, vocabulary 8193) or
 * copy (the periodic-copy task of positions.ts, with ALiBi, vocabulary 32, batch 16: a task whose loss goes from
 * chance, ln 32, to ~0 only when the model learns an induction circuit, so "trains" and "stalls" are unambiguous).
 * --beta2 is Adam's second-moment decay: 0.95 (TrainConfig's default, nanoGPT's) or 0.999 (PyTorch's and
 * BERT's), whose high-variance early estimates are what warmup compensates for (Liu et al. 2020, RAdam).
 */
import { writeFileSync } from 'node:fs';
import { lineChartSvg } from '../src/index.js';
import { corpus, PeriodicCopy, tailMean, train, V } from './common.js';

const args = process.argv.slice(2);
const opt = (n: string, d: string): string => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1]! : d);
const steps = Number(opt('steps', '300'));
const lrs = opt('lrs', '1e-2,3e-2').split(',').map(Number);
const layers = Number(opt('layers', '12'));
const warmupSteps = Number(opt('warmup', '100'));
const beta2 = Number(opt('beta2', '0.95'));
const prefix = opt('out', 'docs/experiments/norm-position');
const task = opt('task', 'text');
if (task !== 'text' && task !== 'copy') throw new Error(`--task must be text or copy, got '${task}'`);
const T = 32;
const batchSize = task === 'copy' ? 16 : 8;
const text = task === 'text' ? corpus() : null;
const model = (norm: string) => ({
  model_type: 'gpt2', vocab_size: text?.vocabSize ?? V, n_embd: 64, n_layer: layers, n_head: 4, n_positions: T, norm_position: norm, embd_pdrop: 0, resid_pdrop: 0, attn_pdrop: 0,
  ...(task === 'copy' ? { position_embedding_type: 'alibi' } : {}),
});
type Run = { lr: number; norm: string; warmup: number; name: string; points: [number, number][]; first: number; min: number; final: number; diverged: boolean; seconds: number };
const runs: Run[] = [];
for (const lr of lrs) {
  for (const norm of ['pre', 'post']) {
    for (const warmup of [0, warmupSteps]) {
      const r = train(model(norm), { steps, lr, minLr: lr, schedule: 'constant', warmupSteps: warmup, beta2, seqLen: T, batchSize, gradClip: 0, weightDecay: 0, seed: 1, logEvery: 1000000 },
        text?.train ?? new PeriodicCopy(T, batchSize, 7));
      const name = `${norm}, ${warmup ? `warmup ${warmup}` : 'no warmup'}`;
      const ys = r.losses.map(([, y]) => y);
      const run: Run = {
        lr, norm, warmup, name, points: r.losses, first: ys[0] ?? NaN, min: Math.min(...ys), final: tailMean(r.losses, 20), diverged: r.diverged, seconds: r.seconds,
      };
      runs.push(run);
      console.log(`lr ${lr} beta2 ${beta2}  ${name.padEnd(24)} loss ${run.first.toFixed(3)} -> min ${run.min.toFixed(3)}, last 20 steps ${run.final.toFixed(3)}` +
        `${r.diverged ? ` DIVERGED at step ${r.losses.length + 1}` : ''}  ${r.seconds.toFixed(0)} s`);
    }
  }
}
const svgs: string[] = [];
for (const lr of lrs) {
  const svg = lineChartSvg(runs.filter((r) => r.lr === lr).map((r) => ({ name: r.name, points: r.points, dashed: r.norm === 'post' })), {
    title: `${task === 'copy' ? 'periodic copy: ' : ''}pre- vs post-norm, ${layers} layers, constant lr ${lr} (AdamW beta2 ${beta2}, no clipping)`, xLabel: 'step', yLabel: 'training loss',
  });
  writeFileSync(`${prefix}-${lr}.svg`, svg);
  svgs.push(`${prefix}-${lr}.svg`);
}
writeFileSync(`${prefix}.json`, `${JSON.stringify({
  task, steps, lrs, layers, warmupSteps, beta2, seqLen: T, batchSize, nEmbd: 64, runs: runs.map(({ points, ...r }) => ({ ...r, every10: points.filter(([s]) => s % 10 === 0 || s === 1) })),
}, null, 2)}\n`);
console.log(`wrote ${svgs.join(', ')} and ${prefix}.json`);
