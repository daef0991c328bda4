/** TrainConfig overrides are type-checked; schedules give the documented values. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyOverrides, learningRate, TRAIN_DEFAULTS } from '../../src/index.js';

describe('TrainConfig', () => {
  it('applies JSON and command-line overrides with kebab- or camelCase keys', () => {
    const c = applyOverrides(TRAIN_DEFAULTS, { lr: 1e-3, modelConfig: { model_type: 'llama' } });
    assert.equal(c.lr, 1e-3);
    const d = applyOverrides(c, { 'batch-size': '4', 'grad_accum_steps': '2', resume: 'true', 'model-config': '{"hidden_size": 64}' }, { fromStrings: true });
    assert.equal(d.batchSize, 4);
    assert.equal(d.gradAccumSteps, 2);
    assert.equal(d.resume, true);
    assert.deepEqual(d.modelConfig, { model_type: 'llama', hidden_size: 64 });
    assert.equal(TRAIN_DEFAULTS.batchSize, 8, 'defaults untouched');
  });

  it('names the key in every error', () => {
    assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { lerning_rate: 1 }), /unknown key 'lerning_rate'/);
    assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { steps: '10' }), /'steps' must be a number, got "10"/);
    assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { steps: 'ten' }, { fromStrings: true }), /'steps' must be a number, got 'ten'/);
    assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { resume: 'yes' }, { fromStrings: true }), /'resume' must be true or false/);
    assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { optimizer: 'lion' }), /'optimizer' must be one of adamw, adam, sgd, got 'lion'/);
    assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { batchSize: 0 }), /'batchSize' must be a positive integer/);
    assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { minLr: 1 }), /'minLr' \(1\) must not exceed 'lr'/);
    assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { modelConfig: '{' }, { fromStrings: true }), /'modelConfig' must be a JSON object/);
  });
});

describe('learningRate', () => {
  const o = { schedule: 'cosine' as const, lr: 1, minLr: 0.1, warmupSteps: 4, steps: 14 };
  it('warms up linearly from lr/warmup, then follows a cosine to minLr at the last step', () => {
    assert.deepEqual([0, 1, 2, 3].map((s) => learningRate(s, o)), [0.25, 0.5, 0.75, 1]);
    assert.equal(learningRate(4, o), 1);
    assert.ok(Math.abs(learningRate(13, o) - 0.1) < 1e-15);
    // halfway through the decay (step 4 + 4.5 is not an integer; step 8 is 4/9 of the way)
    assert.ok(Math.abs(learningRate(8, o) - (0.1 + 0.45 * (1 + Math.cos((Math.PI * 4) / 9)))) < 1e-15);
  });
  it('linear and constant', () => {
    assert.ok(Math.abs(learningRate(8, { ...o, schedule: 'linear' }) - (1 - 0.9 * (4 / 9))) < 1e-15);
    assert.equal(learningRate(12, { ...o, schedule: 'constant' }), 1);
    assert.throws(() => learningRate(-1, o), /step must be a non-negative integer/);
  });
});
