/** Model families with Hugging Face configs and tensor names. */
export * from './config.js';
export * from './weights.js';
export * from './transformer.js';
export * from './bert.js';
export * from './t5.js';
export * from './gpt2.js';
export * from './llama.js';
export * from './mistral.js';
export * from './qwen2.js';
export * from './registry.js';
export * from './presets.js';
export * from './init.js';
export * from './create.js';
export * from './gguf.js';
