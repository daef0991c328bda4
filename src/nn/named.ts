/**
 * Named intermediates (llama.cpp's `cb(cur, "attn_norm", il)`, GUIDE practice 9): model code
 * passes each interesting tensor through `named(t, 'attn_norm', layer)`, which returns it
 * unchanged and shows it to the recorders installed by `withRecorder`, so analysis tools (trace,
 * activation statistics) see every intermediate without touching model code. With no recorder
 * installed it costs one empty loop.
 */
import type { Tensor } from '../tensor/index.js';

export interface NamedIntermediate {
  /** llama.cpp's names where there is one: inp_embd, attn_norm, attn_out, ffn_inp, ffn_norm, ffn_out, l_out, result_norm, result_output. */
  name: string;
  /** The block index, or null outside the blocks (embeddings, final norm, head). */
  layer: number | null;
  tensor: Tensor;
}

export type Recorder = (x: NamedIntermediate) => void;

const recorders: Recorder[] = [];

/** Returns `t`, after showing it to every installed recorder as `name` (of block `layer`). */
export function named(t: Tensor, name: string, layer: number | null = null): Tensor {
  for (const r of recorders) r({ name, layer, tensor: t });
  return t;
}

/** Runs `fn` with `recorder` installed (nested recorders all see each intermediate). */
export function withRecorder<T>(recorder: Recorder, fn: () => T): T {
  recorders.push(recorder);
  try {
    return fn();
  } finally {
    recorders.splice(recorders.lastIndexOf(recorder), 1);
  }
}
