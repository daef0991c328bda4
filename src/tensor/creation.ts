/** Tensor creation: from data, constants, ranges, and seeded random distributions. */
import { arrayMatchesDType, dtypeOfArray, isFloat, newTypedArray, type DType, type TypedArray } from './dtype.js';
import { fail, formatShape } from './errors.js';
import { checkShape, sizeOf, type Shape } from './shape.js';
import { allocate, newStorage } from './storage.js';
import { defaultGenerator, type Generator } from './random.js';
import { Tensor, type NestedArray } from './tensor.js';

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

type NestedInput = number | boolean | readonly NestedInput[];

function finish(t: Tensor, opts: CreateOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

function make(shape: Shape, dtype: DType, fill?: (buf: TypedArray) => void): Tensor {
  checkShape('tensor', shape);
  const buf = allocate(dtype, sizeOf(shape), fill === undefined);
  fill?.(buf);
  return new Tensor(newStorage(buf, dtype), shape);
}

/**
 * A tensor from nested arrays, a number, or a typed array (copied). Numbers default to
 * float32, booleans to bool; pass `dtype` for int32 ids.
 */
export function tensor(data: NestedInput | TypedArray, opts: CreateOptions & { shape?: Shape } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const arr = data as TypedArray;
    return fromTypedArray(arr.slice() as TypedArray, opts.shape ?? [arr.length], opts);
  }
  const shape: number[] = [];
  let probe: NestedInput = data as NestedInput;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = (probe as readonly NestedInput[])[0] as NestedInput;
  }
  const dtype = opts.dtype ?? (typeof probe === 'boolean' ? 'bool' : 'float32');
  const out = newTypedArray(dtype, sizeOf(shape));
  let i = 0;
  const walk = (v: NestedInput, dim: number): void => {
    if (dim === shape.length) {
      if (Array.isArray(v)) fail('tensor', `ragged nested array: expected a number at depth ${dim}, shape ${formatShape(shape)}`);
      const n = typeof v === 'boolean' ? Number(v) : (v as number);
      if (typeof n !== 'number') fail('tensor', `expected numbers, got ${typeof v}`);
      out[i++] = n;
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[dim]) {
      fail('tensor', `ragged nested array: expected length ${shape[dim]} at depth ${dim}, got ${Array.isArray(v) ? v.length : typeof v}`);
    }
    for (const x of v as readonly NestedInput[]) walk(x, dim + 1);
  };
  walk(data as NestedInput, 0);
  const t = fromTypedArray(out, shape, { ...opts, dtype });
  if (opts.shape) return t.reshape([...opts.shape]);
  return t;
}

/** Wraps a typed array without copying. The array must not be modified afterwards. */
export function fromTypedArray(data: TypedArray, shape: Shape, opts: CreateOptions = {}): Tensor {
  checkShape('fromTypedArray', shape);
  const dtype = opts.dtype ?? dtypeOfArray(data);
  if (!arrayMatchesDType(data, dtype)) fail('fromTypedArray', `a ${data.constructor.name} cannot hold dtype ${dtype}`);
  if (data.length !== sizeOf(shape)) {
    fail('fromTypedArray', `${data.length} values do not fill shape ${formatShape(shape)} (${sizeOf(shape)} elements)`);
  }
  return finish(new Tensor(newStorage(data, dtype, false), shape), opts);
}

export function zeros(shape: Shape, opts: CreateOptions = {}): Tensor {
  return finish(make(shape, opts.dtype ?? 'float32'), opts);
}

export function ones(shape: Shape, opts: CreateOptions = {}): Tensor {
  return full(shape, 1, opts);
}

export function full(shape: Shape, value: number, opts: CreateOptions = {}): Tensor {
  return finish(make(shape, opts.dtype ?? 'float32', (b) => b.fill(value)), opts);
}

export function zerosLike(t: Tensor, opts: CreateOptions = {}): Tensor {
  return zeros(t.shape, { dtype: t.dtype, ...opts });
}

export function onesLike(t: Tensor, opts: CreateOptions = {}): Tensor {
  return ones(t.shape, { dtype: t.dtype, ...opts });
}

/** Values start, start+step, ... < end. `arange(n)` counts 0..n-1. Integer arguments give int32. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) fail('arange', 'step must be non-zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const allInt = [start, end, step].every(Number.isInteger);
  const dtype = opts.dtype ?? (allInt ? 'int32' : 'float32');
  return finish(make([n], dtype, (b) => { for (let i = 0; i < n; i++) b[i] = start + i * step; }), opts);
}

export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) fail('linspace', `steps must be a non-negative integer, got ${steps}`);
  const dtype = opts.dtype ?? 'float32';
  const d = steps > 1 ? (end - start) / (steps - 1) : 0;
  return finish(make([steps], dtype, (b) => { for (let i = 0; i < steps; i++) b[i] = start + i * d; }), opts);
}

export function eye(n: number, opts: CreateOptions = {}): Tensor {
  return finish(make([n, n], opts.dtype ?? 'float32', (b) => { b.fill(0); for (let i = 0; i < n; i++) b[i * n + i] = 1; }), opts);
}

let skipInit = false;

/**
 * Runs fn with the random initialisers (rand, uniform, randn, normal) returning zeros and drawing
 * nothing from their generators: for building a model whose every parameter is loaded right
 * after (transformers' no_init_weights). Sampling a 100M-parameter model's initial weights took
 * half of loading it.
 */
export function withoutInit<T>(fn: () => T): T {
  const prev = skipInit;
  skipInit = true;
  try {
    return fn();
  } finally {
    skipInit = prev;
  }
}

function randomFloat(op: string, shape: Shape, opts: RandomOptions, sample: (g: Generator) => number): Tensor {
  const dtype = opts.dtype ?? 'float32';
  if (!isFloat(dtype)) fail(op, `dtype must be float32 or float64, got ${dtype}`);
  if (skipInit) return finish(make(shape, dtype, (b) => b.fill(0)), opts);
  const g = opts.generator ?? defaultGenerator;
  return finish(make(shape, dtype, (b) => { for (let i = 0; i < b.length; i++) b[i] = sample(g); }), opts);
}

/** Uniform samples in [0, 1). */
export function rand(shape: Shape, opts: RandomOptions = {}): Tensor {
  return randomFloat('rand', shape, opts, (g) => g.random());
}

/** Uniform samples in [low, high). */
export function uniform(shape: Shape, low: number, high: number, opts: RandomOptions = {}): Tensor {
  return randomFloat('uniform', shape, opts, (g) => low + (high - low) * g.random());
}

/** Standard normal samples. */
export function randn(shape: Shape, opts: RandomOptions = {}): Tensor {
  return randomFloat('randn', shape, opts, (g) => g.normal());
}

export function normal(shape: Shape, mean: number, std: number, opts: RandomOptions = {}): Tensor {
  if (!(std >= 0)) fail('normal', `std must be >= 0, got ${std}`);
  return randomFloat('normal', shape, opts, (g) => mean + std * g.normal());
}

/** Integers uniformly drawn from [low, high), as int32. */
export function randint(low: number, high: number, shape: Shape, opts: RandomOptions = {}): Tensor {
  if (!(Number.isInteger(low) && Number.isInteger(high) && high > low)) fail('randint', `need integers low < high, got ${low}, ${high}`);
  const g = opts.generator ?? defaultGenerator;
  return make(shape, 'int32', (b) => { for (let i = 0; i < b.length; i++) b[i] = low + g.randint(high - low); });
}

/** A bool tensor that is true with probability p. */
export function bernoulli(shape: Shape, p: number, opts: RandomOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) fail('bernoulli', `p must be in [0, 1], got ${p}`);
  const g = opts.generator ?? defaultGenerator;
  return make(shape, 'bool', (b) => { for (let i = 0; i < b.length; i++) b[i] = g.random() < p ? 1 : 0; });
}

export type { NestedArray };
