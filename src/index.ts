/**
 * attn: a transformer language-model stack in TypeScript.
 * Importing the package registers the default backend (wasm in Node; see backends/default-node.ts).
 */
import { setBackend, hasBackend } from './tensor/index.js';
import { defaultBackend } from './backends/default-node.js';

if (!hasBackend()) setBackend(defaultBackend());

export * from './tensor/index.js';
export * from './ops/index.js';
export { referenceBackend, referenceBackendUnfused } from './backends/reference/index.js';
export { createWasmBackend, supportsRelaxedSimd, type WasmBackend, type SimdLevel, type WasmLoadOptions } from './backends/wasm/index.js';
export { defaultBackend } from './backends/default-node.js';
export * from './nn/index.js';
export * from './train/index.js';
export * from './formats/index.js';
export * from './models/index.js';
export { loadModelFile, readModelConfig, type LoadedModelFile } from './models/load-file-node.js';
export * from './analysis/index.js';
export * from './inference/index.js';
export * from './tokenizers/index.js';
export { loadTiktoken, isTiktokenEncodingName, TIKTOKEN_ENCODINGS, type TiktokenEncodingName } from './tokenizers/tiktoken-node.js';
export { loadTokenizerJson, saveTokenizerJson, loadChatTemplate } from './tokenizers/tokenizer-json-node.js';
export { countFiles, readTextChunks, inputSizes, type ReadProgress } from './tokenizers/training-input-node.js';
export { loadSentencePiece } from './tokenizers/sentencepiece-node.js';
