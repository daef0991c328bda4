/**
 * Length extrapolation of position encodings (Press et al. 2022, "Train Short, Test Long", ALiBi):
 * the same small GPT with learned, sinusoidal, RoPE, ALiBi or no positions, trained at T and
 * evaluated at T, 2T and 4T. Learned positions have no embedding past n_positions (= T), so they
 * cannot be evaluated beyond T at all.
 *
 * The task needs position: each sequence is a block of p random tokens (p drawn from
 * [pMin, pMax]) repeated to fill the window, so from position p on every token equals the one p
 * back. A model solves it with an induction circuit (Olsson et al. 2022): a previous-token head
 * (pure relative position, offset 1) and a head that attends to the token after the last
 * occurrence of the current one. The first p targets are unpredictable and carry no label; the
 * loss is over the rest (chance is ln V). At 2T and 4T the offsets needed are the same as at T,
 * only the absolute positions are new, which is exactly what separates the encodings.
 *
 *   node dist/experiments/positions.js [--steps N] [--seq-len T] [--lr X]
 * Writes docs/experiments/positions.svg, positions-train.svg and positions.json.
 */
import { writeFileSync } from 'node:fs';
import { causalLmLoss, IGNORE_INDEX, lineChartSvg, noGrad, tidy, type Module } from '../src/index.js';
import { PeriodicCopy, P_MAX, P_MIN, tailMean, train, V } from './common.js';

const args = process.argv.slice(2);
const opt = (n: string, d: number): number => (args.includes(`--${n}`) ? Number(args[args.indexOf(`--${n}`) + 1]) : d);
const steps = opt('steps', 1500);
const T = opt('seq-len', 32);
const lr = opt('lr', 3e-3);
const BATCH = 16;

/** Mean loss over the labelled positions of `batches` fresh batches at length len (a fixed seed: the same sequences for every model). */
function evalLoss(model: Module, len: number, batches = 8): { loss: number; accuracy: number } {
  const data = new PeriodicCopy(len, BATCH, 12345);
  let sum = 0;
  let n = 0;
  let correct = 0;
  for (let i = 0; i < batches; i++) {
    const b = data.next();
    tidy(() => noGrad(() => {
      sum += causalLmLoss(model, b).item() * b.tokens;
      const logits = (model as unknown as { forward(x: typeof b.inputIds): typeof b.inputIds }).forward(b.inputIds);
      const pred = logits.argmax(-1).toTypedArray();
      const labels = b.labels.toTypedArray();
      for (let k = 0; k < labels.length; k++) if (labels[k] !== IGNORE_INDEX && pred[k] === labels[k]) correct++;
    }));
    n += b.tokens;
    b.inputIds.dispose();
    b.labels.dispose();
  }
  return { loss: sum / n, accuracy: correct / n };
}

const lengths = [T, 2 * T, 4 * T];
const results: { type: string; train: number; val: Record<string, number | null>; accuracy: Record<string, number | null>; seconds: number }[] = [];
const curves: { name: string; points: [number, number][] }[] = [];
for (const type of ['learned', 'sinusoidal', 'rope', 'alibi', 'none']) {
  const config = { model_type: 'gpt2', vocab_size: V, n_embd: 64, n_layer: 2, n_head: 4, n_positions: T, position_embedding_type: type, embd_pdrop: 0, resid_pdrop: 0, attn_pdrop: 0 };
  const r = train(config, { steps, lr, minLr: lr / 10, warmupSteps: 50, seqLen: T, batchSize: BATCH, weightDecay: 0, seed: 1, logEvery: 1000000 }, new PeriodicCopy(T, BATCH, 7));
  const val: Record<string, number | null> = {};
  const accuracy: Record<string, number | null> = {};
  for (const len of lengths) {
    const e = type === 'learned' && len > T ? null : evalLoss(r.model, len);
    val[len] = e?.loss ?? null;
    accuracy[len] = e?.accuracy ?? null;
  }
  results.push({ type, train: tailMean(r.losses, 50), val, accuracy, seconds: r.seconds });
  curves.push({ name: type, points: r.losses.filter(([s]) => s % 10 === 0) });
  const fmt = (len: number): string => (val[len] === null ? 'n/a' : `${val[len]!.toFixed(3)} (${(100 * accuracy[len]!).toFixed(1)}%)`);
  console.log(`${type.padEnd(11)} train ${tailMean(r.losses, 50).toFixed(3)}  ${lengths.map((l) => `@${l} ${fmt(l)}`).join('  ')}  ${r.seconds.toFixed(0)} s`);
}
writeFileSync('docs/experiments/positions.svg', lineChartSvg(results.map((r) => ({
  name: r.type, points: Object.entries(r.val).filter(([, y]) => y !== null).map(([x, y]) => [Number(x), y as number] as [number, number]),
})), { title: `periodic copy: held-out loss vs length (trained at T = ${T})`, xLabel: 'evaluation length (tokens)', yLabel: 'loss on predictable tokens (nats)' }));
writeFileSync('docs/experiments/positions-train.svg', lineChartSvg(curves, { title: `periodic copy at T = ${T}: training loss`, xLabel: 'step', yLabel: 'training loss (nats)' }));
writeFileSync('docs/experiments/positions.json', `${JSON.stringify({
  task: { vocab: V, periods: [P_MIN, P_MAX], batch: BATCH, chance: Math.log(V) }, steps, lr, trainLength: T, results,
}, null, 2)}\n`);
console.log('wrote docs/experiments/positions.svg, positions-train.svg and .json');
