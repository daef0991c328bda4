/**
 * Checkpoints: a run stopped after a checkpoint and resumed gives exactly the losses and weights
 * of the uninterrupted run; checkpoints are Hugging Face folders; metrics survive a resume.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyOverrides, causalLmLoss, CausalLMBatches, createModel, listCheckpoints, loadPretrained, readHfFolder, sequentialCausalBatches,
  TRAIN_DEFAULTS, Trainer, type TrainConfig,
} from '../../src/index.js';

// GPT-2 with dropout everywhere, so an exact resume also needs the dropout generator's state
const MODEL = { model_type: 'gpt2', vocab_size: 50, n_embd: 32, n_layer: 2, n_head: 4, n_positions: 32, embd_pdrop: 0.1, resid_pdrop: 0.1, attn_pdrop: 0.1 };
const stream = Uint16Array.from({ length: 3000 }, (_, i) => (i * 7 + (i >> 3)) % 50);

function trainer(config: TrainConfig) {
  const model = createModel(MODEL, { seed: config.seed });
  return new Trainer({
    model, modelConfig: { ...MODEL }, config, loss: causalLmLoss,
    train: new CausalLMBatches(stream, { seqLen: 16, batchSize: 4, seed: 1 }),
    validation: () => sequentialCausalBatches(stream.subarray(0, 400), { seqLen: 16, batchSize: 4 }),
  });
}

function losses(dir: string): number[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; loss?: number; val_loss?: number })
    .map((r) => (r.type === 'train' ? r.loss! : r.val_loss!));
}

describe('checkpoints and resume', () => {
  it('stopping after a checkpoint and resuming equals the uninterrupted run', () => {
    const root = mkdtempSync(join(tmpdir(), 'attn-resume-'));
    try {
      const base = applyOverrides(TRAIN_DEFAULTS, { steps: 8, warmupSteps: 2, lr: 3e-3, minLr: 3e-4, logEvery: 1, evalEvery: 4, saveEvery: 4, keepCheckpoints: 3, gradAccumSteps: 2, outDir: join(root, 'full') });
      const full = trainer(base).run();
      assert.equal(full.steps, 8);
      assert.deepEqual(listCheckpoints(base.outDir).map((c) => c.step), [4, 8]);
      // an interrupted run: the state as of checkpoint-4 (as if killed during step 5)
      const cut = join(root, 'cut');
      cpSync(base.outDir, cut, { recursive: true });
      rmSync(join(cut, 'checkpoint-8'), { recursive: true });
      rmSync(join(cut, 'model'), { recursive: true });
      const resumed = trainer({ ...base, outDir: cut, resume: true }).run();
      assert.equal(resumed.resumedFrom, 4);
      assert.deepEqual(losses(cut), losses(base.outDir), 'same train and validation losses, step for step');
      assert.deepEqual(readFileSync(join(cut, 'model', 'model.safetensors')), readFileSync(join(base.outDir, 'model', 'model.safetensors')), 'same final weights, bit for bit');
      // the losses fell, and a checkpoint loads as a Hugging Face folder
      const l = losses(base.outDir);
      assert.ok(l.at(-2)! < l[0]!, `training loss fell: ${l[0]} -> ${l.at(-2)}`);
      const m = loadPretrained(readHfFolder(join(base.outDir, 'checkpoint-8')));
      assert.equal(m.numParameters(), createModel(MODEL).numParameters());
      assert.ok(existsSync(join(base.outDir, 'checkpoint-8', 'optimizer.safetensors')));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('dropout is on while training: a different dropout seed state changes the losses', () => {
    const root = mkdtempSync(join(tmpdir(), 'attn-resume-'));
    try {
      const base = applyOverrides(TRAIN_DEFAULTS, { steps: 3, warmupSteps: 1, logEvery: 1, evalEvery: 0, saveEvery: 0, outDir: join(root, 'a') });
      const a = trainer(base);
      const b = trainer({ ...base, outDir: join(root, 'b') });
      b.dropoutGenerator.manualSeed(99); // same weights, data and optimizer; only the dropout masks differ
      a.o.model.train();
      b.o.model.train();
      assert.notEqual(a.trainStep().loss, b.trainStep().loss);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a changed recipe is caught: resuming with a different seed changes the losses', () => {
    const root = mkdtempSync(join(tmpdir(), 'attn-resume-'));
    try {
      const base = applyOverrides(TRAIN_DEFAULTS, { steps: 4, warmupSteps: 1, logEvery: 1, evalEvery: 0, saveEvery: 2, outDir: join(root, 'a') });
      trainer(base).run();
      const other = applyOverrides(base, { outDir: join(root, 'b'), seed: 1 });
      trainer(other).run();
      assert.notDeepEqual(losses(join(root, 'a')), losses(join(root, 'b')));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
