/**
 * Data types. Compute happens in float32 (float64 for gradient checks) and int32 (ids);
 * float16, bfloat16, int8-with-block-scales and int4-with-block-scales are storage formats for
 * weights: they are converted with `.to('float32')` before any arithmetic.
 *
 * int4 packs two 4-bit values per byte in ggml's Q4_0 order: within each block of `blockSize`
 * elements (blocks run along the flat row-major index), byte j of the block holds element j in
 * its low nibble and element j + blockSize / 2 in its high nibble, each stored as q + 8 for
 * q in [-8, 7]. A storage of n int4 elements is a Uint8Array of ceil(n / 2) bytes.
 */

export type FloatDType = 'float32' | 'float64';
export type ComputeDType = FloatDType | 'int32' | 'bool';
export type StorageDType = 'float16' | 'bfloat16' | 'int8' | 'int4';
export type DType = ComputeDType | StorageDType;

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array | Int8Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'bool', 'float16', 'bfloat16', 'int8', 'int4'];

export function isDType(s: string): s is DType {
  return (DTYPES as readonly string[]).includes(s);
}

export function isFloat(d: DType): d is FloatDType {
  return d === 'float32' || d === 'float64';
}

export function isComputeDType(d: DType): d is ComputeDType {
  return d === 'float32' || d === 'float64' || d === 'int32' || d === 'bool';
}

/** Bytes per element of the storage (0.5 for int4; block scales are counted separately). */
export function bytesPerElement(d: DType): number {
  switch (d) {
    case 'float64': return 8;
    case 'float32': case 'int32': return 4;
    case 'float16': case 'bfloat16': return 2;
    case 'int8': case 'bool': return 1;
    case 'int4': return 0.5;
  }
}

/** Length of the typed array that holds `size` elements of `d` (int4: two per byte). */
export function storageLength(d: DType, size: number): number {
  return d === 'int4' ? Math.ceil(size / 2) : size;
}

/** A zeroed typed array for `size` elements of `d`. */
export function newTypedArray(d: DType, size: number): TypedArray {
  switch (d) {
    case 'float32': return new Float32Array(size);
    case 'float64': return new Float64Array(size);
    case 'int32': return new Int32Array(size);
    case 'bool': return new Uint8Array(size);
    case 'float16': case 'bfloat16': return new Uint16Array(size);
    case 'int8': return new Int8Array(size);
    case 'int4': return new Uint8Array(storageLength(d, size));
  }
}

/** The dtype a typed array holds when no dtype is given. */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'bool';
  if (a instanceof Int8Array) return 'int8';
  return 'float16';
}

export function arrayMatchesDType(a: TypedArray, d: DType): boolean {
  switch (d) {
    case 'float32': return a instanceof Float32Array;
    case 'float64': return a instanceof Float64Array;
    case 'int32': return a instanceof Int32Array;
    case 'bool': return a instanceof Uint8Array;
    case 'float16': case 'bfloat16': return a instanceof Uint16Array;
    case 'int8': return a instanceof Int8Array;
    case 'int4': return a instanceof Uint8Array;
  }
}

/**
 * Result dtype of a binary arithmetic op, as PyTorch promotes tensors of equal standing:
 * bool < int32 < float32 < float64.
 */
export function promoteTypes(a: ComputeDType, b: ComputeDType): ComputeDType {
  const rank: Record<ComputeDType, number> = { bool: 0, int32: 1, float32: 2, float64: 3 };
  return rank[a] >= rank[b] ? a : b;
}

/** Ops like exp or division that always produce floats map integer inputs to float32. */
export function floatResult(d: ComputeDType): FloatDType {
  return d === 'float64' ? 'float64' : 'float32';
}

// ---- float16 / bfloat16 conversion (round to nearest even) ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function float32ToFloat16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000; // make the implicit bit explicit, then shift into a subnormal
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  let h = sign | (e << 10) | (mant >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // carries into the exponent correctly
  return h;
}

let halfTable: Float32Array | null = null;

/** IEEE half bits -> value, from a table of all 65,536 halves (built once, exact). */
export function float16BitsToFloat32(h: number): number {
  if (halfTable === null) {
    halfTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfTable[i] = halfBitsToNumber(i);
  }
  return halfTable[h & 0xffff]!;
}

function halfBitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function float32ToBFloat16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return (x >>> 16) | 0x40; // keep NaN a NaN
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}

export function bfloat16BitsToFloat32(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}
