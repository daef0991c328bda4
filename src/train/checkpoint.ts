/**
 * Training checkpoints (Node). A checkpoint is a Hugging Face folder, so any checkpoint loads as a
 * model (`attn generate --model out/checkpoint-500`), plus what resuming needs:
 *   config.json, model.safetensors   weights in float32 (exact; the export dtype applies only to the final model)
 *   tokenizer.json                   when the run has one
 *   optimizer.safetensors            the optimizer's per-parameter buffers in float64 (exp_avg.<param>, ...)
 *   trainer_state.json               step, tokens seen, RNG states (data order, dropout), the TrainConfig
 * writeHfFolder builds the folder under a temporary name and renames it when complete, so a kill
 * during a save leaves the previous checkpoints intact and no half-written one that looks finished.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fail, fromTypedArray, type GeneratorState, type Tensor } from '../tensor/index.js';
import type { Module } from '../nn/index.js';
import { readSafetensors, serializeSafetensors, writeHfFolder } from '../formats/index.js';
import type { TrainConfig } from './config.js';
import type { Optimizer } from './optimizers.js';

export const CHECKPOINT_FORMAT = 'attn-checkpoint/1';

export interface TrainerState {
  format: typeof CHECKPOINT_FORMAT;
  /** Optimizer steps completed. */
  step: number;
  tokensSeen: number;
  /** Wall time spent training before this checkpoint, in seconds (summed over resumed runs). */
  trainSeconds: number;
  /** The training data loader's position (its generator state, or an index state). */
  data: unknown;
  /** The dropout generator's state. */
  dropout: GeneratorState | null;
  config: TrainConfig;
}

export interface SaveCheckpointOptions {
  model: Module;
  /** config.json fields of the model (model_type first). */
  modelConfig: Record<string, unknown>;
  optimizer: Optimizer;
  state: TrainerState;
  /** Copied in (tokenizer.json). */
  copyFiles?: string[];
  overwrite?: boolean;
}

export function checkpointName(step: number): string {
  return `checkpoint-${step}`;
}

/** Parameter -> checkpoint name (the optimizer keys its buffers by these names). */
export function parameterNames(model: Module): Map<Tensor, string> {
  return new Map(model.namedParameters().map(([n, p]) => [p, n]));
}

/** Writes a checkpoint folder atomically. */
export function saveCheckpoint(dir: string, o: SaveCheckpointOptions): void {
  const opt = o.optimizer.stateDict(parameterNames(o.model));
  const buffers = new Map<string, Tensor>();
  for (const [name, buf] of opt.buffers) buffers.set(name, fromTypedArray(buf, [buf.length]));
  const files = new Map<string, Uint8Array | string>([
    ['optimizer.safetensors', serializeSafetensors(buffers, { metadata: { format: CHECKPOINT_FORMAT, stepCount: String(opt.stepCount), lr: String(opt.lr) } })],
    ['trainer_state.json', `${JSON.stringify(o.state, null, 2)}\n`],
  ]);
  writeHfFolder(dir, {
    config: { architectures: [o.model.constructor.name], ...o.modelConfig },
    tensors: o.model.stateDict(),
    dtype: 'float32',
    copyFiles: o.copyFiles ?? [],
    files,
    overwrite: o.overwrite ?? true,
  });
  for (const t of buffers.values()) t.dispose();
}

/** Checkpoint folders in `outDir`, oldest first (only complete ones: temporary folders are dot-named). */
export function listCheckpoints(outDir: string): { step: number; dir: string }[] {
  if (!existsSync(outDir)) return [];
  return readdirSync(outDir)
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), dir: join(outDir, m[0]) }))
    .filter((c) => existsSync(join(c.dir, 'trainer_state.json')))
    .sort((a, b) => a.step - b.step);
}

/** Removes all but the newest `keep` checkpoints. */
export function pruneCheckpoints(outDir: string, keep: number): void {
  const all = listCheckpoints(outDir);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) rmSync(c.dir, { recursive: true, force: true });
}

export interface LoadedCheckpoint {
  state: TrainerState;
}

/** Restores weights and optimizer state from a checkpoint folder into `model` and `optimizer`. */
export function loadCheckpoint(dir: string, model: Module, optimizer: Optimizer): LoadedCheckpoint {
  const what = 'loadCheckpoint';
  const statePath = join(dir, 'trainer_state.json');
  if (!existsSync(statePath)) fail(what, `${dir}: no trainer_state.json (not a training checkpoint)`);
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as TrainerState;
  if (state.format !== CHECKPOINT_FORMAT) fail(what, `${statePath}: format ${JSON.stringify(state.format)} is not ${CHECKPOINT_FORMAT}`);
  const weights = readSafetensors(join(dir, 'model.safetensors'));
  model.loadStateDict(new Map(weights.keys().map((k) => [k, weights.get(k)])));
  const optFile = readSafetensors(join(dir, 'optimizer.safetensors'));
  const meta = optFile.metadata ?? {};
  const buffers = new Map<string, Float64Array>();
  for (const k of optFile.keys()) {
    const t = optFile.get(k);
    if (t.dtype !== 'float64') fail(what, `optimizer.safetensors: '${k}' is ${t.dtype}, expected float64`);
    buffers.set(k, t.toTypedArray() as Float64Array);
  }
  optimizer.loadStateDict({ stepCount: Number(meta['stepCount']), lr: Number(meta['lr']), buffers }, parameterNames(model));
  return { state };
}
