/**
 * The backend `import 'attn'` registers in Node: the wasm backend, unless ATTN_BACKEND says
 * 'reference'. ATTN_THREADS sets the wasm thread count (default: available parallelism).
 */
import { fail, type Backend } from '../tensor/index.js';
import { referenceBackend } from './reference/index.js';
import { createWasmBackend } from './wasm/index.js';

export function defaultBackend(env: Record<string, string | undefined> = process.env): Backend {
  const choice = env.ATTN_BACKEND ?? 'wasm';
  if (choice === 'reference') return referenceBackend;
  if (choice !== 'wasm') fail('backend', `ATTN_BACKEND must be 'wasm' or 'reference', got '${choice}'`);
  const raw = env.ATTN_THREADS;
  const threads = raw === undefined ? undefined : Number(raw);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    fail('backend', `ATTN_THREADS must be a positive integer, got '${raw}'`);
  }
  return createWasmBackend(threads === undefined ? {} : { threads });
}
