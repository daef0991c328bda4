/**
 * TrainConfig: every knob of a training run, with its default, in one place (nanoGPT's
 * `train.py` globals, llm.c's `train_gpt2.c` options). A run is described by a JSON file of
 * overrides plus command-line `--key value` overrides, both type-checked against the defaults:
 * an unknown key or a value of the wrong type is an error that names the key.
 */
import { fail } from '../tensor/index.js';

export type Objective = 'causal-lm' | 'mlm' | 'seq2seq' | 'classification';
export type OptimizerName = 'adamw' | 'adam' | 'sgd';
export type ScheduleName = 'cosine' | 'linear' | 'constant';

export interface TrainConfig {
  // --- model ---
  /** A preset name (`attn calc --help` lists them), a Hugging Face folder to fine-tune, or '' to use modelConfig alone. */
  model: string;
  /** config.json fields applied over the preset (e.g. {"num_hidden_layers": 4}); ignored when model is a folder. */
  modelConfig: Record<string, unknown>;
  objective: Objective;
  // --- data ---
  /** A folder written by `attn data prepare` (tokens, tokenizer.json, meta.json). */
  data: string;
  /** Tokens per training sequence (the context length trained on). */
  seqLen: number;
  /** Sequences per micro-batch. */
  batchSize: number;
  /** Micro-batches whose gradients are summed before one optimizer step. */
  gradAccumSteps: number;
  // --- optimization ---
  /** Optimizer steps to train for. */
  steps: number;
  optimizer: OptimizerName;
  /** Peak learning rate (reached after warmup). */
  lr: number;
  /** Learning rate at the end of the cosine or linear decay. */
  minLr: number;
  warmupSteps: number;
  schedule: ScheduleName;
  /** Decoupled (AdamW) or L2 (Adam, SGD) weight decay on matrices; norms, biases and embeddings get none unless decayAll. */
  weightDecay: number;
  decayAll: boolean;
  beta1: number;
  beta2: number;
  eps: number;
  /** SGD momentum. */
  momentum: number;
  /** Clip the global gradient norm to this; 0 turns clipping off. */
  gradClip: number;
  /** Seeds model initialisation, data order and dropout. */
  seed: number;
  // --- evaluation and output ---
  /** Evaluate on the validation split every N steps (and at the end); 0 = only at the end. */
  evalEvery: number;
  /** Validation batches per evaluation (0 = the whole split). */
  evalBatches: number;
  logEvery: number;
  /** Save a checkpoint every N steps (and at the end); 0 = only at the end. */
  saveEvery: number;
  /** Checkpoints kept on disk (oldest removed first). */
  keepCheckpoints: number;
  /** Output folder: checkpoints, metrics.jsonl, the final model. */
  outDir: string;
  /** Continue from the newest checkpoint in outDir (exactly: same losses as an uninterrupted run). */
  resume: boolean;
  /** Dtype of the final exported model (checkpoints are always float32 so resuming is exact). */
  exportDtype: 'float32' | 'float16' | 'bfloat16';
  /** Peak GFLOPS used for the MFU estimate; 0 = measure a GEMM at start. */
  peakGflops: number;
}

/** The defaults: a small GPT-style causal LM run. */
export const TRAIN_DEFAULTS: Readonly<TrainConfig> = Object.freeze({
  model: 'gpt2',
  modelConfig: {},
  objective: 'causal-lm',
  data: '',
  seqLen: 256,
  batchSize: 8,
  gradAccumSteps: 1,
  steps: 1000,
  optimizer: 'adamw',
  lr: 6e-4,
  minLr: 6e-5,
  warmupSteps: 100,
  schedule: 'cosine',
  weightDecay: 0.1,
  decayAll: false,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  momentum: 0.9,
  gradClip: 1.0,
  seed: 1337,
  evalEvery: 250,
  evalBatches: 20,
  logEvery: 10,
  saveEvery: 500,
  keepCheckpoints: 2,
  outDir: 'out',
  resume: false,
  exportDtype: 'float32',
  peakGflops: 0,
} satisfies TrainConfig);

const ENUMS: Partial<Record<keyof TrainConfig, readonly string[]>> = {
  objective: ['causal-lm', 'mlm', 'seq2seq', 'classification'],
  optimizer: ['adamw', 'adam', 'sgd'],
  schedule: ['cosine', 'linear', 'constant'],
  exportDtype: ['float32', 'float16', 'bfloat16'],
};

const NON_NEGATIVE_INTS: (keyof TrainConfig)[] = ['warmupSteps', 'evalEvery', 'evalBatches', 'saveEvery', 'seed'];
const POSITIVE_INTS: (keyof TrainConfig)[] = ['seqLen', 'batchSize', 'gradAccumSteps', 'steps', 'logEvery', 'keepCheckpoints'];
const NON_NEGATIVE: (keyof TrainConfig)[] = ['lr', 'minLr', 'weightDecay', 'eps', 'momentum', 'gradClip', 'peakGflops'];

function camelCase(key: string): string {
  return key.replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Applies overrides to a config, checking every key and type. Keys may be camelCase or
 * kebab-/snake-case (`--grad-accum-steps`). With `fromStrings`, values are command-line
 * strings parsed as the default's type (numbers, booleans `true`/`false`, JSON for modelConfig).
 */
export function applyOverrides(base: Readonly<TrainConfig>, overrides: Readonly<Record<string, unknown>>, opts: { fromStrings?: boolean; source?: string } = {}): TrainConfig {
  const what = opts.source ?? 'TrainConfig';
  const out: TrainConfig = { ...base, modelConfig: { ...base.modelConfig } };
  for (const [rawKey, rawValue] of Object.entries(overrides)) {
    const key = camelCase(rawKey) as keyof TrainConfig;
    if (!(key in TRAIN_DEFAULTS)) fail(what, `unknown key '${rawKey}' (known: ${Object.keys(TRAIN_DEFAULTS).join(', ')})`);
    const expected = typeof TRAIN_DEFAULTS[key];
    let value = rawValue;
    if (opts.fromStrings && typeof value === 'string') {
      if (expected === 'number') {
        value = value.trim() === '' ? NaN : Number(value);
        if (Number.isNaN(value)) fail(what, `'${rawKey}' must be a number, got '${rawValue as string}'`);
      } else if (expected === 'boolean') {
        if (value !== 'true' && value !== 'false') fail(what, `'${rawKey}' must be true or false, got '${rawValue as string}'`);
        value = value === 'true';
      } else if (key === 'modelConfig') {
        try {
          value = JSON.parse(value);
        } catch {
          fail(what, `'${rawKey}' must be a JSON object, got '${rawValue as string}'`);
        }
      }
    }
    if (key === 'modelConfig') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(what, `'${rawKey}' must be an object of config.json fields`);
      out.modelConfig = { ...out.modelConfig, ...(value as Record<string, unknown>) };
      continue;
    }
    if (typeof value !== expected) fail(what, `'${rawKey}' must be a ${expected}, got ${JSON.stringify(value)}`);
    (out as unknown as Record<string, unknown>)[key] = value;
  }
  validateTrainConfig(out, what);
  return out;
}

export function validateTrainConfig(c: TrainConfig, what = 'TrainConfig'): void {
  for (const [key, allowed] of Object.entries(ENUMS)) {
    const v = c[key as keyof TrainConfig] as string;
    if (!allowed!.includes(v)) fail(what, `'${key}' must be one of ${allowed!.join(', ')}, got '${v}'`);
  }
  for (const k of POSITIVE_INTS) if (!(Number.isInteger(c[k]) && (c[k] as number) > 0)) fail(what, `'${k}' must be a positive integer, got ${String(c[k])}`);
  for (const k of NON_NEGATIVE_INTS) if (!(Number.isInteger(c[k]) && (c[k] as number) >= 0)) fail(what, `'${k}' must be a non-negative integer, got ${String(c[k])}`);
  for (const k of NON_NEGATIVE) if (!(Number.isFinite(c[k]) && (c[k] as number) >= 0)) fail(what, `'${k}' must be a finite number >= 0, got ${String(c[k])}`);
  if (!(c.beta1 >= 0 && c.beta1 < 1)) fail(what, `'beta1' must be in [0, 1), got ${c.beta1}`);
  if (!(c.beta2 >= 0 && c.beta2 < 1)) fail(what, `'beta2' must be in [0, 1), got ${c.beta2}`);
  if (c.minLr > c.lr) fail(what, `'minLr' (${c.minLr}) must not exceed 'lr' (${c.lr})`);
  if (c.warmupSteps > c.steps) fail(what, `'warmupSteps' (${c.warmupSteps}) must not exceed 'steps' (${c.steps})`);
}
