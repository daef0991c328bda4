/**
 * Conversions between compute dtypes and the weight storage formats: float16, bfloat16, int8
 * and int4 with per-block scales (blocks of `blockSize` consecutive elements along the last axis
 * share one float32 scale).
 *
 * The quantizers follow ggml's reference quantizers (ggml-quants.c `quantize_row_q8_0_ref`,
 * `quantize_row_q4_0_ref`; gguf-py's quants.py reproduces them bit for bit in numpy):
 *   int8 (Q8_0):  d = max|x| / 127,   q = round_half_away(x / d)            x ~ d q
 *   int4 (Q4_0):  d = x_amax / -8 (x_amax: the element of largest magnitude, with its sign),
 *                 q = min(15, trunc(x / d + 8.5)) - 8 in [-8, 7]          x ~ d q
 * with `scaleFormat: 'float16'` the scale is rounded to half precision as the GGUF block stores
 * it (Q8_0 / Q4_0 exactly), while q is computed from the unrounded scale, as ggml does.
 */
import {
  bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBFloat16Bits, float32ToFloat16Bits,
  isComputeDType, isDType, storageLength, type DType,
} from './dtype.js';
import { fail, formatShape } from './errors.js';
import { allocate, backendAllocates, isBackendBuffer, newStorage } from './storage.js';
import { Tensor } from './tensor.js';
import { cast, contiguous, readContiguous } from './primitives.js';

export function toDType(t: Tensor, dtype: DType): Tensor {
  if (!isDType(dtype)) fail('to', `unknown dtype '${String(dtype)}'`);
  if (t.dtype === dtype) return t;
  if (isComputeDType(t.dtype) && isComputeDType(dtype)) return cast(t, dtype);
  if (!isComputeDType(t.dtype)) {
    const f = dequantize(t);
    return dtype === 'float32' ? f : toDType(f, dtype);
  }
  if (dtype === 'int8') return quantizeInt8(t);
  if (dtype === 'int4') return quantizeInt4(t);
  const src = readContiguous(cast(t, 'float32'));
  const out = allocate(dtype, src.length, false);
  const enc = dtype === 'float16' ? float32ToFloat16Bits : float32ToBFloat16Bits;
  for (let i = 0; i < src.length; i++) out[i] = enc(src[i]!);
  return new Tensor(newStorage(out, dtype), t.shape);
}

/**
 * The signed 4-bit value of element i of an int4 buffer with blocks of `blockSize` (ggml's Q4_0
 * nibble order: byte j of a block holds elements j and j + blockSize / 2).
 */
export function int4At(data: ArrayLike<number>, i: number, blockSize: number): number {
  const half = blockSize / 2;
  const b = Math.floor(i / blockSize);
  const j = i - b * blockSize;
  const byte = data[b * half + (j < half ? j : j - half)]!;
  return (j < half ? byte & 15 : byte >> 4) - 8;
}

// Monomorphic loops (concrete array types) for whole blocks starting at element `offset`.
function dequantInt8Blocks(data: Int8Array, offset: number, scales: Float32Array, bs: number, out: Float32Array): void {
  const first = offset / bs;
  for (let b = 0, at = 0; at < out.length; b++, at += bs) {
    const sc = scales[first + b]!;
    for (let j = 0; j < bs; j++) out[at + j] = data[offset + at + j]! * sc;
  }
}

function dequantInt4Blocks(data: Uint8Array, offset: number, scales: Float32Array, bs: number, out: Float32Array): void {
  const first = offset / bs;
  const half = bs / 2;
  for (let b = 0, at = 0; at < out.length; b++, at += bs) {
    const sc = scales[first + b]!;
    const byte0 = (offset + at) / 2;
    for (let j = 0; j < half; j++) {
      const byte = data[byte0 + j]!;
      out[at + j] = ((byte & 15) - 8) * sc;
      out[at + half + j] = ((byte >> 4) - 8) * sc;
    }
  }
}

/** Storage format -> contiguous float32 (reads views of stored weights correctly). */
function dequantize(t: Tensor): Tensor {
  const v = t.view('to');
  const flat = allocate('float32', t.size, false) as Float32Array;
  const q = t.storage.quant;
  if ((t.dtype === 'int8' || t.dtype === 'int4') && !q) fail('to', `${t.dtype} tensor of shape ${formatShape(t.shape)} has no block scales`);
  const data = v.data;
  const element: (off: number) => number =
    t.dtype === 'float16' ? (off) => float16BitsToFloat32(data[off]!)
    : t.dtype === 'bfloat16' ? (off) => bfloat16BitsToFloat32(data[off]!)
    : t.dtype === 'int8' ? (off) => data[off]! * q!.scales[Math.floor(off / q!.blockSize)]!
    : (off) => int4At(data, off, q!.blockSize) * q!.scales[Math.floor(off / q!.blockSize)]!;
  if (t.isContiguous && (t.dtype === 'int8' || t.dtype === 'int4') && t.offset % q!.blockSize === 0 && t.size % q!.blockSize === 0) {
    // whole blocks: one scale per block, no per-element index arithmetic
    if (t.dtype === 'int8') dequantInt8Blocks(data as Int8Array, t.offset, q!.scales, q!.blockSize, flat);
    else dequantInt4Blocks(data as Uint8Array, t.offset, q!.scales, q!.blockSize, flat);
  } else if (t.isContiguous) {
    for (let i = 0; i < flat.length; i++) flat[i] = element(t.offset + i);
  } else {
    let i = 0;
    const walk = (dim: number, off: number): void => {
      if (dim === t.ndim) {
        flat[i++] = element(off);
        return;
      }
      for (let k = 0; k < t.shape[dim]!; k++) walk(dim + 1, off + k * t.strides[dim]!);
    };
    walk(0, t.offset);
  }
  return new Tensor(newStorage(flat, 'float32'), t.shape);
}

export interface QuantizeOptions {
  /** Elements per scale along the last axis; defaults to 32, or the whole row if shorter. */
  blockSize?: number;
  /**
   * 'float32' (default for int8): the scale as computed. 'float16' (default for int4): the scale
   * rounded to half precision, so the blocks equal GGUF's Q8_0 / Q4_0 blocks bit for bit.
   */
  scaleFormat?: 'float32' | 'float16';
}

function checkBlockSize(op: string, shape: readonly number[], blockSize: number, even: boolean): void {
  if (shape.length === 0) fail(op, 'needs at least one dimension');
  const last = shape[shape.length - 1]!;
  if (!Number.isInteger(blockSize) || blockSize <= 0 || last % blockSize !== 0) {
    fail(op, `block size ${blockSize} must divide the last dimension of ${formatShape(shape)}`);
  }
  if (even && blockSize % 2 !== 0) fail(op, `block size ${blockSize} must be even (two 4-bit values per byte)`);
}

/** Math.round rounds halves up; C's roundf (ggml) rounds them away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

const fround = Math.fround;

/** The stored scale: as computed, or rounded through half precision. */
function storedScale(d: number, format: 'float32' | 'float16'): number {
  return format === 'float16' ? float16BitsToFloat32(float32ToFloat16Bits(d)) : fround(d);
}

/**
 * int8 weights with one float32 scale per block of the last axis. Per-channel quantization is
 * `blockSize = lastDim`. Values map to [-127, 127]. With the default float32 scales: round to
 * nearest of x / scale; with `scaleFormat: 'float16'`: ggml's Q8_0 arithmetic in float32
 * (x * (1 / d), rounded half away from zero), the scale stored as its half-precision value.
 */
export function quantizeInt8(t: Tensor, opts: QuantizeOptions = {}): Tensor {
  const last = t.shape[t.ndim - 1] ?? 0;
  const blockSize = opts.blockSize ?? Math.min(32, last);
  checkBlockSize('quantizeInt8', t.shape, blockSize, false);
  const ggml = (opts.scaleFormat ?? 'float32') === 'float16';
  const src = readContiguous(cast(contiguous(t), 'float32'));
  const q = allocate('int8', src.length, false);
  const scales = allocate('float32', src.length / blockSize, false) as Float32Array;
  for (let b = 0; b < scales.length; b++) {
    let amax = 0;
    for (let i = b * blockSize; i < (b + 1) * blockSize; i++) amax = Math.max(amax, Math.abs(src[i]!));
    if (ggml) {
      const d = fround(amax / 127);
      const id = d === 0 ? 0 : fround(1 / d);
      scales[b] = storedScale(d, 'float16');
      for (let i = b * blockSize; i < (b + 1) * blockSize; i++) q[i] = roundHalfAway(fround(src[i]! * id));
    } else {
      const scale = amax / 127;
      scales[b] = scale;
      const inv = scale === 0 ? 0 : 1 / scale;
      for (let i = b * blockSize; i < (b + 1) * blockSize; i++) q[i] = Math.round(src[i]! * inv);
    }
  }
  return new Tensor(newStorage(q, 'int8', true, { scales, blockSize }), t.shape);
}

/**
 * int4 weights (ggml's Q4_0): one scale per block of the last axis (default 32 elements, even),
 * d = x_amax / -8 where x_amax is the element of largest magnitude (first on ties), and
 * q = min(15, trunc(x * (1 / d) + 8.5)) stored as an unsigned nibble (q - 8 is the value). The
 * product is formed exactly and the sum rounded once to float32 before truncation, as ggml's
 * fused multiply-add does (gguf-py: float64 arithmetic, then float32). Scales are rounded to
 * half precision unless `scaleFormat: 'float32'`.
 */
export function quantizeInt4(t: Tensor, opts: QuantizeOptions = {}): Tensor {
  const last = t.shape[t.ndim - 1] ?? 0;
  const blockSize = opts.blockSize ?? Math.min(32, last);
  checkBlockSize('quantizeInt4', t.shape, blockSize, true);
  const format = opts.scaleFormat ?? 'float16';
  const src = readContiguous(cast(contiguous(t), 'float32'));
  const packed = allocate('int4', src.length, true) as Uint8Array;
  const scales = allocate('float32', src.length / blockSize, false) as Float32Array;
  const half = blockSize / 2;
  for (let b = 0; b < scales.length; b++) {
    const base = b * blockSize;
    let amax = 0;
    let max = 0;
    for (let i = base; i < base + blockSize; i++) {
      const a = Math.abs(src[i]!);
      if (amax < a) {
        amax = a;
        max = src[i]!;
      }
    }
    const d = fround(max / -8);
    const id = d === 0 ? 0 : fround(1 / d);
    scales[b] = storedScale(d, format);
    for (let j = 0; j < blockSize; j++) {
      const nibble = Math.min(15, Math.trunc(fround(src[base + j]! * id + 8.5)));
      packed[b * half + (j < half ? j : j - half)]! |= j < half ? nibble : nibble << 4;
    }
  }
  return new Tensor(newStorage(packed, 'int4', true, { scales, blockSize }), t.shape);
}

/**
 * A tensor over already-quantized data (a GGUF Q8_0 / Q4_0 tensor): `data` holds int8 values or
 * packed int4 nibbles (dtype.ts), `scales` one float per block of `blockSize` along the last axis.
 */
export function quantizedTensor(
  dtype: 'int8' | 'int4', data: Int8Array | Uint8Array, scales: Float32Array, blockSize: number, shape: readonly number[],
): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  checkBlockSize('quantizedTensor', shape, blockSize, dtype === 'int4');
  if (dtype === 'int8' ? !(data instanceof Int8Array) : !(data instanceof Uint8Array)) {
    fail('quantizedTensor', `${dtype} data must be ${dtype === 'int8' ? 'an Int8Array' : 'a Uint8Array'}`);
  }
  const expected = dtype === 'int4' ? Math.ceil(size / 2) : size;
  if (data.length !== expected) fail('quantizedTensor', `shape ${formatShape(shape)} needs ${expected} ${dtype} bytes, got ${data.length}`);
  if (scales.length !== size / blockSize) fail('quantizedTensor', `shape ${formatShape(shape)} with block size ${blockSize} needs ${size / blockSize} scales, got ${scales.length}`);
  return new Tensor(newStorage(data, dtype, false, { scales, blockSize }), shape);
}

/**
 * `t` with its data (and block scales) in the backend's own memory, copied once if it lives
 * elsewhere (a view into a file buffer, a plain typed array). Weights kept for many forward
 * passes (GGUF / safetensors tensors in a stored format) should live there: a kernel reads
 * backend memory in place and would otherwise copy the whole matrix in on every call. Without
 * a backend allocator (the reference backend) `t` is returned as it is.
 */
export function toBackendMemory(t: Tensor): Tensor {
  if (!backendAllocates()) return t;
  const quant = t.storage.quant;
  if (isBackendBuffer(t.storage.data) && (!quant || isBackendBuffer(quant.scales))) return t;
  if (!t.isContiguous) fail('toBackendMemory', `a ${t.dtype} tensor must be contiguous to be copied (shape ${formatShape(t.shape)})`);
  const first = storageLength(t.dtype, t.offset);
  const length = storageLength(t.dtype, t.size);
  const data = allocate(t.dtype, t.size, false);
  data.set(t.storage.data.subarray(first, first + length) as never);
  if (!quant) return new Tensor(newStorage(data, t.dtype), t.shape);
  if (t.offset % quant.blockSize !== 0) fail('toBackendMemory', `offset ${t.offset} is not on a block of ${quant.blockSize}`);
  const s0 = t.offset / quant.blockSize;
  const scales = allocate('float32', t.size / quant.blockSize, false) as Float32Array;
  scales.set(quant.scales.subarray(s0, s0 + scales.length));
  return new Tensor(newStorage(data, t.dtype, true, { scales, blockSize: quant.blockSize }), t.shape);
}

/** Round half to even (IEEE roundTiesToEven, as SIMD round-to-nearest does). */
function roundHalfEven(v: number): number {
  const r = Math.round(v); // ties toward +Infinity
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The activations llama.cpp multiplies quantized weights with: x [..., K] (K a multiple of 32)
 * quantized to q8_0 blocks of 32 as ggml-cpu's quantize_row_q8_0 does on x86, and returned
 * dequantized (float32 d * q, the values the integer dot product sums). Per block: amax =
 * max |x|; d = amax / 127 rounded to half precision (the block stores f16); q =
 * round-half-even(x * (127 / amax)) with 127 / amax in float32 (q = 0 for an all-zero block).
 * The composed oracle of linear(..., { activations: 'q8_0' }).
 */
export function quantizeActivationsQ8(x: Tensor): Tensor {
  const k = x.shape[x.ndim - 1] ?? 0;
  if (x.dtype !== 'float32') fail('quantizeActivationsQ8', `input must be float32, got ${x.dtype}`);
  if (k % 32 !== 0) fail('quantizeActivationsQ8', `the last dimension (${k}) must be a multiple of 32, the q8_0 block`);
  const src = readContiguous(contiguous(x)) as Float32Array;
  const out = allocate('float32', src.length, false) as Float32Array;
  for (let b = 0; b < src.length; b += 32) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(src[b + j]!));
    const d = float16BitsToFloat32(float32ToFloat16Bits(Math.fround(amax / 127)));
    const id = amax !== 0 ? Math.fround(127 / amax) : 0;
    for (let j = 0; j < 32; j++) out[b + j] = Math.fround(d * roundHalfEven(Math.fround(src[b + j]! * id)));
  }
  return new Tensor(newStorage(out, 'float32'), x.shape);
}
