/**
 * The training loop (nanoGPT's train.py, llm.c's train_gpt2.c main loop): for each optimizer step,
 * set the scheduled learning rate, run `gradAccumSteps` micro-batches forward and backward (each
 * loss divided by the accumulation count, so gradients are those of the mean), clip the global
 * gradient norm, step the optimizer. Every `logEvery` steps a metrics record (loss, lr, gradient
 * norm, tokens/s, MFU) is appended to metrics.jsonl; every `evalEvery` steps the validation loss
 * and perplexity; every `saveEvery` steps a checkpoint that `resume` continues from exactly.
 *
 * Exact resumption: the checkpoint holds float32 weights, float64 optimizer buffers, the data
 * loader's generator state and the dropout generator's state, so the steps after a resume compute
 * the same numbers as the uninterrupted run. Evaluation draws no random numbers.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail, Generator, matmul, noGrad, randn, tidy, Tensor, type GeneratorState } from '../tensor/index.js';
import type { Module } from '../nn/index.js';
import { writeFileAtomic, writeHfFolder } from '../formats/index.js';
import type { TrainConfig } from './config.js';
import { Adam, AdamW, clipGradNorm, SGD, type Optimizer, type ParamGroup } from './optimizers.js';
import { learningRate } from './schedule.js';
import type { BatchEvaluation } from './objectives.js';
import { checkpointName, listCheckpoints, loadCheckpoint, pruneCheckpoints, saveCheckpoint, type TrainerState, CHECKPOINT_FORMAT } from './checkpoint.js';

/** Where micro-batches come from; `state` is saved in checkpoints and restored on resume. */
export interface BatchSource<B> {
  next(): B;
  state: unknown;
}

export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Labelled tokens in this step (all micro-batches). */
  tokens: number;
  tokensSeen: number;
  stepSeconds: number;
  tokensPerSecond: number;
  /** Model FLOPs utilisation: achieved training FLOP/s over peakGflops (null without a FLOP count). */
  mfu: number | null;
}

export interface EvalMetrics {
  step: number;
  loss: number;
  perplexity: number;
  tokens: number;
  /** Accuracy figures of the objective's evaluator (classification `accuracy`; seq2seq `token_accuracy`, `exact_match`), each in [0, 1]. */
  metrics?: Record<string, number>;
}

export interface TrainerOptions<B extends { tokens: number }> {
  model: Module;
  /** config.json fields of the model, written into checkpoints. */
  modelConfig: Record<string, unknown>;
  config: TrainConfig;
  loss: (model: Module, batch: B) => Tensor;
  train: BatchSource<B>;
  /** Fresh iterable of validation batches (deterministic) each time it is called. */
  validation?: () => Iterable<B>;
  /** Evaluates one validation batch with accuracy figures (objectives.ts evaluatorFor); default: the loss alone, weighted by batch.tokens. */
  evaluateBatch?: (model: Module, batch: B) => BatchEvaluation;
  /** Training FLOPs per labelled token (forward + backward), for MFU. */
  flopsPerToken?: number;
  /** Dropout's generator, saved with checkpoints (default: the model's `dropoutGenerator`); seeded with config.seed + 2. */
  dropoutGenerator?: Generator;
  /** Files copied into checkpoints and the final model (tokenizer.json). */
  copyFiles?: string[];
  onStep?: (m: StepMetrics) => void;
  onEval?: (m: EvalMetrics) => void;
  onCheckpoint?: (dir: string) => void;
}

export interface TrainSummary {
  steps: number;
  tokensSeen: number;
  trainSeconds: number;
  finalLoss: number;
  validation: EvalMetrics | null;
  modelDir: string;
  resumedFrom: number | null;
}

/**
 * Parameter groups for weight decay (nanoGPT's configure_optimizers, transformers' Trainer):
 * matrices decay; biases, norm gains (1-D) and embedding tables do not, unless decayAll.
 */
export function weightDecayGroups(model: Module, weightDecay: number, decayAll = false): ParamGroup[] {
  const embeddings = new Set<Tensor>();
  for (const [, m] of model.namedModules()) {
    if (m.constructor.name === 'Embedding') for (const p of m.parameters()) embeddings.add(p);
  }
  const decay: Tensor[] = [];
  const noDecay: Tensor[] = [];
  for (const p of model.parameters()) (decayAll || (p.ndim >= 2 && !embeddings.has(p)) ? decay : noDecay).push(p);
  return [{ params: decay, weightDecay }, { params: noDecay, weightDecay: 0 }].filter((g) => g.params.length > 0);
}

export function makeOptimizer(model: Module, c: TrainConfig): Optimizer {
  const groups = weightDecayGroups(model, c.weightDecay, c.decayAll);
  switch (c.optimizer) {
    case 'adamw': return new AdamW(groups, { lr: c.lr, betas: [c.beta1, c.beta2], eps: c.eps, weightDecay: c.weightDecay });
    case 'adam': return new Adam(groups, { lr: c.lr, betas: [c.beta1, c.beta2], eps: c.eps, weightDecay: c.weightDecay });
    case 'sgd': return new SGD(groups, { lr: c.lr, momentum: c.momentum, weightDecay: c.weightDecay });
    default: return fail('makeOptimizer', `unknown optimizer '${String(c.optimizer)}'`);
  }
}

/** Measures the GEMM throughput of the active backend (GFLOPS on a 512^3 float32 product), the peak that MFU is relative to. */
export function measurePeakGflops(n = 512, reps = 4): number {
  return tidy(() => noGrad(() => {
    const a = randn([n, n], { generator: new Generator(1) });
    const b = randn([n, n], { generator: new Generator(2) });
    matmul(a, b).dispose(); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) matmul(a, b).dispose();
    const s = (performance.now() - t0) / 1000;
    return (2 * n * n * n * reps) / s / 1e9;
  }));
}

function disposeBatch(batch: object): void {
  for (const v of Object.values(batch)) if (v instanceof Tensor) v.dispose();
}

export class Trainer<B extends { tokens: number }> {
  readonly optimizer: Optimizer;
  readonly params: Tensor[];
  readonly dropoutGenerator: Generator;
  step = 0;
  tokensSeen = 0;
  trainSeconds = 0;
  private readonly metricsPath: string;

  constructor(readonly o: TrainerOptions<B>) {
    this.optimizer = makeOptimizer(o.model, o.config);
    this.params = o.model.parameters();
    // dropout masks come from the model's own generator (one per model, see nn/dropout.ts), seeded from
    // the run's seed; its state goes into checkpoints so a resumed run draws the same masks
    const own = (o.model as { dropoutGenerator?: Generator }).dropoutGenerator;
    this.dropoutGenerator = o.dropoutGenerator ?? own ?? new Generator(0);
    this.dropoutGenerator.manualSeed(o.config.seed + 2);
    this.metricsPath = join(o.config.outDir, 'metrics.jsonl');
  }

  /** One optimizer step over gradAccumSteps micro-batches. */
  trainStep(): StepMetrics {
    const c = this.o.config;
    const t0 = performance.now();
    const lr = learningRate(this.step, c);
    this.optimizer.lr = lr;
    this.optimizer.zeroGrad();
    let lossSum = 0;
    let tokens = 0;
    for (let i = 0; i < c.gradAccumSteps; i++) {
      const batch = this.o.train.next();
      lossSum += tidy(() => {
        const loss = this.o.loss(this.o.model, batch);
        const value = loss.item();
        if (!Number.isFinite(value)) fail('train', `loss is ${value} at step ${this.step + 1} (micro-batch ${i + 1}); lower lr or check the data`);
        (c.gradAccumSteps > 1 ? loss.mul(1 / c.gradAccumSteps) : loss).backward();
        return value;
      });
      tokens += batch.tokens;
      disposeBatch(batch);
    }
    const gradNorm = c.gradClip > 0 ? clipGradNorm(this.params, c.gradClip) : globalGradNorm(this.params);
    this.optimizer.step();
    this.step++;
    this.tokensSeen += tokens;
    const stepSeconds = (performance.now() - t0) / 1000;
    this.trainSeconds += stepSeconds;
    const tokensPerSecond = tokens / stepSeconds;
    const mfu = this.o.flopsPerToken && c.peakGflops > 0 ? (tokensPerSecond * this.o.flopsPerToken) / (c.peakGflops * 1e9) : null;
    return { step: this.step, loss: lossSum / c.gradAccumSteps, lr, gradNorm, tokens, tokensSeen: this.tokensSeen, stepSeconds, tokensPerSecond, mfu };
  }

  /**
   * Mean validation loss (weighted by labelled tokens, or by sequences for classification) and the
   * evaluator's accuracy figures; the model in eval mode, no gradients, no random draws.
   */
  evaluate(): EvalMetrics | null {
    if (!this.o.validation) return null;
    const model = this.o.model;
    const wasTraining = model.training;
    model.eval();
    let sum = 0;
    let weight = 0;
    let tokens = 0;
    const counts = new Map<string, [number, number]>();
    try {
      for (const batch of this.o.validation()) {
        const e = tidy(() => noGrad(() => (this.o.evaluateBatch ? this.o.evaluateBatch(model, batch) : { loss: this.o.loss(model, batch).item(), weight: batch.tokens, counts: {} })));
        sum += e.loss * e.weight;
        weight += e.weight;
        tokens += batch.tokens;
        for (const [name, [right, total]] of Object.entries(e.counts)) {
          const c = counts.get(name) ?? [0, 0];
          counts.set(name, [c[0] + right, c[1] + total]);
        }
        disposeBatch(batch);
      }
    } finally {
      model.train(wasTraining);
    }
    if (weight === 0) return null;
    const loss = sum / weight;
    const out: EvalMetrics = { step: this.step, loss, perplexity: Math.exp(loss), tokens };
    if (counts.size) out.metrics = Object.fromEntries([...counts].map(([name, [right, total]]) => [name, total ? right / total : 0]));
    return out;
  }

  private state(): TrainerState {
    return {
      format: CHECKPOINT_FORMAT,
      step: this.step,
      tokensSeen: this.tokensSeen,
      trainSeconds: this.trainSeconds,
      data: this.o.train.state,
      dropout: this.dropoutGenerator.getState(),
      config: this.o.config,
    };
  }

  /** Saves outDir/checkpoint-<step> and prunes old checkpoints; returns the folder. */
  saveCheckpoint(): string {
    const dir = join(this.o.config.outDir, checkpointName(this.step));
    saveCheckpoint(dir, { model: this.o.model, modelConfig: this.o.modelConfig, optimizer: this.optimizer, state: this.state(), copyFiles: this.o.copyFiles ?? [] });
    pruneCheckpoints(this.o.config.outDir, this.o.config.keepCheckpoints);
    this.o.onCheckpoint?.(dir);
    return dir;
  }

  /** Restores the newest checkpoint in outDir; returns its step, or null when there is none. */
  resume(): number | null {
    const latest = listCheckpoints(this.o.config.outDir).at(-1);
    if (!latest) return null;
    const { state } = loadCheckpoint(latest.dir, this.o.model, this.optimizer);
    this.step = state.step;
    this.tokensSeen = state.tokensSeen;
    this.trainSeconds = state.trainSeconds;
    this.o.train.state = state.data;
    if (state.dropout) this.dropoutGenerator.setState(state.dropout as GeneratorState);
    this.truncateMetrics(state.step);
    return state.step;
  }

  /** Drops metrics recorded after `step` (by a run that went on past its last checkpoint), atomically. */
  private truncateMetrics(step: number): void {
    if (!existsSync(this.metricsPath)) return;
    const kept = readFileSync(this.metricsPath, 'utf8').split('\n').filter((line) => {
      if (!line.trim()) return false;
      try {
        return (JSON.parse(line) as { step: number }).step <= step;
      } catch {
        return false; // a line cut by a kill
      }
    });
    writeFileAtomic(this.metricsPath, new TextEncoder().encode(kept.map((l) => `${l}\n`).join('')));
  }

  private record(rec: Record<string, unknown>): void {
    appendFileSync(this.metricsPath, `${JSON.stringify(rec)}\n`);
  }

  /** Trains to config.steps (resuming first when config.resume), evaluates, saves and exports the final model to outDir/model. */
  run(): TrainSummary {
    const c = this.o.config;
    mkdirSync(c.outDir, { recursive: true });
    const resumedFrom = c.resume ? this.resume() : null;
    if (!c.resume && existsSync(this.metricsPath)) writeFileSync(this.metricsPath, '');
    this.o.model.train();
    let last: StepMetrics | null = null;
    let validation: EvalMetrics | null = null;
    while (this.step < c.steps) {
      last = this.trainStep();
      this.o.onStep?.(last);
      if (last.step % c.logEvery === 0 || last.step === c.steps) {
        this.record({
          type: 'train', step: last.step, loss: last.loss, lr: last.lr, grad_norm: last.gradNorm, tokens: last.tokensSeen,
          tokens_per_s: last.tokensPerSecond, mfu: last.mfu, elapsed_s: this.trainSeconds,
        });
      }
      const end = this.step === c.steps;
      if ((c.evalEvery > 0 && this.step % c.evalEvery === 0) || end) {
        validation = this.evaluate();
        if (validation) {
          const extra = Object.fromEntries(Object.entries(validation.metrics ?? {}).map(([k, v]) => [`val_${k}`, v]));
          this.record({ type: 'eval', step: validation.step, val_loss: validation.loss, val_ppl: validation.perplexity, ...extra, tokens: this.tokensSeen });
          this.o.onEval?.(validation);
        }
      }
      if ((c.saveEvery > 0 && this.step % c.saveEvery === 0) || end) this.saveCheckpoint();
    }
    this.o.model.eval();
    const modelDir = join(c.outDir, 'model');
    writeHfFolder(modelDir, {
      config: { architectures: [this.o.model.constructor.name], ...this.o.modelConfig },
      tensors: this.o.model.stateDict(),
      dtype: c.exportDtype,
      copyFiles: this.o.copyFiles ?? [],
      overwrite: true,
    });
    return { steps: this.step, tokensSeen: this.tokensSeen, trainSeconds: this.trainSeconds, finalLoss: last?.loss ?? NaN, validation, modelDir, resumedFrom };
  }
}

function globalGradNorm(params: Tensor[]): number {
  let sq = 0;
  for (const p of params) if (p.grad) for (const g of p.grad.toTypedArray()) sq += g * g;
  return Math.sqrt(sq);
}
