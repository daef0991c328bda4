/**
 * Learning-rate schedules: linear warmup, then cosine (Loshchilov & Hutter 2017, "SGDR", without
 * restarts), linear or constant, as nanoGPT's `get_lr` and transformers'
 * `get_cosine_schedule_with_warmup` (with a floor `minLr`).
 */
import { fail } from '../tensor/index.js';
import type { ScheduleName } from './config.js';

export interface ScheduleOptions {
  schedule: ScheduleName;
  /** Peak learning rate. */
  lr: number;
  /** Floor reached at the last step (cosine, linear). */
  minLr: number;
  warmupSteps: number;
  /** Total optimizer steps. */
  steps: number;
}

/**
 * The learning rate of optimizer step `step` (0-based): warmup ramps lr * (step + 1) / warmupSteps,
 * so the first step already moves; after warmup, progress p runs from 0 at step warmupSteps to 1
 * at the last step, and the rate is minLr + (lr - minLr) * (1 + cos(pi p)) / 2 (cosine),
 * lr - (lr - minLr) p (linear) or lr (constant).
 */
export function learningRate(step: number, o: ScheduleOptions): number {
  if (!(Number.isInteger(step) && step >= 0)) fail('learningRate', `step must be a non-negative integer, got ${step}`);
  if (step < o.warmupSteps) return (o.lr * (step + 1)) / o.warmupSteps;
  if (o.schedule === 'constant') return o.lr;
  const decaySteps = o.steps - 1 - o.warmupSteps;
  const p = decaySteps > 0 ? Math.min(1, (step - o.warmupSteps) / decaySteps) : 1;
  if (o.schedule === 'linear') return o.lr - (o.lr - o.minLr) * p;
  if (o.schedule === 'cosine') return o.minLr + ((o.lr - o.minLr) * (1 + Math.cos(Math.PI * p))) / 2;
  return fail('learningRate', `unknown schedule '${String(o.schedule)}'`);
}
