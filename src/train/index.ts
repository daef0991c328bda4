/** Training: optimizers and loops. */
export * from './optimizers.js';
export * from './demo.js';
