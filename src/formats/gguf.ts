/**
 * GGUF: the single-file model container of ggml / llama.cpp (specification: ggml's docs/gguf.md;
 * reference readers and writers: ggml's gguf.c, llama.cpp's gguf-py). This file is the
 * browser-safe core over a Uint8Array; reading and writing files lives in `gguf-node.ts`.
 *
 * Layout (version 3; version 2 is the same; all little-endian):
 *   "GGUF"  u32 version  u64 tensor_count  u64 metadata_kv_count
 *   metadata_kv_count x { string key, u32 value_type, value }
 *       string = u64 byte length + UTF-8 bytes (no terminator)
 *       array  = u32 item type + u64 count + items (arrays of arrays allowed)
 *   tensor_count x { string name, u32 n_dims, u64 ne[n_dims] (innermost first), u32 ggml_type,
 *                    u64 offset (from the start of the data section, a multiple of the alignment) }
 *   zero padding to `general.alignment` (a u32 key; 32 when absent), then the data section.
 *
 * attn shapes are row-major, so an attn shape is ne reversed: token_embd ne = [n_embd, n_vocab]
 * is the [n_vocab, n_embd] matrix Hugging Face stores too.
 *
 * Tensor types read: F32, F16, BF16 (kept in their storage dtype, or converted), Q8_0 (blocks of
 * 32: f16 scale d, 32 x int8; x = d q) kept as attn's int8-with-scales storage, and Q4_0 (blocks
 * of 32: f16 d, 16 bytes whose low nibbles are elements 0..15 and high nibbles 16..31; x = d (q - 8))
 * kept as int4-with-scales, the same values ggml's dequantize_row_q8_0 / _q4_0 produce. Other
 * ggml types are listed with their sizes and refused by name when read.
 */
import {
  fail, float16BitsToFloat32, float32ToFloat16Bits, formatShape, fromTypedArray,
  quantizedTensor, storageLength, type Tensor, type TypedArray,
} from '../tensor/index.js';
import type { TensorSource } from './safetensors.js';
import { joinPieces, type FilePieces } from './pieces.js';
import { isByteSource, memorySource, parseGrowingPrefix, PrefixTooShort, type ByteSource } from './byte-source.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

// ---- metadata values ------------------------------------------------------------------------

/** gguf_metadata_value_type, by name; the index is the on-disk code. */
export const GGUF_VALUE_TYPES = [
  'uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64',
] as const;
export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];
export type GgufNumberType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';
export type GgufBigIntType = 'uint64' | 'int64';

/**
 * A typed metadata value. 64-bit integers are bigints (exact); arrays carry their item type, and
 * an array of arrays holds GgufArray items.
 */
export type GgufMetadataValue =
  | { type: GgufNumberType; value: number }
  | { type: GgufBigIntType; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | GgufArray;

export type GgufArray =
  | { type: 'array'; itemType: GgufNumberType; value: number[] }
  | { type: 'array'; itemType: GgufBigIntType; value: bigint[] }
  | { type: 'array'; itemType: 'bool'; value: boolean[] }
  | { type: 'array'; itemType: 'string'; value: string[] }
  | { type: 'array'; itemType: 'array'; value: GgufArray[] };

/** Shorthands for building metadata to write. */
export const gguf = {
  u8: (value: number): GgufMetadataValue => ({ type: 'uint8', value }),
  i32: (value: number): GgufMetadataValue => ({ type: 'int32', value }),
  u32: (value: number): GgufMetadataValue => ({ type: 'uint32', value }),
  f32: (value: number): GgufMetadataValue => ({ type: 'float32', value }),
  u64: (value: number | bigint): GgufMetadataValue => ({ type: 'uint64', value: BigInt(value) }),
  bool: (value: boolean): GgufMetadataValue => ({ type: 'bool', value }),
  str: (value: string): GgufMetadataValue => ({ type: 'string', value }),
  strings: (value: string[]): GgufMetadataValue => ({ type: 'array', itemType: 'string', value }),
  f32s: (value: number[]): GgufMetadataValue => ({ type: 'array', itemType: 'float32', value }),
  i32s: (value: number[]): GgufMetadataValue => ({ type: 'array', itemType: 'int32', value }),
};

/**
 * A metadata value as a plain JavaScript value: numbers, booleans, strings, arrays; 64-bit
 * integers as numbers when they are safe integers, else bigints.
 */
export function plainValue(v: GgufMetadataValue): unknown {
  if (v.type === 'array') return (v.value as unknown[]).map((x) => (v.itemType === 'array' ? plainValue(x as GgufArray) : plainScalar(x)));
  return plainScalar(v.value);
}

function plainScalar(x: unknown): unknown {
  return typeof x === 'bigint' && x <= BigInt(Number.MAX_SAFE_INTEGER) && x >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(x) : x;
}

// ---- tensor types ---------------------------------------------------------------------------

/** ggml_type codes with (elements per block, bytes per block), from gguf-py's GGML_QUANT_SIZES. */
export const GGML_TYPES: Readonly<Record<number, { name: string; blockSize: number; typeSize: number }>> = {
  0: { name: 'F32', blockSize: 1, typeSize: 4 },
  1: { name: 'F16', blockSize: 1, typeSize: 2 },
  2: { name: 'Q4_0', blockSize: 32, typeSize: 18 },
  3: { name: 'Q4_1', blockSize: 32, typeSize: 20 },
  6: { name: 'Q5_0', blockSize: 32, typeSize: 22 },
  7: { name: 'Q5_1', blockSize: 32, typeSize: 24 },
  8: { name: 'Q8_0', blockSize: 32, typeSize: 34 },
  9: { name: 'Q8_1', blockSize: 32, typeSize: 40 },
  10: { name: 'Q2_K', blockSize: 256, typeSize: 84 },
  11: { name: 'Q3_K', blockSize: 256, typeSize: 110 },
  12: { name: 'Q4_K', blockSize: 256, typeSize: 144 },
  13: { name: 'Q5_K', blockSize: 256, typeSize: 176 },
  14: { name: 'Q6_K', blockSize: 256, typeSize: 210 },
  15: { name: 'Q8_K', blockSize: 256, typeSize: 292 },
  16: { name: 'IQ2_XXS', blockSize: 256, typeSize: 66 },
  17: { name: 'IQ2_XS', blockSize: 256, typeSize: 74 },
  18: { name: 'IQ3_XXS', blockSize: 256, typeSize: 98 },
  19: { name: 'IQ1_S', blockSize: 256, typeSize: 50 },
  20: { name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  21: { name: 'IQ3_S', blockSize: 256, typeSize: 110 },
  22: { name: 'IQ2_S', blockSize: 256, typeSize: 82 },
  23: { name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  24: { name: 'I8', blockSize: 1, typeSize: 1 },
  25: { name: 'I16', blockSize: 1, typeSize: 2 },
  26: { name: 'I32', blockSize: 1, typeSize: 4 },
  27: { name: 'I64', blockSize: 1, typeSize: 8 },
  28: { name: 'F64', blockSize: 1, typeSize: 8 },
  29: { name: 'IQ1_M', blockSize: 256, typeSize: 56 },
  30: { name: 'BF16', blockSize: 1, typeSize: 2 },
  34: { name: 'TQ1_0', blockSize: 256, typeSize: 54 },
  35: { name: 'TQ2_0', blockSize: 256, typeSize: 66 },
  39: { name: 'MXFP4', blockSize: 32, typeSize: 17 },
};

/** The ggml types this module reads into tensors and writes from them. */
export type GgmlTypeName = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0';
export const GGML_TYPE_CODES: Readonly<Record<GgmlTypeName, number>> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 };

export interface GgufTensorInfo {
  name: string;
  /** Row-major attn shape (ne reversed). */
  shape: number[];
  /** ggml_type code and its name. */
  type: number;
  typeName: string;
  /** Byte offset within the data section. */
  offset: number;
  nbytes: number;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufMetadataValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Byte offset of the data section in the file. */
  dataStart: number;
}

// ---- reading --------------------------------------------------------------------------------

const MAX_DIMS = 4; // GGML_MAX_DIMS
// ignoreBOM: a token may begin with U+FEFF, which the decoder would otherwise drop
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Reader {
  pos = 0;
  private readonly dv: DataView;

  /** `bytes`: the file, or a prefix of its first bytes when `fileLength` is larger. */
  constructor(private readonly bytes: Uint8Array, private readonly source: string, private readonly fileLength: number) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(msg: string): never {
    return fail(this.source, `${msg} (at byte ${this.pos})`);
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.fileLength) this.fail(`truncated: ${what} needs ${n} bytes, ${this.fileLength - this.pos} left`);
    if (this.pos + n > this.bytes.length) throw new PrefixTooShort();
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A u64 count or size that must fit a JS number and the bytes left (each item >= minBytes). */
  count(what: string, minBytes: number): number {
    const v = this.u64(what);
    if (v > BigInt(Math.floor((this.fileLength - this.pos) / Math.max(minBytes, 1)))) {
      this.fail(`${what} ${v} is larger than the rest of the file allows`);
    }
    return Number(v);
  }

  string(what: string): string {
    const n = this.count(`${what} length`, 1);
    this.need(n, what);
    try {
      const s = utf8.decode(this.bytes.subarray(this.pos, this.pos + n));
      this.pos += n;
      return s;
    } catch {
      return this.fail(`${what} is not valid UTF-8`);
    }
  }

  typeCode(what: string): GgufValueType {
    const code = this.u32(what);
    const t = GGUF_VALUE_TYPES[code];
    if (t === undefined) this.fail(`${what}: unknown value type ${code}`);
    return t;
  }

  scalar(type: Exclude<GgufValueType, 'array'>, what: string): number | bigint | boolean | string {
    const dv = this.dv;
    const at = this.pos;
    const take = (n: number) => {
      this.need(n, what);
      this.pos += n;
    };
    switch (type) {
      case 'uint8': take(1); return dv.getUint8(at);
      case 'int8': take(1); return dv.getInt8(at);
      case 'uint16': take(2); return dv.getUint16(at, true);
      case 'int16': take(2); return dv.getInt16(at, true);
      case 'uint32': take(4); return dv.getUint32(at, true);
      case 'int32': take(4); return dv.getInt32(at, true);
      case 'float32': take(4); return dv.getFloat32(at, true);
      case 'float64': take(8); return dv.getFloat64(at, true);
      case 'uint64': take(8); return dv.getBigUint64(at, true);
      case 'int64': take(8); return dv.getBigInt64(at, true);
      case 'bool': {
        take(1);
        const b = dv.getUint8(at);
        if (b > 1) this.fail(`${what}: bool byte is ${b}, expected 0 or 1`);
        return b === 1;
      }
      case 'string': return this.string(what);
    }
  }

  value(type: GgufValueType, what: string, depth = 0): GgufMetadataValue {
    if (type !== 'array') return { type, value: this.scalar(type, what) } as GgufMetadataValue;
    if (depth > 8) this.fail(`${what}: arrays nested deeper than 8 levels`);
    const itemType = this.typeCode(`${what} item type`);
    const n = this.count(`${what} length`, itemType === 'bool' || itemType.endsWith('int8') ? 1 : 2);
    const items: unknown[] = new Array(n);
    for (let i = 0; i < n; i++) {
      items[i] = itemType === 'array' ? this.value('array', `${what}[${i}]`, depth + 1) : this.scalar(itemType, `${what}[${i}]`);
    }
    return { type: 'array', itemType, value: items } as GgufArray;
  }
}

/**
 * Parses and validates everything but the tensor data: header, metadata, tensor infos, layout.
 * `bytes` is the whole file, or its first bytes when `fileLength` says the file is longer (then
 * PrefixTooShort is thrown if the header runs past them).
 */
export function parseGgufHeader(bytes: Uint8Array, source = 'gguf', fileLength = bytes.length): GgufHeader {
  const r = new Reader(bytes, source, fileLength);
  if (fileLength < 24) r.fail(`file is ${fileLength} bytes, shorter than the 24-byte GGUF header`);
  const magic = r.u32('magic');
  if (magic !== GGUF_MAGIC) {
    const text = String.fromCharCode(...bytes.subarray(0, 4)).replace(/[^\x20-\x7e]/g, '?');
    fail(source, `not a GGUF file: magic is '${text}', expected 'GGUF'`);
  }
  const version = r.u32('version');
  if (version === 1) fail(source, 'GGUF version 1 (32-bit counts) is not supported; versions 2 and 3 are');
  if (version !== 2 && version !== 3) fail(source, `GGUF version ${version} is not supported (2, 3)`);
  const tensorCount = r.count('tensor count', 24);
  const kvCount = r.count('metadata count', 13);
  const metadata = new Map<string, GgufMetadataValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = r.string(`metadata key ${i}`);
    if (metadata.has(key)) r.fail(`metadata key '${key}' appears twice`);
    const type = r.typeCode(`metadata '${key}' type`);
    metadata.set(key, r.value(type, `metadata '${key}'`));
  }
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const a = metadata.get('general.alignment');
  if (a !== undefined) {
    if (a.type !== 'uint32') fail(source, `general.alignment must be a uint32, got ${a.type}`);
    if (a.value === 0 || (a.value & (a.value - 1)) !== 0) fail(source, `general.alignment ${a.value} is not a power of two`);
    alignment = a.value;
  }
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = r.string(`tensor ${i} name`);
    if (names.has(name)) r.fail(`tensor '${name}' appears twice`);
    names.add(name);
    const nDims = r.u32(`tensor '${name}' n_dims`);
    if (nDims > MAX_DIMS) r.fail(`tensor '${name}' has ${nDims} dimensions (at most ${MAX_DIMS})`);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const v = r.u64(`tensor '${name}' dimension ${d}`);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) r.fail(`tensor '${name}' dimension ${d} is ${v}`);
      ne.push(Number(v));
    }
    const type = r.u32(`tensor '${name}' type`);
    const info = GGML_TYPES[type];
    if (!info) r.fail(`tensor '${name}' has unknown ggml type ${type}`);
    const offsetBig = r.u64(`tensor '${name}' offset`);
    if (offsetBig > BigInt(Number.MAX_SAFE_INTEGER)) r.fail(`tensor '${name}' offset ${offsetBig} is too large`);
    const offset = Number(offsetBig);
    if (offset % alignment !== 0) r.fail(`tensor '${name}' offset ${offset} is not a multiple of the alignment ${alignment}`);
    const shape = ne.slice().reverse();
    const elements = ne.reduce((x, y) => x * y, 1);
    if ((ne[0] ?? 1) % info.blockSize !== 0) {
      fail(source, `tensor '${name}' (${info.name}, shape ${formatShape(shape)}): rows of ${ne[0]} elements are not a multiple of the block size ${info.blockSize}`);
    }
    tensors.push({ name, shape, type, typeName: info.name, offset, nbytes: (elements / info.blockSize) * info.typeSize });
  }
  const dataStart = Math.ceil(r.pos / alignment) * alignment;
  const dataBytes = fileLength - dataStart;
  const byOffset = [...tensors].sort((x, y) => x.offset - y.offset);
  for (let i = 0; i < byOffset.length; i++) {
    const t = byOffset[i]!;
    if (t.offset + t.nbytes > dataBytes) {
      fail(source, `tensor '${t.name}' (${t.typeName}, shape ${formatShape(t.shape)}) needs bytes [${t.offset}, ${t.offset + t.nbytes}) of the data section, which has ${Math.max(dataBytes, 0)}`);
    }
    const next = byOffset[i + 1];
    if (next && t.offset + t.nbytes > next.offset) fail(source, `tensors '${t.name}' and '${next.name}' overlap`);
  }
  return { version, metadata, tensors, alignment, dataStart };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface GgufGetOptions {
  /** Convert to float32 (ggml's dequantization for Q8_0 / Q4_0); default: keep the stored format. */
  dtype?: 'float32';
}

/**
 * A parsed GGUF file over its bytes (a buffer, or a ByteSource such as a file read a tensor at a
 * time). `get(name)` makes a tensor: F32 viewed in place when aligned (over a buffer the tensor
 * must not be modified; from a file each tensor has its own copy), F16 / BF16 in their storage
 * dtypes, Q8_0 as int8 and Q4_0 as int4 with block scales (the f16 scales widened to float32,
 * the values unchanged).
 */
export class GgufFile implements TensorSource {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufMetadataValue>;
  readonly tensorInfos: readonly GgufTensorInfo[];
  readonly alignment: number;
  readonly dataStart: number;
  /** Size of the file in bytes. */
  readonly byteLength: number;
  private readonly byName: Map<string, GgufTensorInfo>;
  private readonly src: ByteSource;

  constructor(bytes: Uint8Array | ByteSource, readonly source = 'gguf') {
    const src = isByteSource(bytes) ? bytes : memorySource(bytes);
    // the header (metadata holds the whole vocabulary: megabytes) from a growing prefix
    const h = parseGrowingPrefix(src, 1 << 20, (prefix) => parseGgufHeader(prefix, source, src.byteLength));
    this.src = src;
    this.byteLength = src.byteLength;
    this.version = h.version;
    this.metadata = h.metadata;
    this.tensorInfos = h.tensors;
    this.alignment = h.alignment;
    this.dataStart = h.dataStart;
    this.byName = new Map(h.tensors.map((t) => [t.name, t]));
  }

  keys(): string[] {
    return [...this.byName.keys()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  info(name: string): GgufTensorInfo {
    const t = this.byName.get(name);
    if (!t) fail(this.source, `no tensor named '${name}'`);
    return t;
  }

  /** The metadata as plain values (see plainValue). */
  plainMetadata(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of this.metadata) out[k] = plainValue(v);
    return out;
  }

  /** A metadata value, or undefined when the key is absent. */
  value(key: string): unknown {
    const v = this.metadata.get(key);
    return v === undefined ? undefined : plainValue(v);
  }

  /** The stored bytes of tensor `name` (over a buffer a view, from a file a copy). */
  tensorBytes(name: string): Uint8Array {
    const info = this.info(name);
    return this.src.read(this.dataStart + info.offset, info.nbytes);
  }

  get(name: string, opts: GgufGetOptions = {}): Tensor {
    const info = this.info(name);
    if (!LITTLE_ENDIAN) fail(this.source, `tensor '${name}': big-endian hosts are not supported`);
    const bytes = this.tensorBytes(name);
    const start = bytes.byteOffset;
    const count = info.shape.reduce((a, b) => a * b, 1);
    const raw = (): ArrayBuffer => bytes.slice().buffer;
    let t: Tensor;
    switch (info.typeName) {
      case 'F32': {
        const data = start % 4 === 0 ? new Float32Array(bytes.buffer, start, count) : new Float32Array(raw());
        t = fromTypedArray(data, info.shape, { dtype: 'float32' });
        break;
      }
      case 'F16':
      case 'BF16': {
        const data = start % 2 === 0 ? new Uint16Array(bytes.buffer, start, count) : new Uint16Array(raw());
        t = fromTypedArray(data, info.shape, { dtype: info.typeName === 'F16' ? 'float16' : 'bfloat16' });
        break;
      }
      case 'Q8_0':
      case 'Q4_0':
        t = this.blocks(info, bytes, count);
        break;
      default:
        return fail(this.source, `tensor '${name}' has ggml type ${info.typeName}, which attn does not read (F32, F16, BF16, Q8_0, Q4_0)`);
    }
    return opts.dtype === 'float32' ? t.to('float32') : t;
  }

  /** Q8_0 / Q4_0 blocks split into values and float32 scales. */
  private blocks(info: GgufTensorInfo, src: Uint8Array, count: number): Tensor {
    const q8 = info.typeName === 'Q8_0';
    const typeSize = q8 ? 34 : 18;
    const nBlocks = count / 32;
    const scales = new Float32Array(nBlocks);
    const values = q8 ? new Int8Array(count) : new Uint8Array(storageLength('int4', count));
    const bytesOut = new Uint8Array(values.buffer);
    const per = q8 ? 32 : 16;
    splitBlocks(src, nBlocks, typeSize, per, scales, bytesOut);
    return quantizedTensor(q8 ? 'int8' : 'int4', values, scales, 32, info.shape);
  }
}

/** ggml blocks (f16 scale, then `per` bytes) -> float32 scales and the bytes back to back. */
function splitBlocks(src: Uint8Array, nBlocks: number, typeSize: number, per: number, scales: Float32Array, out: Uint8Array): void {
  // four bytes at a time (blocks are 2-byte aligned, so through a DataView); a subarray per
  // block, or a byte loop, cost several times more than the copy itself
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const words = new Uint32Array(out.buffer, out.byteOffset, out.byteLength / 4);
  const perWords = per / 4;
  for (let b = 0; b < nBlocks; b++) {
    const o = b * typeSize;
    scales[b] = float16BitsToFloat32(src[o]! | (src[o + 1]! << 8));
    for (let j = 0, at = b * perWords; j < perWords; j++) words[at + j] = dv.getUint32(o + 2 + 4 * j, true);
  }
}

// ---- writing --------------------------------------------------------------------------------

const utf8Encoder = new TextEncoder();

class Writer {
  private buf = new Uint8Array(1 << 16);
  private dv = new DataView(this.buf.buffer);
  length = 0;

  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  bytes(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  num(type: Exclude<GgufValueType, 'array' | 'string'>, v: number | bigint | boolean, what: string): void {
    const size = { uint8: 1, int8: 1, bool: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, uint64: 8, int64: 8, float64: 8 }[type];
    this.grow(size);
    const at = this.length;
    const dv = this.dv;
    const int = (lo: number, hi: number): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) fail('serializeGguf', `${what}: ${String(v)} is not a ${type}`);
      return v;
    };
    switch (type) {
      case 'uint8': dv.setUint8(at, int(0, 255)); break;
      case 'int8': dv.setInt8(at, int(-128, 127)); break;
      case 'uint16': dv.setUint16(at, int(0, 65535), true); break;
      case 'int16': dv.setInt16(at, int(-32768, 32767), true); break;
      case 'uint32': dv.setUint32(at, int(0, 2 ** 32 - 1), true); break;
      case 'int32': dv.setInt32(at, int(-(2 ** 31), 2 ** 31 - 1), true); break;
      case 'float32':
      case 'float64':
        if (typeof v !== 'number') fail('serializeGguf', `${what}: ${String(v)} is not a number`);
        if (type === 'float32') dv.setFloat32(at, v, true);
        else dv.setFloat64(at, v, true);
        break;
      case 'bool':
        if (typeof v !== 'boolean') fail('serializeGguf', `${what}: ${String(v)} is not a boolean`);
        dv.setUint8(at, v ? 1 : 0);
        break;
      case 'uint64':
      case 'int64': {
        const big = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : fail('serializeGguf', `${what}: ${String(v)} is not an integer`);
        const ok = type === 'uint64' ? big >= 0n && big < 1n << 64n : big >= -(1n << 63n) && big < 1n << 63n;
        if (!ok) fail('serializeGguf', `${what}: ${big} is not a ${type}`);
        if (type === 'uint64') dv.setBigUint64(at, big, true);
        else dv.setBigInt64(at, big, true);
        break;
      }
    }
    this.length += size;
  }

  string(s: string): void {
    const b = utf8Encoder.encode(s);
    this.num('uint64', BigInt(b.length), 'string length');
    this.bytes(b);
  }

  value(v: GgufMetadataValue, what: string): void {
    if (v.type === 'string') {
      const value: unknown = v.value;
      if (typeof value !== 'string') fail('serializeGguf', `${what}: ${String(value)} is not a string`);
      this.string(value);
    } else if (v.type === 'array') {
      const code = GGUF_VALUE_TYPES.indexOf(v.itemType);
      if (code < 0) fail('serializeGguf', `${what}: unknown item type '${String(v.itemType)}'`);
      this.num('uint32', code, what);
      this.num('uint64', BigInt(v.value.length), what);
      (v.value as unknown[]).forEach((x, i) => {
        if (v.itemType === 'array') this.value(x as GgufArray, `${what}[${i}]`);
        else if (v.itemType === 'string') this.value({ type: 'string', value: x as string }, `${what}[${i}]`);
        else this.num(v.itemType, x as number, `${what}[${i}]`);
      });
    } else {
      if (!GGUF_VALUE_TYPES.includes(v.type)) fail('serializeGguf', `${what}: unknown value type '${String((v as { type: unknown }).type)}'`);
      this.num(v.type, v.value, what);
    }
  }

  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.bytes(new Uint8Array(n));
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** A tensor to write: its ggml type follows from its dtype (see ggmlTypeOf). */
export interface SerializeGgufOptions {
  /** Metadata in the order to write (general.architecture first, as llama.cpp's writer does). */
  metadata: Iterable<[string, GgufMetadataValue]>;
  tensors: Iterable<[string, Tensor]>;
  /** Data alignment; written as general.alignment when not 32. */
  alignment?: number;
}

/**
 * The ggml type a tensor is written as: float32 F32, float16 F16, bfloat16 BF16, int8 with
 * blocks of 32 and half-precision scales Q8_0, int4 with blocks of 32 and half-precision scales
 * Q4_0 (quantizeInt8 / quantizeInt4 with `scaleFormat: 'float16'` make exactly those).
 */
export function ggmlTypeOf(t: Tensor, name: string): GgmlTypeName {
  switch (t.dtype) {
    case 'float32': return 'F32';
    case 'float16': return 'F16';
    case 'bfloat16': return 'BF16';
    case 'int8':
    case 'int4': {
      const q = t.storage.quant;
      const type = t.dtype === 'int8' ? 'Q8_0' : 'Q4_0';
      if (!q || q.blockSize !== 32) fail('serializeGguf', `tensor '${name}': ${t.dtype} with blocks of ${q?.blockSize} cannot be written as ${type} (blocks of 32)`);
      const row = t.shape[t.ndim - 1] ?? 0;
      if (row % 32 !== 0) fail('serializeGguf', `tensor '${name}': rows of ${row} elements are not whole ${type} blocks of 32 (shape ${formatShape(t.shape)})`);
      return type;
    }
    default:
      return fail('serializeGguf', `tensor '${name}': dtype ${t.dtype} has no GGUF type here (float32, float16, bfloat16, int8 and int4 with blocks of 32)`);
  }
}

/** The bytes of one tensor in its ggml type. */
function tensorBytes(t: Tensor, name: string, type: GgmlTypeName): Uint8Array {
  if (type === 'F32' || type === 'F16' || type === 'BF16') {
    const whole = t.isContiguous && t.offset === 0 && t.storage.data.length === t.size;
    const data: TypedArray = type === 'F32' ? t.toTypedArray() : whole ? t.storage.data : storedContiguous(t);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (!t.isContiguous) fail('serializeGguf', `tensor '${name}': a quantized tensor must be contiguous to be written`);
  const q = t.storage.quant!;
  const count = t.size;
  const nBlocks = count / 32;
  const firstBlock = t.offset / 32;
  if (!Number.isInteger(firstBlock)) fail('serializeGguf', `tensor '${name}': view starts inside a block`);
  const q8 = type === 'Q8_0';
  const typeSize = q8 ? 34 : 18;
  const per = q8 ? 32 : 16;
  const src = new Uint8Array(t.storage.data.buffer, t.storage.data.byteOffset + firstBlock * per, nBlocks * per);
  const out = new Uint8Array(nBlocks * typeSize);
  for (let b = 0; b < nBlocks; b++) {
    const s = q.scales[firstBlock + b]!;
    const h = float32ToFloat16Bits(s);
    if (float16BitsToFloat32(h) !== s && !(Number.isNaN(s))) {
      fail('serializeGguf', `tensor '${name}': block ${b} has scale ${s}, which float16 cannot hold exactly (quantize with scaleFormat: 'float16')`);
    }
    out[b * typeSize] = h & 0xff;
    out[b * typeSize + 1] = h >> 8;
    out.set(src.subarray(b * per, (b + 1) * per), b * typeSize + 2);
  }
  return out;
}

/** float16 / bfloat16 bits in row-major order (their storage arrays, copied when viewed). */
function storedContiguous(t: Tensor): Uint16Array {
  const out = new Uint16Array(t.size);
  const v = t.view('serializeGguf');
  let i = 0;
  const walk = (dim: number, off: number): void => {
    if (dim === t.ndim) {
      out[i++] = v.data[off]!;
      return;
    }
    for (let k = 0; k < t.shape[dim]!; k++) walk(dim + 1, off + k * t.strides[dim]!);
  };
  walk(0, t.offset);
  return out;
}

/**
 * Validates metadata and tensors and lays out a GGUF version 3 file (tensors in the order given)
 * as pieces: the header (padded to the alignment), then each tensor's bytes and padding, each
 * tensor converted only when its piece is asked for.
 */
export function ggufPieces(opts: SerializeGgufOptions): FilePieces {
  const alignment = opts.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) fail('serializeGguf', `alignment ${alignment} is not a power of two`);
  const metadata = new Map<string, GgufMetadataValue>();
  for (const [k, v] of opts.metadata) {
    if (metadata.has(k)) fail('serializeGguf', `metadata key '${k}' is given twice`);
    metadata.set(k, v);
  }
  const align = metadata.get('general.alignment');
  if (align && !(align.type === 'uint32' && (align as { value: number }).value === alignment)) fail('serializeGguf', `general.alignment in the metadata disagrees with the alignment ${alignment}`);
  if (!align && alignment !== GGUF_DEFAULT_ALIGNMENT) metadata.set('general.alignment', { type: 'uint32', value: alignment });
  const items: { name: string; t: Tensor; type: GgmlTypeName; nbytes: number }[] = [];
  const names = new Set<string>();
  for (const [name, t] of opts.tensors) {
    if (names.has(name)) fail('serializeGguf', `tensor '${name}' is given twice`);
    names.add(name);
    if (t.ndim === 0 || t.ndim > MAX_DIMS) fail('serializeGguf', `tensor '${name}': ${t.ndim} dimensions (1 to ${MAX_DIMS})`);
    const type = ggmlTypeOf(t, name);
    const { blockSize, typeSize } = GGML_TYPES[GGML_TYPE_CODES[type]]!;
    items.push({ name, t, type, nbytes: (t.size / blockSize) * typeSize });
  }
  const w = new Writer();
  w.num('uint32', GGUF_MAGIC, 'magic');
  w.num('uint32', GGUF_VERSION, 'version');
  w.num('uint64', BigInt(items.length), 'tensor count');
  w.num('uint64', BigInt(metadata.size), 'metadata count');
  for (const [k, v] of metadata) {
    w.string(k);
    w.num('uint32', GGUF_VALUE_TYPES.indexOf(v.type), `metadata '${k}' type`);
    w.value(v, `metadata '${k}'`);
  }
  let offset = 0;
  for (const it of items) {
    w.string(it.name);
    w.num('uint32', it.t.shape.length, 'n_dims');
    for (let d = it.t.shape.length - 1; d >= 0; d--) w.num('uint64', BigInt(it.t.shape[d]!), 'dimension');
    w.num('uint32', GGML_TYPE_CODES[it.type], 'type');
    w.num('uint64', BigInt(offset), 'offset');
    offset += Math.ceil(it.nbytes / alignment) * alignment;
  }
  w.pad(alignment);
  const header = w.result();
  const padding = new Uint8Array(alignment);
  return {
    byteLength: header.length + offset,
    *pieces() {
      yield header;
      for (const it of items) {
        const data = tensorBytes(it.t, it.name, it.type);
        if (data.length !== it.nbytes) fail('serializeGguf', `tensor '${it.name}': ${data.length} bytes, want ${it.nbytes}`);
        yield data;
        const pad = Math.ceil(it.nbytes / alignment) * alignment - it.nbytes;
        if (pad > 0) yield padding.subarray(0, pad);
      }
    },
  };
}

/** Serialises metadata and tensors into GGUF version 3 bytes (tensors in the order given), in one buffer. */
export function serializeGguf(opts: SerializeGgufOptions): Uint8Array {
  return joinPieces(ggufPieces(opts), 'serializeGguf');
}
