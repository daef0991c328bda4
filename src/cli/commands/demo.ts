import { parseArgs } from 'node:util';
import { DEMO_DEFAULTS, runDemo } from '../../train/demo.js';
import { ProgressBar } from '../progress.js';
import { intOption, numberOption, type Command } from '../command.js';

export const demo: Command = {
  name: 'demo',
  summary: 'train a tiny transformer encoder to reverse digit sequences and print its loss falling',
  usage: `attn demo [--steps N] [--lr X] [--seed S] [--json]

Trains a one-layer, ${DEMO_DEFAULTS.nHeads}-head transformer encoder (d=${DEMO_DEFAULTS.dModel}) on generated data:
reverse a sequence of ${DEMO_DEFAULTS.seqLen} digits. No downloads. Prints the loss every 25 steps and
the accuracy on a fresh batch at the end.

Options:
  --steps N   training steps (default ${DEMO_DEFAULTS.steps})
  --lr X      AdamW learning rate (default ${DEMO_DEFAULTS.lr})
  --seed S    seed for data and initialisation (default ${DEMO_DEFAULTS.seed})
  --json      print one JSON object with the losses and accuracy instead of text`,
  run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { steps: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' } },
      strict: true,
    });
    const steps = intOption('steps', values.steps, DEMO_DEFAULTS.steps, 1);
    const lr = numberOption('lr', values.lr, DEMO_DEFAULTS.lr);
    const seed = intOption('seed', values.seed, DEMO_DEFAULTS.seed, 0);
    const bar = values.json ? null : new ProgressBar(steps, 'demo');
    if (!values.json) console.log(`step  loss    (chance level: ln 10 = ${Math.log(10).toFixed(4)})`);
    let window = 0;
    const result = runDemo({ steps, lr, seed }, ({ step, loss }) => {
      window += loss;
      bar?.update(step, `loss ${loss.toFixed(4)}`);
      if (!values.json && (step % 25 === 0 || step === 1)) {
        bar?.done();
        console.log(`${String(step).padStart(4)}  ${(step === 1 ? loss : window / 25).toFixed(4)}`);
        window = 0;
      }
    });
    bar?.done();
    if (values.json) {
      console.log(JSON.stringify({ steps, parameters: result.parameters, firstLoss: result.losses[0], finalLoss: result.losses.at(-1), accuracy: result.accuracy, seconds: result.seconds, losses: result.losses }));
    } else {
      console.log(`\n${result.parameters} parameters, ${steps} steps in ${result.seconds.toFixed(1)}s`);
      console.log(`loss ${result.losses[0]!.toFixed(4)} -> ${result.losses.at(-1)!.toFixed(4)}; reversal accuracy on fresh data: ${(100 * result.accuracy).toFixed(1)}%`);
    }
  },
};
