/**
 * Length extrapolation of position encodings (Press et al. 2022, "Train Short, Test Long", ALiBi):
 * the same small GPT with learned, sinusoidal, RoPE, ALiBi or no positions, trained at T = 64 and
 * evaluated at T, 2T and 4T on held-out text. Learned positions have no embedding past n_positions
 * (= T), so they cannot be evaluated beyond T at all.
 *
 *   node dist/experiments/positions.js [--steps N]
 * Writes docs/experiments/positions.svg and .json.
 */
import { writeFileSync } from 'node:fs';
import { lineChartSvg } from '../src/index.js';
import { corpus, tailMean, train, validationLoss } from './common.js';

const args = process.argv.slice(2);
const steps = args.includes('--steps') ? Number(args[args.indexOf('--steps') + 1]) : 300;
const T = 64;
const { train: tokens, val, vocabSize } = corpus();
const results: { type: string; train: number; val: Record<string, number | null>; seconds: number }[] = [];
for (const type of ['learned', 'sinusoidal', 'rope', 'alibi', 'none']) {
  const config = { model_type: 'gpt2', vocab_size: vocabSize, n_embd: 128, n_layer: 4, n_head: 4, n_positions: T, position_embedding_type: type, embd_pdrop: 0, resid_pdrop: 0, attn_pdrop: 0 };
  const r = train(config, { steps, lr: 2e-3, minLr: 2e-4, warmupSteps: 20, seqLen: T, batchSize: 8, seed: 1 }, tokens);
  const v: Record<string, number | null> = {};
  for (const len of [T, 2 * T, 4 * T]) {
    // the same tokens at every length: 8 batches of 4 windows of the longest length, cut into shorter windows
    v[len] = type === 'learned' && len > T ? null : validationLoss(r.model, val.subarray(0, 32 * 4 * T + 1), len, (32 * T) / len, 4);
  }
  results.push({ type, train: tailMean(r.losses), val: v, seconds: r.seconds });
  console.log(`${type.padEnd(11)} train ${tailMean(r.losses).toFixed(3)}  val@${T} ${v[T]!.toFixed(3)}  val@${2 * T} ${v[2 * T]?.toFixed(3) ?? 'n/a'}  val@${4 * T} ${v[4 * T]?.toFixed(3) ?? 'n/a'}  ${r.seconds.toFixed(0)} s`);
}
writeFileSync('docs/experiments/positions.svg', lineChartSvg(results.map((r) => ({
  name: r.type, points: Object.entries(r.val).filter(([, y]) => y !== null).map(([x, y]) => [Number(x), y as number] as [number, number]),
})), { title: `validation loss vs evaluation length (trained at T = ${T})`, xLabel: 'evaluation length (tokens)', yLabel: 'validation loss' }));
writeFileSync('docs/experiments/positions.json', `${JSON.stringify({ steps, trainLength: T, results }, null, 2)}\n`);
console.log('wrote docs/experiments/positions.svg and .json');
