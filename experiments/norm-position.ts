/**
 * Pre-norm vs post-norm at a high learning rate, with and without warmup (the seeds' divergence
 * problem; Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture"): in a
 * post-norm block the gradient of the output layers is large at initialisation, so without
 * warmup a high learning rate destabilises it; pre-norm keeps an identity path and trains.
 *
 *   node dist/experiments/norm-position.js [--steps N] [--lr X]
 * Writes docs/experiments/norm-position.svg and .json.
 */
import { writeFileSync } from 'node:fs';
import { lineChartSvg } from '../src/index.js';
import { corpus, tailMean, train } from './common.js';

const args = process.argv.slice(2);
const opt = (n: string, d: number): number => (args.includes(`--${n}`) ? Number(args[args.indexOf(`--${n}`) + 1]) : d);
const steps = opt('steps', 200);
const lr = opt('lr', 3e-3);
const { train: tokens, vocabSize } = corpus();
const model = (norm: string) => ({ model_type: 'gpt2', vocab_size: vocabSize, n_embd: 128, n_layer: 6, n_head: 4, n_positions: 64, norm_position: norm, embd_pdrop: 0, resid_pdrop: 0, attn_pdrop: 0 });
const runs: { name: string; points: [number, number][]; final: number; diverged: boolean; seconds: number }[] = [];
for (const norm of ['pre', 'post']) {
  for (const warmup of [0, 50]) {
    const r = train(model(norm), { steps, lr, minLr: lr, schedule: 'constant', warmupSteps: warmup, seqLen: 64, batchSize: 8, gradClip: 0, weightDecay: 0, seed: 1 }, tokens);
    const name = `${norm}-norm, ${warmup ? `warmup ${warmup}` : 'no warmup'}`;
    runs.push({ name, points: r.losses, final: tailMean(r.losses), diverged: r.diverged, seconds: r.seconds });
    console.log(`${name.padEnd(26)} loss ${r.losses[0]?.[1].toFixed(3)} -> ${tailMean(r.losses).toFixed(3)} (mean of the last 20 steps)${r.diverged ? ' DIVERGED' : ''}  ${r.seconds.toFixed(0)} s`);
  }
}
writeFileSync('docs/experiments/norm-position.svg', lineChartSvg(runs.map((r) => ({ name: r.name, points: r.points, dashed: r.name.startsWith('post') })), {
  title: `pre- vs post-norm, 6 layers, constant lr ${lr} (no clipping)`, xLabel: 'step', yLabel: 'training loss',
}));
writeFileSync('docs/experiments/norm-position.json', `${JSON.stringify({ steps, lr, runs: runs.map(({ points, ...r }) => ({ ...r, first: points[0]?.[1] })) }, null, 2)}\n`);
console.log('wrote docs/experiments/norm-position.svg and .json');
