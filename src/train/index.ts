/** Training: configs, data, objectives, optimizers, schedules, checkpoints and the loop. */
export * from './optimizers.js';
export * from './config.js';
export * from './schedule.js';
export * from './batches.js';
export * from './dataset.js';
export * from './example-dataset.js';
export * from './objectives.js';
export * from './checkpoint.js';
export * from './trainer.js';
export * from './setup.js';
export * from './demo.js';
