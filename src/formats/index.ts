/** File formats: safetensors (browser-safe core + Node file helpers). */
export * from './safetensors.js';
export * from './safetensors-node.js';
export * from './hf-folder.js';
