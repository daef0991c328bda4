/**
 * The core's end-to-end demo: a one-layer transformer encoder learns to reverse sequences of
 * digits. Reversal needs attention (each output position must find the input at the mirrored
 * position), so the loss only falls if embeddings, attention, norms, autograd and AdamW all work.
 */
import {
  add, argmax, compare, fromTypedArray, Generator, reshape, permute, sum, tidy,
  type Tensor,
} from '../tensor/index.js';
import { crossEntropy, gelu, scaledDotProductAttention, split } from '../ops/index.js';
import { Embedding, LayerNorm, Linear, Module } from '../nn/index.js';
import { AdamW } from './optimizers.js';

export interface DemoConfig {
  steps: number;
  batchSize: number;
  seqLen: number;
  vocabSize: number;
  dModel: number;
  nHeads: number;
  lr: number;
  seed: number;
}

export const DEMO_DEFAULTS: Readonly<DemoConfig> = {
  steps: 150,
  batchSize: 32,
  seqLen: 8,
  vocabSize: 10,
  dModel: 32,
  nHeads: 2,
  lr: 3e-3,
  seed: 0,
};

/** Pre-norm encoder block + output head. */
export class TinyEncoder extends Module {
  readonly tokEmb: Embedding;
  readonly posEmb: Embedding;
  readonly ln1: LayerNorm;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly ln2: LayerNorm;
  readonly fc: Linear;
  readonly fcOut: Linear;
  readonly lnF: LayerNorm;
  readonly head: Linear;

  constructor(readonly cfg: DemoConfig, g: Generator) {
    super();
    const d = cfg.dModel;
    this.tokEmb = this.module('tok_emb', new Embedding(cfg.vocabSize, d, { std: 0.5, generator: g }));
    this.posEmb = this.module('pos_emb', new Embedding(cfg.seqLen, d, { std: 0.5, generator: g }));
    this.ln1 = this.module('ln1', new LayerNorm(d));
    this.qkv = this.module('qkv', new Linear(d, 3 * d, { generator: g }));
    this.proj = this.module('proj', new Linear(d, d, { generator: g }));
    this.ln2 = this.module('ln2', new LayerNorm(d));
    this.fc = this.module('fc', new Linear(d, 4 * d, { generator: g }));
    this.fcOut = this.module('fc_out', new Linear(4 * d, d, { generator: g }));
    this.lnF = this.module('ln_f', new LayerNorm(d));
    this.head = this.module('head', new Linear(d, cfg.vocabSize, { generator: g }));
  }

  /** ids [B, T] -> logits [B, T, V] */
  forward(ids: Tensor, positions: Tensor): Tensor {
    const [b, t] = ids.shape as [number, number];
    const { dModel: d, nHeads: h } = this.cfg;
    let x = add(this.tokEmb.forward(ids), this.posEmb.forward(positions)); // [B, T, D]
    const [q, k, v] = split(this.qkv.forward(this.ln1.forward(x)), d, -1).map(
      (z) => permute(reshape(z, [b, t, h, d / h]), [0, 2, 1, 3]), // [B, H, T, hd]
    ) as [Tensor, Tensor, Tensor];
    const att = scaledDotProductAttention(q, k, v); // [B, H, T, hd], bidirectional
    x = add(x, this.proj.forward(reshape(permute(att, [0, 2, 1, 3]), [b, t, d]))); // [B, T, D]
    x = add(x, this.fcOut.forward(gelu(this.fc.forward(this.ln2.forward(x)))));
    return this.head.forward(this.lnF.forward(x)); // [B, T, V]
  }
}

/** A batch of random digit sequences and their reversals. */
export function reversalBatch(cfg: DemoConfig, g: Generator): { input: Tensor; target: Tensor } {
  const { batchSize: b, seqLen: t, vocabSize: v } = cfg;
  const x = new Int32Array(b * t);
  const y = new Int32Array(b * t);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < t; j++) x[i * t + j] = g.randint(v);
    for (let j = 0; j < t; j++) y[i * t + j] = x[i * t + (t - 1 - j)]!;
  }
  return { input: fromTypedArray(x, [b, t]), target: fromTypedArray(y, [b, t]) };
}

export interface DemoStep {
  step: number;
  loss: number;
}

export interface DemoResult {
  losses: number[];
  /** Fraction of tokens reversed correctly on a fresh batch after training. */
  accuracy: number;
  parameters: number;
  seconds: number;
}

export function runDemo(overrides: Partial<DemoConfig> = {}, onStep?: (s: DemoStep) => void): DemoResult {
  const cfg = { ...DEMO_DEFAULTS, ...overrides };
  const g = new Generator(cfg.seed);
  const model = new TinyEncoder(cfg, g);
  const opt = new AdamW(model.parameters(), { lr: cfg.lr, weightDecay: 0 });
  const positions = fromTypedArray(Int32Array.from({ length: cfg.seqLen }, (_, i) => i), [cfg.seqLen]);
  const losses: number[] = [];
  const start = performance.now();
  for (let step = 1; step <= cfg.steps; step++) {
    const loss = tidy(() => {
      const { input, target } = reversalBatch(cfg, g);
      const l = crossEntropy(model.forward(input, positions), target);
      opt.zeroGrad();
      l.backward();
      opt.step();
      return l.item();
    });
    losses.push(loss);
    onStep?.({ step, loss });
  }
  const accuracy = tidy(() => {
    const { input, target } = reversalBatch({ ...cfg, batchSize: 256 }, g);
    const pred = argmax(model.forward(input, positions), -1);
    return sum(compare('eq', pred, target)).item() / target.size;
  });
  return { losses, accuracy, parameters: model.numParameters(), seconds: (performance.now() - start) / 1000 };
}
