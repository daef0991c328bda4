/**
 * Conversions between compute dtypes and the weight storage formats: float16, bfloat16 and
 * int8 with per-block scales (q8_0-like: blocks of `blockSize` consecutive elements along the
 * last axis share one float32 scale, `scale = max|x| / 127`).
 */
import {
  bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBFloat16Bits, float32ToFloat16Bits,
  isComputeDType, isDType, type DType,
} from './dtype.js';
import { fail, formatShape } from './errors.js';
import { allocate, newStorage } from './storage.js';
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
  const src = readContiguous(cast(t, 'float32'));
  const out = allocate(dtype, src.length, false);
  const enc = dtype === 'float16' ? float32ToFloat16Bits : float32ToBFloat16Bits;
  for (let i = 0; i < src.length; i++) out[i] = enc(src[i]!);
  return new Tensor(newStorage(out, dtype), t.shape);
}

/** Storage format -> contiguous float32 (reads views of stored weights correctly). */
function dequantize(t: Tensor): Tensor {
  const v = t.view('to');
  const flat = allocate('float32', t.size, false) as Float32Array;
  const q = t.storage.quant;
  const decode =
    t.dtype === 'float16' ? float16BitsToFloat32
    : t.dtype === 'bfloat16' ? bfloat16BitsToFloat32
    : null;
  let i = 0;
  const walk = (dim: number, off: number): void => {
    if (dim === t.ndim) {
      const raw = v.data[off]!;
      flat[i++] = decode ? decode(raw) : raw * q!.scales[Math.floor(off / q!.blockSize)]!;
      return;
    }
    for (let k = 0; k < t.shape[dim]!; k++) walk(dim + 1, off + k * t.strides[dim]!);
  };
  walk(0, t.offset);
  return new Tensor(newStorage(flat, 'float32'), t.shape);
}

export interface QuantizeOptions {
  /** Elements per scale along the last axis; defaults to 32, or the whole row if shorter. */
  blockSize?: number;
}

/**
 * int8 weights with one float32 scale per block of the last axis. Per-channel quantization is
 * `blockSize = lastDim`. Round-to-nearest; values map to [-127, 127].
 */
export function quantizeInt8(t: Tensor, opts: QuantizeOptions = {}): Tensor {
  if (t.ndim === 0) fail('quantizeInt8', 'needs at least one dimension');
  const last = t.shape[t.ndim - 1]!;
  const blockSize = opts.blockSize ?? Math.min(32, last);
  if (!Number.isInteger(blockSize) || blockSize <= 0 || last % blockSize !== 0) {
    fail('quantizeInt8', `block size ${blockSize} must divide the last dimension of ${formatShape(t.shape)}`);
  }
  const src = readContiguous(cast(contiguous(t), 'float32'));
  const q = allocate('int8', src.length, false);
  const scales = allocate('float32', src.length / blockSize, false) as Float32Array;
  for (let b = 0; b < scales.length; b++) {
    let amax = 0;
    for (let i = b * blockSize; i < (b + 1) * blockSize; i++) amax = Math.max(amax, Math.abs(src[i]!));
    const scale = amax / 127;
    scales[b] = scale;
    const inv = scale === 0 ? 0 : 1 / scale;
    for (let i = b * blockSize; i < (b + 1) * blockSize; i++) q[i] = Math.round(src[i]! * inv);
  }
  return new Tensor(newStorage(q, 'int8', true, { scales, blockSize }), t.shape);
}
