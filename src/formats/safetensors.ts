/**
 * safetensors: Hugging Face's tensor container (https://github.com/huggingface/safetensors,
 * format described in its README). This file is the browser-safe core over a Uint8Array;
 * reading and writing files lives in `safetensors-node.ts`.
 *
 * Layout:
 *   8 bytes        N, the header length, unsigned 64-bit little-endian
 *   N bytes        UTF-8 JSON: { "__metadata__"?: {str: str}, name: {dtype, shape, data_offsets: [begin, end]} }
 *   rest           the byte buffer; offsets are relative to its start, little-endian, row-major
 *
 * Reading is lazy: parsing validates the header only; `get(name)` makes a tensor that views the
 * file's bytes when they are aligned for the element type (a copy otherwise, or when converting).
 */
import {
  fail, formatShape, fromTypedArray, bytesPerElement, isComputeDType, newTypedArray,
  type DType, type Tensor, type TypedArray,
} from '../tensor/index.js';
import { joinPieces, type FilePieces } from './pieces.js';
import { isByteSource, memorySource, parseGrowingPrefix, PrefixTooShort, type ByteSource } from './byte-source.js';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'BOOL';

/** Bytes per element of each safetensors dtype this reader understands. */
export const SAFETENSORS_DTYPE_SIZE: Readonly<Record<SafetensorsDType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, BOOL: 1,
};

/** safetensors dtype -> attn dtype. I64 (token ids, position buffers) is narrowed to int32 on read. */
const TO_ATTN: Readonly<Record<SafetensorsDType, DType>> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int32', I32: 'int32', BOOL: 'bool',
};

const FROM_ATTN: Partial<Record<DType, SafetensorsDType>> = {
  float64: 'F64', float32: 'F32', float16: 'F16', bfloat16: 'BF16', int32: 'I32', bool: 'BOOL',
};

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** [begin, end) relative to the start of the byte buffer (after the header). */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** Entries in file order (sorted by data offset). */
  entries: SafetensorsEntry[];
  /** Byte offset of the data buffer in the file: 8 + header length. */
  dataStart: number;
}

/** Anything tensors can be loaded from by name: one file, a sharded checkpoint, a plain map. */
export interface TensorSource {
  keys(): string[];
  has(name: string): boolean;
  get(name: string): Tensor;
}

/** Headers larger than this are refused (the Rust reference uses 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function isDTypeName(s: unknown): s is SafetensorsDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_SIZE, s);
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses and validates the header of a safetensors byte buffer: the length prefix, the JSON,
 * `__metadata__`, each entry's dtype, shape and offsets, and that the entries tile the data
 * buffer exactly (contiguous, in bounds, non-overlapping, nothing left over).
 */
export function parseSafetensorsHeader(bytes: Uint8Array, source = 'safetensors', fileLength = bytes.byteLength): SafetensorsHeader {
  const op = source;
  if (fileLength < 8) fail(op, `file is ${fileLength} bytes, shorter than the 8-byte header length`);
  if (bytes.byteLength < 8) throw new PrefixTooShort();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(op, `header length ${n64} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  const n = Number(n64);
  if (8 + n > fileLength) fail(op, `header length ${n} runs past the end of the file (${fileLength} bytes)`);
  if (8 + n > bytes.byteLength) throw new PrefixTooShort();
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(op, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(op, 'header must be a JSON object');
  const dataStart = 8 + n;
  const dataLength = fileLength - dataStart;
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(op, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') fail(op, `__metadata__.${k} must be a string, got ${JSON.stringify(v)}`);
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(op, `tensor '${name}': entry must be an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (!isDTypeName(dtype)) fail(op, `tensor '${name}': unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(SAFETENSORS_DTYPE_SIZE).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) fail(op, `tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) {
      fail(op, `tensor '${name}': data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(op, `tensor '${name}': data_offsets [${begin}, ${end}] end before begin`);
    if (end > dataLength) fail(op, `tensor '${name}': data_offsets [${begin}, ${end}] out of bounds (data buffer is ${dataLength} bytes)`);
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = numel * SAFETENSORS_DTYPE_SIZE[dtype];
    if (end - begin !== expected) {
      fail(op, `tensor '${name}': shape ${formatShape(shape as number[])} x ${dtype} is ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    entries.push({ name, dtype, shape: [...(shape as number[])], dataOffsets: [begin, end] });
  }
  // The entries must tile [0, dataLength) exactly, as the Rust reference's `validate` requires.
  entries.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let cursor = 0;
  let prev = '';
  for (const e of entries) {
    const [begin, end] = e.dataOffsets;
    if (begin < cursor) fail(op, `tensor '${e.name}': data_offsets [${begin}, ${end}] overlap tensor '${prev}' (which ends at ${cursor})`);
    if (begin > cursor) fail(op, `tensor '${e.name}': data_offsets [${begin}, ${end}] leave a gap after ${prev ? `tensor '${prev}'` : 'the header'} (which ends at ${cursor})`);
    cursor = end;
    prev = e.name;
  }
  if (cursor !== dataLength) fail(op, `data buffer is ${dataLength} bytes but the tensors cover ${cursor} (${dataLength - cursor} trailing bytes)`);
  return { metadata, entries, dataStart };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The typed array for `count` elements of a stored dtype starting at an aligned byte offset. */
function viewAs(dtype: SafetensorsDType, buffer: ArrayBufferLike, byteOffset: number, count: number): TypedArray {
  switch (dtype) {
    case 'F64': return new Float64Array(buffer, byteOffset, count);
    case 'F32': return new Float32Array(buffer, byteOffset, count);
    case 'F16': case 'BF16': return new Uint16Array(buffer, byteOffset, count);
    case 'I32': return new Int32Array(buffer, byteOffset, count);
    case 'BOOL': return new Uint8Array(buffer, byteOffset, count);
    case 'I64': fail('safetensors', 'I64 has no direct view');
  }
}

/** A parsed safetensors buffer or file (a ByteSource); tensors are materialised on `get`. */
export class SafetensorsFile implements TensorSource {
  readonly metadata: Readonly<Record<string, string>>;
  /** Size of the file in bytes. */
  readonly byteLength: number;
  private readonly byName: Map<string, SafetensorsEntry>;
  private readonly dataStart: number;
  private readonly src: ByteSource;

  /**
   * Parses the header of `bytes` (a buffer, which it keeps without copying, or a ByteSource
   * such as a file, whose tensors are read when asked for). `source` names the file in errors.
   */
  constructor(bytes: Uint8Array | ByteSource, readonly source = 'safetensors') {
    const src = isByteSource(bytes) ? bytes : memorySource(bytes);
    const header = parseGrowingPrefix(src, 1 << 16, (prefix) => parseSafetensorsHeader(prefix, source, src.byteLength));
    this.src = src;
    this.byteLength = src.byteLength;
    this.metadata = header.metadata;
    this.dataStart = header.dataStart;
    this.byName = new Map(header.entries.map((e) => [e.name, e]));
  }

  keys(): string[] {
    return [...this.byName.keys()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  entry(name: string): SafetensorsEntry {
    const e = this.byName.get(name);
    if (!e) fail(this.source, `no tensor named '${name}'`);
    return e;
  }

  /**
   * The tensor `name`, with its stored dtype (F16 -> float16, BF16 -> bfloat16, I64 -> int32).
   * Over a buffer, aligned data is viewed in place (no copy; the tensor must not be modified)
   * and unaligned data is copied; from a file every tensor is read into its own buffer.
   */
  get(name: string): Tensor {
    const e = this.entry(name);
    const [begin, end] = e.dataOffsets;
    const bytes = this.src.read(this.dataStart + begin, end - begin);
    const start = bytes.byteOffset;
    const count = e.shape.reduce((a, b) => a * b, 1);
    const size = SAFETENSORS_DTYPE_SIZE[e.dtype];
    if (e.dtype === 'I64') return fromTypedArray(this.readInt64(e, bytes, count), e.shape, { dtype: 'int32' });
    let data: TypedArray;
    if (start % size === 0 && LITTLE_ENDIAN) {
      data = viewAs(e.dtype, bytes.buffer, start, count);
    } else {
      if (!LITTLE_ENDIAN) fail(this.source, `tensor '${name}': big-endian hosts are not supported`);
      data = viewAs(e.dtype, bytes.slice().buffer, 0, count);
    }
    return fromTypedArray(data, e.shape, { dtype: TO_ATTN[e.dtype] });
  }

  private readInt64(e: SafetensorsEntry, bytes: Uint8Array, count: number): Int32Array {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, count * 8);
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const v = dv.getBigInt64(i * 8, true);
      if (v > 2147483647n || v < -2147483648n) fail(this.source, `tensor '${e.name}': I64 value ${v} at index ${i} does not fit int32`);
      out[i] = Number(v);
    }
    return out;
  }
}

/**
 * Layout order of the Rust reference's `prepare`: its `Dtype` enum order, descending (which keeps
 * wider element types first), then by name.
 */
const LAYOUT_RANK: Readonly<Record<SafetensorsDType, number>> = { BOOL: 0, F16: 1, BF16: 2, I32: 3, F32: 4, F64: 5, I64: 6 };

export interface SerializeOptions {
  /** String key/value pairs stored under `__metadata__` (e.g. `{ format: 'pt' }`). */
  metadata?: Record<string, string>;
}

/**
 * Lays out a safetensors file as pieces: the 8-byte header length, the header, then each
 * tensor's bytes, each converted only when its piece is asked for. Tensors are laid out in the
 * Rust reference's order (wider dtypes first, then by name), and the header is padded with
 * spaces to a multiple of 8 bytes, so every tensor starts aligned for its element type and can
 * be viewed in place.
 */
export function safetensorsPieces(tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>, opts: SerializeOptions = {}): FilePieces {
  const list = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)) as [string, Tensor][];
  const items = list.map(([name, t]) => {
    if (name === '__metadata__') fail('serializeSafetensors', `'__metadata__' is reserved and cannot name a tensor`);
    const dtype = FROM_ATTN[t.dtype];
    if (!dtype) fail('serializeSafetensors', `tensor '${name}': dtype ${t.dtype} has no safetensors equivalent (convert it with .to('float32') first)`);
    return { name, t, dtype, nbytes: t.size * bytesPerElement(t.dtype) };
  });
  items.sort((a, b) => LAYOUT_RANK[b.dtype] - LAYOUT_RANK[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (opts.metadata && Object.keys(opts.metadata).length) {
    for (const [k, v] of Object.entries(opts.metadata)) {
      if (typeof v !== 'string') fail('serializeSafetensors', `metadata '${k}' must be a string`);
    }
    header['__metadata__'] = opts.metadata;
  }
  let offset = 0;
  for (const it of items) {
    header[it.name] = { dtype: it.dtype, shape: [...it.t.shape], data_offsets: [offset, offset + it.nbytes] };
    offset += it.nbytes;
  }
  if (!LITTLE_ENDIAN) fail('serializeSafetensors', 'big-endian hosts are not supported');
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.length); // spaces: still valid JSON
  return {
    byteLength: head.length + offset,
    *pieces() {
      yield head;
      for (const it of items) {
        const values = rowMajor(it.t);
        yield new Uint8Array(values.buffer, values.byteOffset, it.nbytes);
      }
    },
  };
}

/** Serialises tensors (and optional string metadata) into safetensors bytes, in one buffer. */
export function serializeSafetensors(tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>, opts: SerializeOptions = {}): Uint8Array {
  return joinPieces(safetensorsPieces(tensors, opts), 'serializeSafetensors');
}

/**
 * The stored elements of any tensor in row-major order, without conversion: compute dtypes via
 * the backend's copy, storage dtypes (float16/bfloat16 bits) by walking the strides.
 */
function rowMajor(t: Tensor): TypedArray {
  if (isComputeDType(t.dtype)) return t.toTypedArray();
  const v = t.view('serializeSafetensors');
  const n = t.size;
  if (t.isContiguous) return v.data.subarray(v.offset, v.offset + n);
  const out = newTypedArray(t.dtype, n);
  const idx = new Array<number>(t.ndim).fill(0);
  for (let i = 0; i < n; i++) {
    let at = v.offset;
    for (let d = 0; d < t.ndim; d++) at += idx[d]! * v.strides[d]!;
    out[i] = v.data[at]!;
    for (let d = t.ndim - 1; d >= 0; d--) {
      if (++idx[d]! < t.shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** `model.safetensors.index.json`: which shard file holds each tensor. */
export interface SafetensorsIndex {
  metadata: Record<string, unknown>;
  weightMap: Map<string, string>;
}

/** Parses and validates the JSON text of a sharded checkpoint's index. */
export function parseSafetensorsIndex(text: string, source = 'model.safetensors.index.json'): SafetensorsIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(source, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null) fail(source, 'must be a JSON object');
  const wm = (json as Record<string, unknown>)['weight_map'];
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) fail(source, `'weight_map' must be an object of tensor name -> file name`);
  const weightMap = new Map<string, string>();
  for (const [name, file] of Object.entries(wm)) {
    if (typeof file !== 'string' || !file || file.includes('/') || file.includes('\\')) {
      fail(source, `weight_map['${name}'] must be a plain file name, got ${JSON.stringify(file)}`);
    }
    weightMap.set(name, file);
  }
  const metadata = (json as Record<string, unknown>)['metadata'];
  return { metadata: typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {}, weightMap };
}

/**
 * A sharded checkpoint: tensors found through the index, each shard opened (by `openShard`)
 * only when one of its tensors is first requested. Checks that the shard really holds the
 * tensor the index promises.
 */
export class ShardedSafetensors implements TensorSource {
  private readonly shards = new Map<string, SafetensorsFile>();

  constructor(readonly index: SafetensorsIndex, private readonly openShard: (file: string) => SafetensorsFile) {}

  keys(): string[] {
    return [...this.index.weightMap.keys()];
  }

  has(name: string): boolean {
    return this.index.weightMap.has(name);
  }

  /** Shard file names in first-use order of the index. */
  files(): string[] {
    return [...new Set(this.index.weightMap.values())];
  }

  shard(file: string): SafetensorsFile {
    let s = this.shards.get(file);
    if (!s) {
      s = this.openShard(file);
      this.shards.set(file, s);
    }
    return s;
  }

  get(name: string): Tensor {
    const file = this.index.weightMap.get(name);
    if (!file) fail('safetensors index', `no tensor named '${name}' in the weight_map`);
    const s = this.shard(file);
    if (!s.has(name)) fail('safetensors index', `weight_map says '${name}' is in ${file}, but that file does not hold it`);
    return s.get(name);
  }
}

/** A TensorSource over an in-memory map (state dicts, tests). */
export function mapSource(map: ReadonlyMap<string, Tensor>): TensorSource {
  return {
    keys: () => [...map.keys()],
    has: (n) => map.has(n),
    get: (n) => {
      const t = map.get(n);
      if (!t) fail('tensor source', `no tensor named '${n}'`);
      return t;
    },
  };
}
