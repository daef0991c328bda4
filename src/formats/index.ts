/** File formats: safetensors and GGUF (browser-safe cores + Node file helpers), Hugging Face folders. */
export * from './safetensors.js';
export * from './safetensors-node.js';
export * from './hf-folder.js';
export * from './gguf.js';
export * from './gguf-node.js';
export * from './byte-source.js';
export { fileSource } from './file-source-node.js';
export { writeFileAtomic } from './atomic-file-node.js';
export * from './pieces.js';
