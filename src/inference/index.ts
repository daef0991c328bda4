/** Inference: KV caches, sampling, sessions, generation (one sequence or a padded batch), beam search. */
export * from './kv-cache/index.js';
export * from './sampling/index.js';
export * from './generative-model.js';
export * from './session.js';
export * from './detokenizer.js';
export * from './request-state.js';
export * from './generate.js';
export * from './batch-session.js';
export * from './generate-batch.js';
export * from './beam-search.js';
export * from './kv-quality.js';
