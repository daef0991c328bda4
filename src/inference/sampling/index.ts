/** Sampling as small pure functions: logits processors, samplers, stop strings, beam steps. */
export * from './processors.js';
export * from './sampler.js';
export * from './stop.js';
export * from './beam.js';
