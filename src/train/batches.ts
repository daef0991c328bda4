/**
 * Batches for each training objective, built from token ids in memory. Pure functions and small
 * classes over typed arrays and a seeded Generator, so they run anywhere and a checkpoint can
 * save a loader's position (its generator state) and resume it exactly.
 *
 * - causal LM: random windows of T + 1 tokens from the token stream (nanoGPT's `get_batch`);
 *   inputs are the first T, labels the last T (the shift happens here, once).
 * - masked LM: windows with dynamic masking (BERT, Devlin et al. 2019, sec. 3.1; transformers'
 *   DataCollatorForLanguageModeling): 15% of the non-special positions are chosen; of those 80%
 *   become the mask token, 10% a random token, 10% stay; labels are -100 elsewhere.
 * - seq2seq: (source, target) pairs padded, with the decoder input shifted right (teacher forcing).
 * - classification: labelled token sequences padded, with an attention mask.
 */
import { fail, fromTypedArray, Generator, type GeneratorState, type Tensor } from '../tensor/index.js';

/** Ignored label positions (PyTorch's cross_entropy ignore_index default). */
export const IGNORE_INDEX = -100;

export type TokenArray = Uint16Array | Uint32Array | Int32Array;

export interface CausalLMBatch {
  /** [B, T] int32 */
  inputIds: Tensor;
  /** [B, T] int32: the next token of each input position. */
  labels: Tensor;
  /** Tokens that carry a label (B * T). */
  tokens: number;
}

export interface WindowOptions {
  seqLen: number;
  batchSize: number;
}

function checkWindows(tokens: TokenArray, o: WindowOptions, what: string, extra: number): void {
  if (!(Number.isInteger(o.seqLen) && o.seqLen > 0)) fail(what, `seqLen must be a positive integer, got ${o.seqLen}`);
  if (!(Number.isInteger(o.batchSize) && o.batchSize > 0)) fail(what, `batchSize must be a positive integer, got ${o.batchSize}`);
  if (tokens.length < o.seqLen + extra) fail(what, `${tokens.length} tokens are too few for one window of seqLen ${o.seqLen} (+${extra})`);
}

/** Windows starting at `starts`: inputs tokens[s .. s+T), labels tokens[s+1 .. s+T]. */
export function causalWindows(tokens: TokenArray, starts: readonly number[], seqLen: number): CausalLMBatch {
  const b = starts.length;
  const x = new Int32Array(b * seqLen);
  const y = new Int32Array(b * seqLen);
  starts.forEach((s, i) => {
    if (!(s >= 0 && s + seqLen < tokens.length)) fail('causalWindows', `window at ${s} of length ${seqLen} + 1 runs past the ${tokens.length} tokens`);
    for (let t = 0; t < seqLen; t++) {
      x[i * seqLen + t] = tokens[s + t]!;
      y[i * seqLen + t] = tokens[s + t + 1]!;
    }
  });
  return { inputIds: fromTypedArray(x, [b, seqLen]), labels: fromTypedArray(y, [b, seqLen]), tokens: b * seqLen };
}

/** Random causal-LM windows drawn with a seeded generator; `state` is the data position to checkpoint. */
export class CausalLMBatches {
  readonly generator: Generator;

  constructor(readonly tokens: TokenArray, readonly opts: WindowOptions & { seed?: number; generator?: Generator }) {
    checkWindows(tokens, opts, 'CausalLMBatches', 1);
    this.generator = opts.generator ?? new Generator(opts.seed ?? 0);
  }

  next(): CausalLMBatch {
    const span = this.tokens.length - this.opts.seqLen; // valid starts: 0 .. span-1
    const starts = Array.from({ length: this.opts.batchSize }, () => this.generator.randint(span));
    return causalWindows(this.tokens, starts, this.opts.seqLen);
  }

  get state(): GeneratorState {
    return this.generator.getState();
  }

  set state(s: GeneratorState) {
    this.generator.setState(s);
  }
}

/**
 * Non-overlapping windows covering the tokens in order (evaluation): every token after the first
 * is predicted once, except a tail shorter than one window. At most `maxBatches` batches.
 */
export function* sequentialCausalBatches(tokens: TokenArray, o: WindowOptions & { maxBatches?: number }): IterableIterator<CausalLMBatch> {
  checkWindows(tokens, o, 'sequentialCausalBatches', 1);
  const windows = Math.floor((tokens.length - 1) / o.seqLen);
  const limit = o.maxBatches ? Math.min(Math.ceil(windows / o.batchSize), o.maxBatches) : Infinity;
  let made = 0;
  for (let w = 0; w < windows && made < limit; w += o.batchSize, made++) {
    const starts: number[] = [];
    for (let i = w; i < Math.min(windows, w + o.batchSize); i++) starts.push(i * o.seqLen);
    yield causalWindows(tokens, starts, o.seqLen);
  }
}

export interface MlmOptions {
  maskTokenId: number;
  vocabSize: number;
  /** Ids never masked (CLS, SEP, PAD, ...). */
  specialIds?: ReadonlySet<number>;
  /** Fraction of positions selected (default 0.15). */
  probability?: number;
  generator: Generator;
}

/**
 * Dynamic masking of one sequence (transformers' torch_mask_tokens, per position): selected with
 * `probability`; a selected position becomes the mask token with probability 0.8, else a uniformly
 * random token with probability 0.5, else stays. Labels hold the original id where selected.
 */
export function maskTokens(ids: ArrayLike<number>, o: MlmOptions): { inputIds: Int32Array; labels: Int32Array } {
  const p = o.probability ?? 0.15;
  if (!(p >= 0 && p <= 1)) fail('maskTokens', `probability must be in [0, 1], got ${p}`);
  if (!(Number.isInteger(o.maskTokenId) && o.maskTokenId >= 0 && o.maskTokenId < o.vocabSize)) fail('maskTokens', `maskTokenId ${o.maskTokenId} is not in the vocabulary of ${o.vocabSize}`);
  const g = o.generator;
  const inputIds = Int32Array.from(ids);
  const labels = new Int32Array(ids.length).fill(IGNORE_INDEX);
  for (let i = 0; i < ids.length; i++) {
    if (o.specialIds?.has(ids[i]!)) continue;
    if (g.random() >= p) continue;
    labels[i] = ids[i]!;
    if (g.random() < 0.8) inputIds[i] = o.maskTokenId;
    else if (g.random() < 0.5) inputIds[i] = g.randint(o.vocabSize);
  }
  return { inputIds, labels };
}

export interface MaskedLMBatch {
  inputIds: Tensor;
  labels: Tensor;
  /** Positions that carry a label. */
  tokens: number;
}

/** Random windows of the token stream, each masked afresh (dynamic masking, RoBERTa-style packing). */
export class MaskedLMBatches {
  readonly generator: Generator;

  constructor(readonly tokens: TokenArray, readonly opts: WindowOptions & Omit<MlmOptions, 'generator'> & { seed?: number; generator?: Generator }) {
    checkWindows(tokens, opts, 'MaskedLMBatches', 0);
    this.generator = opts.generator ?? new Generator(opts.seed ?? 0);
  }

  next(): MaskedLMBatch {
    const { seqLen: t, batchSize: b } = this.opts;
    const x = new Int32Array(b * t);
    const y = new Int32Array(b * t);
    let labelled = 0;
    for (let i = 0; i < b; i++) {
      const s = this.generator.randint(this.tokens.length - t + 1);
      const m = maskTokens(this.tokens.subarray(s, s + t), { ...this.opts, generator: this.generator });
      x.set(m.inputIds, i * t);
      y.set(m.labels, i * t);
      for (const l of m.labels) if (l !== IGNORE_INDEX) labelled++;
    }
    return { inputIds: fromTypedArray(x, [b, t]), labels: fromTypedArray(y, [b, t]), tokens: labelled };
  }

  get state(): GeneratorState {
    return this.generator.getState();
  }

  set state(s: GeneratorState) {
    this.generator.setState(s);
  }
}

function pad(rows: readonly ArrayLike<number>[], width: number, value: number): Int32Array {
  const out = new Int32Array(rows.length * width).fill(value);
  rows.forEach((r, i) => {
    if (r.length > width) fail('pad', `a sequence of ${r.length} tokens is longer than ${width}`);
    for (let j = 0; j < r.length; j++) out[i * width + j] = r[j]!;
  });
  return out;
}

function maskOf(rows: readonly ArrayLike<number>[], width: number): Int32Array {
  const m = new Int32Array(rows.length * width);
  rows.forEach((r, i) => m.fill(1, i * width, i * width + r.length));
  return m;
}

export interface Seq2SeqExample {
  source: ArrayLike<number>;
  target: ArrayLike<number>;
}

export interface Seq2SeqBatch {
  /** [B, S] encoder ids, padded with padId. */
  inputIds: Tensor;
  /** [B, S] 1 = token, 0 = padding. */
  attentionMask: Tensor;
  /** [B, T] decoderStartId followed by the target without its last token (teacher forcing). */
  decoderInputIds: Tensor;
  /** [B, T] decoder padding mask. */
  decoderAttentionMask: Tensor;
  /** [B, T] the target, -100 at padding. */
  labels: Tensor;
  tokens: number;
}

/** Pads (source, target) pairs; the decoder input is the target shifted right (T5's _shift_right). */
export function seq2seqBatch(examples: readonly Seq2SeqExample[], o: { padId: number; decoderStartId: number; maxSourceLen?: number; maxTargetLen?: number }): Seq2SeqBatch {
  if (examples.length === 0) fail('seq2seqBatch', 'no examples');
  const src = examples.map((e) => (o.maxSourceLen ? Array.from(e.source).slice(0, o.maxSourceLen) : e.source));
  const tgt = examples.map((e) => (o.maxTargetLen ? Array.from(e.target).slice(0, o.maxTargetLen) : e.target));
  for (const [i, t] of tgt.entries()) if (t.length === 0) fail('seq2seqBatch', `example ${i} has an empty target`);
  const s = Math.max(1, ...src.map((r) => r.length));
  const t = Math.max(...tgt.map((r) => r.length));
  const b = examples.length;
  const decIn = tgt.map((r) => [o.decoderStartId, ...Array.from(r).slice(0, -1)]);
  return {
    inputIds: fromTypedArray(pad(src, s, o.padId), [b, s]),
    attentionMask: fromTypedArray(maskOf(src, s), [b, s]),
    decoderInputIds: fromTypedArray(pad(decIn, t, o.padId), [b, t]),
    decoderAttentionMask: fromTypedArray(maskOf(tgt, t), [b, t]),
    labels: fromTypedArray(pad(tgt, t, IGNORE_INDEX), [b, t]),
    tokens: tgt.reduce((n, r) => n + r.length, 0),
  };
}

export interface ClassificationExample {
  ids: ArrayLike<number>;
  label: number;
}

export interface ClassificationBatch {
  inputIds: Tensor;
  attentionMask: Tensor;
  /** [B] int32 class ids */
  labels: Tensor;
  tokens: number;
}

/** Pads labelled sequences (truncating to maxLen) with an attention mask. */
export function classificationBatch(examples: readonly ClassificationExample[], o: { padId: number; maxLen?: number }): ClassificationBatch {
  if (examples.length === 0) fail('classificationBatch', 'no examples');
  const rows = examples.map((e) => (o.maxLen ? Array.from(e.ids).slice(0, o.maxLen) : e.ids));
  const t = Math.max(1, ...rows.map((r) => r.length));
  const b = examples.length;
  return {
    inputIds: fromTypedArray(pad(rows, t, o.padId), [b, t]),
    attentionMask: fromTypedArray(maskOf(rows, t), [b, t]),
    labels: fromTypedArray(Int32Array.from(examples, (e) => e.label), [b]),
    tokens: rows.reduce((n, r) => n + r.length, 0),
  };
}

/** Seeded shuffled passes over N examples, `batchSize` indices at a time; `state` resumes exactly. */
export class ShuffledIndices {
  private order: number[] = [];
  private pos = 0;
  epoch = 0;
  readonly generator: Generator;

  constructor(readonly n: number, readonly batchSize: number, seed = 0) {
    if (!(Number.isInteger(n) && n > 0)) fail('ShuffledIndices', `needs at least one example, got ${n}`);
    this.generator = new Generator(seed);
    this.reshuffle();
  }

  private reshuffle(): void {
    this.order = Array.from({ length: this.n }, (_, i) => i);
    for (let i = this.n - 1; i > 0; i--) {
      const j = this.generator.randint(i + 1);
      [this.order[i], this.order[j]] = [this.order[j]!, this.order[i]!];
    }
    this.pos = 0;
  }

  next(): number[] {
    const out: number[] = [];
    while (out.length < Math.min(this.batchSize, this.n)) {
      if (this.pos >= this.n) {
        this.epoch++;
        this.reshuffle();
      }
      out.push(this.order[this.pos++]!);
    }
    return out;
  }

  get state(): { generator: GeneratorState; order: number[]; pos: number; epoch: number } {
    return { generator: this.generator.getState(), order: [...this.order], pos: this.pos, epoch: this.epoch };
  }

  set state(s: { generator: GeneratorState; order: number[]; pos: number; epoch: number }) {
    this.generator.setState(s.generator);
    this.order = [...s.order];
    this.pos = s.pos;
    this.epoch = s.epoch;
  }
}

/**
 * Training batches over a list of examples (seq2seq pairs, labelled texts): seeded shuffled passes
 * (ShuffledIndices), each batch built by `build` (seq2seqBatch, classificationBatch with their
 * padding options); `state` resumes the order exactly.
 */
export class ExampleBatches<E, B> {
  readonly indices: ShuffledIndices;

  constructor(readonly examples: readonly E[], readonly opts: { batchSize: number; seed?: number; build: (batch: E[]) => B }) {
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0)) fail('ExampleBatches', `batchSize must be a positive integer, got ${opts.batchSize}`);
    this.indices = new ShuffledIndices(examples.length, opts.batchSize, opts.seed ?? 0);
  }

  next(): B {
    return this.opts.build(this.indices.next().map((i) => this.examples[i]!));
  }

  get state(): ShuffledIndices['state'] {
    return this.indices.state;
  }

  set state(s: ShuffledIndices['state']) {
    this.indices.state = s;
  }
}

/** The examples in order, `batchSize` at a time (evaluation); at most `maxBatches` batches when it is > 0. */
export function* sequentialExampleBatches<E, B>(examples: readonly E[], o: { batchSize: number; maxBatches?: number; build: (batch: E[]) => B }): IterableIterator<B> {
  const limit = o.maxBatches && o.maxBatches > 0 ? o.maxBatches : Infinity;
  for (let i = 0, made = 0; i < examples.length && made < limit; i += o.batchSize, made++) yield o.build(examples.slice(i, i + o.batchSize));
}
