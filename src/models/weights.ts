/**
 * Loading checkpoint tensors into a model by name. All problems are collected and reported at
 * once, each naming the tensor: missing, unexpected, and mis-shaped entries.
 */
import { fail, formatShape, sameShape, type Tensor } from '../tensor/index.js';
import type { Module } from '../nn/index.js';
import type { TensorSource } from '../formats/index.js';

export interface LoadWeightsOptions {
  /** Maps a checkpoint name to the model's name (e.g. adds GPT-2's `transformer.` prefix). */
  rename?: (checkpointName: string) => string;
  /** Checkpoint entries to skip: buffers (`attn.bias`, `rotary_emb.inv_freq`), a tied `lm_head.weight`. */
  ignore?: (modelName: string) => boolean;
  /** Names the model in errors (`LlamaForCausalLM.loadWeights`). */
  what?: string;
}

/** Loads every parameter of `model` from `source`; throws listing every missing/unexpected/mis-shaped tensor. */
export function loadWeights(model: Module, source: TensorSource, opts: LoadWeightsOptions = {}): void {
  const what = opts.what ?? `${model.constructor.name}.loadWeights`;
  const rename = opts.rename ?? ((n: string) => n);
  const ignore = opts.ignore ?? (() => false);
  const own = model.stateDict();
  const found = new Map<string, string>(); // model name -> checkpoint name
  const unexpected: string[] = [];
  for (const key of source.keys()) {
    const name = rename(key);
    if (own.has(name)) found.set(name, key);
    else if (!ignore(name)) unexpected.push(key);
  }
  const missing = [...own.keys()].filter((n) => !found.has(n));
  const problems: string[] = [];
  if (missing.length) problems.push(`missing tensors: ${missing.join(', ')}`);
  if (unexpected.length) problems.push(`unexpected tensors: ${unexpected.join(', ')}`);
  const state = new Map<string, Tensor>();
  for (const [name, key] of found) {
    const t = source.get(key);
    const p = own.get(name)!;
    if (!sameShape(t.shape, p.shape)) problems.push(`${key}: expected shape ${formatShape(p.shape)}, got ${formatShape(t.shape)}`);
    else state.set(name, t);
  }
  try {
    if (problems.length) fail(what, problems.join('; '));
    model.loadStateDict(state);
  } finally {
    // the source made these for this load (dequantized or staged copies): their memory, which the
    // wasm backend keeps until disposed, goes back now instead of doubling a model's footprint
    for (const t of state.values()) if (!t.isDisposed) t.dispose();
  }
}
