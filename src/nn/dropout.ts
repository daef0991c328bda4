/**
 * Dropout (Srivastava et al. 2014, "Dropout: A Simple Way to Prevent Neural Networks from
 * Overfitting") as a module, inverted as in PyTorch: in training mode each element is zeroed with
 * probability p and the rest are scaled by 1 / (1 - p); in evaluation mode it is the identity.
 *
 * Masks are drawn from `generator`. A model shares one generator among all its Dropout modules
 * (`shareDropoutGenerator`, called by each model's constructor; the model exposes it as
 * `model.dropoutGenerator`), so a training run seeds it once (`manualSeed`) and a checkpoint saves
 * and restores its state (`getState` / `setState`) to resume with the same masks.
 */
import { defaultGenerator, fail, type Generator, type Tensor } from '../tensor/index.js';
import { dropout } from '../ops/index.js';
import { Module } from './module.js';

export class Dropout extends Module {
  /** Where masks come from; replaced by the owning model's dropoutGenerator. */
  generator: Generator = defaultGenerator;

  constructor(readonly p: number) {
    super();
    if (!(typeof p === 'number' && p >= 0 && p < 1)) fail('Dropout', `probability must be in [0, 1), got ${p}`);
  }

  /** The probability in effect: p in training mode, 0 in evaluation mode. */
  get rate(): number {
    return this.training ? this.p : 0;
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.rate, { generator: this.generator });
  }
}

/** Makes every Dropout module under `root` draw its masks from `generator`, and returns it. */
export function shareDropoutGenerator(root: Module, generator: Generator): Generator {
  for (const m of root.modules()) if (m instanceof Dropout) m.generator = generator;
  return generator;
}
