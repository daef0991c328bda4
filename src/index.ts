/**
 * attn: a transformer language-model stack in TypeScript.
 * Importing the package registers the reference backend.
 */
import { setBackend, hasBackend } from './tensor/index.js';
import { referenceBackend } from './backends/reference/index.js';

if (!hasBackend()) setBackend(referenceBackend);

export * from './tensor/index.js';
export * from './ops/index.js';
export { referenceBackend, referenceBackendUnfused } from './backends/reference/index.js';
export * from './nn/index.js';
export * from './train/index.js';
export * from './tokenizers/index.js';
export { loadTiktoken, isTiktokenEncodingName, TIKTOKEN_ENCODINGS, type TiktokenEncodingName } from './tokenizers/tiktoken-node.js';
export { loadTokenizerJson } from './tokenizers/tokenizer-json-node.js';
