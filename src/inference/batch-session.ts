/**
 * A batch of decoder-only sequences decoded together: one forward pass per step for every row
 * (transformers' batched `generate`, mlx-lm's BatchGenerator). Prompts of different lengths are
 * padded on the left, so every row's newest token sits in the last column; the attention mask
 * [B, columns] (1 = real token, 0 = padding) grows by one column per step and goes with every
 * forward, so padded keys are never attended to and each row's positions count its real tokens
 * (nn/padding.ts). A row's logits are then those of the same prompt run alone, up to float
 * rounding.
 *
 * Rows that finish leave the batch (`keepRows`): the caches keep only the remaining rows (mlx-lm's
 * cache `filter`), so later steps cost what the live rows cost.
 *
 * Caches: dense and sliding-window keep the same columns for every row, which the padding mask
 * needs. The others cannot hold a padded batch and are refused: attention sinks would keep a
 * padded row's first columns (padding) instead of its first tokens; heavy-hitter eviction keeps
 * different positions per row and head; a paged sequence is batch 1 (the serving layer batches
 * over sequences). `cache: 'none'` recomputes every row's whole padded sequence each step (the
 * oracle).
 */
import { fail, fromTypedArray, noGrad, tidy } from '../tensor/index.js';
import { createKVCache, type KVCache, type KVCacheSpec, type KVCacheState } from './kv-cache/index.js';
import type { GenerativeModel } from './generative-model.js';
import { defaultCacheSpec } from './session.js';

/** Where a batch keeps its keys and values: dense or sliding-window, or none (recompute). */
export type BatchCache = 'none' | KVCacheSpec;

export interface BatchSessionOptions {
  /** Default: the model's default (dense float32, or a sliding-window ring for a model with a window). */
  cache?: BatchCache;
  /** Columns per forward pass while prefilling (default 512). */
  prefillChunk?: number;
  /** The id placed in padded columns (never attended to; default 0). */
  padTokenId?: number;
}

const BATCHABLE = ['dense', 'sliding-window'];

/** Keeps rows `rows` (batch indices) of a cache state whose slots are shared by every row. */
function selectRows(s: KVCacheState, rows: readonly number[]): KVCacheState {
  const pick = (side: KVCacheState['keys']): KVCacheState['keys'] => {
    if (!side) return null;
    const [, h, slots, d] = side.shape;
    const per = h * slots * d;
    const data = side.dtype === 'int8' ? new Int8Array(rows.length * per) : new Float32Array(rows.length * per);
    const scales = side.scales ? new Float32Array(rows.length * h * slots) : null;
    rows.forEach((r, i) => {
      data.set(side.data.subarray(r * per, (r + 1) * per) as never, i * per);
      scales?.set(side.scales!.subarray(r * h * slots, (r + 1) * h * slots), i * h * slots);
    });
    return { dtype: side.dtype, shape: [rows.length, h, slots, d], data, scales };
  };
  return { ...s, keys: pick(s.keys), values: pick(s.values) };
}

export class BatchSession {
  /** The rows still in the batch, as indices of the prompts given to `prefill`, in batch order. */
  rows: number[] = [];
  /** Real tokens run so far per prompt (prompt, then generated), by prompt index. */
  readonly tokens: number[][] = [];
  readonly cacheSpec: BatchCache;
  readonly prefillChunk: number;
  readonly padTokenId: number;
  /** Per batch row: the id of every column (padding included) and whether it is a real token. */
  private columnIds: number[][] = [];
  private columnMask: number[][] = [];
  private readonly caches: KVCache[] | null;
  private disposed = false;

  constructor(readonly model: GenerativeModel, opts: BatchSessionOptions = {}) {
    if (model.kind !== 'decoder-only') fail('BatchSession', `${model.modelType} is an encoder-decoder; batched generation supports decoder-only models (gpt2, llama, mistral, qwen2)`);
    this.cacheSpec = opts.cache ?? defaultCacheSpec(model);
    this.prefillChunk = opts.prefillChunk ?? 512;
    if (!(Number.isInteger(this.prefillChunk) && this.prefillChunk > 0)) fail('BatchSession', `prefillChunk must be a positive integer, got ${opts.prefillChunk}`);
    this.padTokenId = opts.padTokenId ?? 0;
    if (!(Number.isInteger(this.padTokenId) && this.padTokenId >= 0 && this.padTokenId < model.vocabSize)) {
      fail('BatchSession', `padTokenId ${opts.padTokenId} is outside the vocabulary [0, ${model.vocabSize})`);
    }
    const spec = this.cacheSpec;
    if (spec === 'none') this.caches = null;
    else {
      const kind = (spec as { kind: string }).kind;
      if (!BATCHABLE.includes(kind)) {
        fail('BatchSession', `a '${kind}' cache cannot hold a padded batch (its rows would keep different positions, or padding in place of tokens); use dense or sliding-window, or 'none'`);
      }
      this.caches = Array.from({ length: model.geometry.layers }, () => createKVCache(spec));
    }
  }

  /** Rows in the batch now. */
  get batch(): number {
    return this.rows.length;
  }

  /** Columns run so far (the longest prompt plus the steps). */
  get columns(): number {
    return this.columnIds[0]?.length ?? 0;
  }

  /** Positions prompt `row` may still use (Infinity when unbounded). */
  remainingPositions(row: number): number {
    const max = this.model.maxPositions;
    return max === null ? Infinity : max - this.tokens[row]!.length;
  }

  /** Runs the prompts, left-padded to the longest; returns each row's next-token logits [V], in prompt order. */
  prefill(prompts: readonly (readonly number[])[]): Float32Array[] {
    this.check();
    if (this.tokens.length > 0) fail('BatchSession.prefill', 'the batch already ran its prompts; continue with step()');
    if (prompts.length === 0) fail('BatchSession.prefill', 'no prompts');
    const width = Math.max(...prompts.map((p) => p.length));
    prompts.forEach((p, i) => {
      if (p.length === 0) fail('BatchSession.prefill', `prompt ${i} is empty`);
      this.checkIds(p, `prompt ${i}`);
      const max = this.model.maxPositions;
      if (max !== null && p.length > max) fail('BatchSession.prefill', `prompt ${i} has ${p.length} tokens, more than the model's ${max} positions`);
    });
    this.rows = prompts.map((_, i) => i);
    prompts.forEach((p) => {
      const pad = width - p.length;
      this.tokens.push([...p]);
      this.columnIds.push([...Array<number>(pad).fill(this.padTokenId), ...p]);
      this.columnMask.push([...Array<number>(pad).fill(0), ...Array<number>(p.length).fill(1)]);
    });
    if (!this.caches) return this.run(0, width);
    let logits: Float32Array[] = [];
    for (let c = 0; c < width; c += this.prefillChunk) logits = this.run(c, Math.min(width, c + this.prefillChunk));
    return logits;
  }

  /** Runs one token per row (batch order) and returns each row's next-token logits [V], in batch order. */
  step(next: readonly number[]): Float32Array[] {
    this.check();
    if (this.batch === 0) fail('BatchSession.step', 'every row has left the batch (keepRows([])): nothing to run');
    if (next.length !== this.batch) fail('BatchSession.step', `got ${next.length} tokens for ${this.batch} rows`);
    this.checkIds(next, 'step');
    this.rows.forEach((row, b) => {
      if (this.remainingPositions(row) <= 0) fail('BatchSession.step', `prompt ${row} has used all the model's ${this.model.maxPositions} positions`);
      this.tokens[row]!.push(next[b]!);
      this.columnIds[b]!.push(next[b]!);
      this.columnMask[b]!.push(1);
    });
    const end = this.columns;
    return this.run(this.caches ? end - 1 : 0, end);
  }

  /** Keeps only these rows (prompt indices, in batch order), dropping the others from the caches. */
  keepRows(keep: readonly number[]): void {
    this.check();
    if (new Set(keep).size !== keep.length) fail('BatchSession.keepRows', `rows ${keep.join(', ')} name a prompt twice`);
    const idx = keep.map((row) => {
      const b = this.rows.indexOf(row);
      if (b < 0) fail('BatchSession.keepRows', `prompt ${row} is not in the batch (rows ${this.rows.join(', ')})`);
      return b;
    });
    if (idx.length === this.batch && idx.every((b, i) => b === i)) return;
    if (idx.length > 0 && this.caches) {
      for (const c of this.caches) c.setState(selectRows(c.state(), idx));
    } else if (this.caches) for (const c of this.caches) c.dispose();
    this.rows = idx.map((b) => this.rows[b]!);
    this.columnIds = idx.map((b) => this.columnIds[b]!);
    this.columnMask = idx.map((b) => this.columnMask[b]!);
  }

  /** Forward of columns [from, to) of every row, with the mask of columns [0, to); the last column's logits per row. */
  private run(from: number, to: number): Float32Array[] {
    const b = this.batch;
    const t = to - from;
    const ids = new Int32Array(b * t);
    const mask = new Int32Array(b * to);
    for (let r = 0; r < b; r++) {
      ids.set(this.columnIds[r]!.slice(from, to), r * t);
      mask.set(this.columnMask[r]!.slice(0, to), r * to);
    }
    const v = this.model.vocabSize;
    const flat = noGrad(() => tidy(() => this.model.logits(fromTypedArray(ids, [b, t]), {
      cache: this.caches ? { self: this.caches } : null, memory: null, logitsToKeep: 1, attentionMask: fromTypedArray(mask, [b, to]),
    }).toTypedArray() as Float32Array)); // [B, 1, V]
    return Array.from({ length: b }, (_, r) => flat.slice(r * v, (r + 1) * v));
  }

  private checkIds(ids: readonly number[], what: string): void {
    for (const id of ids) {
      if (!(Number.isInteger(id) && id >= 0 && id < this.model.vocabSize)) fail('BatchSession', `${what}: token id ${id} is outside the vocabulary [0, ${this.model.vocabSize})`);
    }
  }

  private check(): void {
    if (this.disposed) fail('BatchSession', 'the batch session was disposed');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const c of this.caches ?? []) c.dispose();
  }
}
