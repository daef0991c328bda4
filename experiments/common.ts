/**
 * Shared pieces of the experiments: the default model's prepared corpus (Brown + State of the
 * Union, tokenized with attn-tiny's BPE; `bash scripts/default-model/prepare.sh` makes it), a
 * small training run through the library's Trainer, and validation loss at a given length.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyOverrides, causalLmLoss, CausalLMBatches, createModel, fromTypedArray, Generator, IGNORE_INDEX, loadDataset, noGrad, sequentialCausalBatches,
  tidy, TRAIN_DEFAULTS, Trainer, type BatchSource, type CausalLMBatch, type GeneratorState, type Module, type TrainConfig,
} from '../src/index.js';

export const DATA = process.env.ATTN_EXPERIMENT_DATA ?? 'build/default-model/data';

export function corpus(): { train: Uint16Array | Uint32Array; val: Uint16Array | Uint32Array; vocabSize: number } {
  if (!existsSync(join(DATA, 'meta.json'))) {
    throw new Error(`no prepared corpus at ${DATA}: run 'bash scripts/default-model/prepare.sh' first (or set ATTN_EXPERIMENT_DATA)`);
  }
  const train = loadDataset(DATA, 'train');
  return { train: train.tokens, val: loadDataset(DATA, 'val').tokens, vocabSize: train.meta.vocabSize };
}

export interface RunResult {
  /** [step, training loss] for every step (NaN/Infinity end a diverged run). */
  losses: [number, number][];
  diverged: boolean;
  model: Module;
  seconds: number;
}

/** Trains a fresh model of `modelConfig` for config.steps on the corpus; stops at a non-finite loss. */
export function train(
  modelConfig: Record<string, unknown>, overrides: Partial<TrainConfig>, data: Uint16Array | Uint32Array | BatchSource<CausalLMBatch>,
  opts: { onStep?: (step: number, loss: number) => void } = {},
): RunResult {
  const out = mkdtempSync(join(tmpdir(), 'attn-experiment-'));
  try {
    const config = applyOverrides(TRAIN_DEFAULTS, { ...overrides, outDir: out, evalEvery: 0, saveEvery: 0 });
    const model = createModel(modelConfig, { seed: config.seed });
    const trainer = new Trainer({
      model, modelConfig, config, loss: causalLmLoss,
      train: ArrayBuffer.isView(data) ? new CausalLMBatches(data, { seqLen: config.seqLen, batchSize: config.batchSize, seed: config.seed + 1 }) : data,
    });
    model.train();
    const losses: [number, number][] = [];
    let diverged = false;
    const t0 = performance.now();
    for (let s = 0; s < config.steps; s++) {
      try {
        const m = trainer.trainStep();
        losses.push([m.step, m.loss]);
        opts.onStep?.(m.step, m.loss);
      } catch (e) {
        if (!/loss is (NaN|Infinity|-Infinity)/.test((e as Error).message)) throw e;
        diverged = true;
        break;
      }
    }
    model.eval();
    return { losses, diverged, model, seconds: (performance.now() - t0) / 1000 };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Mean next-token loss over up to `maxBatches` sequential windows of length seqLen. */
export function validationLoss(model: Module, tokens: Uint16Array | Uint32Array, seqLen: number, maxBatches = 8, batchSize = 4): number {
  let sum = 0;
  let n = 0;
  for (const b of sequentialCausalBatches(tokens, { seqLen, batchSize, maxBatches })) {
    sum += tidy(() => noGrad(() => causalLmLoss(model, b).item())) * b.tokens;
    n += b.tokens;
    b.inputIds.dispose();
    b.labels.dispose();
  }
  return sum / n;
}

/** Mean of the last k finite values. */
export function tailMean(points: [number, number][], k = 20): number {
  const ys = points.slice(-k).map(([, y]) => y);
  return ys.reduce((a, b) => a + b, 0) / ys.length;
}

/** The periodic-copy task's vocabulary and block lengths (positions.ts describes the task). */
export const V = 32;
export const P_MIN = 3;
export const P_MAX = 12;

/** Batches of the periodic-copy task at length seqLen; `state` is the generator's. */
export class PeriodicCopy implements BatchSource<CausalLMBatch> {
  readonly generator: Generator;

  constructor(readonly seqLen: number, readonly batchSize: number, seed: number) {
    this.generator = new Generator(seed);
  }

  next(): CausalLMBatch {
    const { seqLen: t, batchSize: b } = this;
    const x = new Int32Array(b * t);
    const y = new Int32Array(b * t);
    let labelled = 0;
    for (let i = 0; i < b; i++) {
      const p = P_MIN + this.generator.randint(P_MAX - P_MIN + 1);
      const block = Array.from({ length: p }, () => this.generator.randint(V));
      for (let j = 0; j <= t; j++) {
        const tok = block[j % p]!;
        if (j < t) x[i * t + j] = tok;
        if (j > 0) {
          // target of position j - 1 is token j: predictable once j >= p
          y[i * t + j - 1] = j >= p ? tok : IGNORE_INDEX;
          if (j >= p) labelled++;
        }
      }
    }
    return { inputIds: fromTypedArray(x, [b, t]), labels: fromTypedArray(y, [b, t]), tokens: labelled };
  }

  get state(): GeneratorState {
    return this.generator.getState();
  }

  set state(s: GeneratorState) {
    this.generator.setState(s);
  }
}

