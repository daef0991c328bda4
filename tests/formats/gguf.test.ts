/**
 * GGUF container: files written by an independent writer (scripts/reference/gguf_files.py, from
 * the specification) are read value by value, re-serialised byte for byte, and malformed files
 * are refused with errors that name the problem.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, readdirSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GgufFile, gguf, quantizeInt4, quantizeInt8, randn, readGguf, serializeGguf, tensor, writeGguf, Generator,
  type GgufMetadataValue,
} from '../../src/index.js';
import { FIXTURES, loadFixture } from '../helpers.js';

interface FileDoc {
  path: string;
  alignment: number;
  data_start: number;
  tensors: { name: string; type: string; shape: number[]; offset: number; nbytes: number }[];
}
const doc = loadFixture<never>('gguf-llama.json') as unknown as { files: Record<string, FileDoc>; test_metadata: Record<string, unknown> };

/** A GGUF file assembled by hand: header, raw metadata/tensor-info bytes, data. */
function handMade(parts: { version?: number; kv?: Uint8Array[]; infos?: Uint8Array[]; data?: number; tensorCount?: number }): Uint8Array {
  const out: number[] = [];
  const u32 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  const u64 = (v: number) => (u32(v), u32(0));
  out.push(0x47, 0x47, 0x55, 0x46);
  u32(parts.version ?? 3);
  u64(parts.tensorCount ?? parts.infos?.length ?? 0);
  u64(parts.kv?.length ?? 0);
  for (const b of [...(parts.kv ?? []), ...(parts.infos ?? [])]) out.push(...b);
  while (out.length % 32) out.push(0);
  for (let i = 0; i < (parts.data ?? 0); i++) out.push(0);
  return Uint8Array.from(out);
}

const enc = new TextEncoder();
function str(s: string): number[] {
  const b = enc.encode(s);
  return [b.length, 0, 0, 0, 0, 0, 0, 0, ...b];
}
const u32b = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const kv = (key: string, type: number, value: number[]): Uint8Array => Uint8Array.from([...str(key), ...u32b(type), ...value]);
const info = (name: string, dims: number[], type: number, offset: number): Uint8Array =>
  Uint8Array.from([...str(name), ...u32b(dims.length), ...dims.flatMap((d) => [...u32b(d), 0, 0, 0, 0]), ...u32b(type), ...u32b(offset), 0, 0, 0, 0]);

describe('GGUF reader', () => {
  it('opens a file larger than 2 GiB (one Node buffer) and reads a tensor beyond 2 GiB', () => {
    // a sparse file: 'big' (2.2 GB of zeros, never written) then 'small' at data offset 2.2e9
    const big = 550_000_000;
    const header = handMade({ infos: [info('big', [big], 0, 0), info('small', [8], 0, big * 4)] });
    const dir = mkdtempSync(join(tmpdir(), 'attn-gguf-big-'));
    try {
      const path = join(dir, 'big.gguf');
      const small = Float32Array.from([1.5, -2, 3.25, 0, 1e-3, 7, -8, 65504]);
      const fd = openSync(path, 'w');
      try {
        writeSync(fd, header, 0, header.length, 0);
        writeSync(fd, new Uint8Array(small.buffer), 0, 32, header.length + big * 4);
      } finally {
        closeSync(fd);
      }
      assert.ok(statSync(path).size > 2 ** 31);
      const file = readGguf(path);
      assert.equal(file.byteLength, header.length + big * 4 + 32);
      assert.deepEqual(file.keys(), ['big', 'small']);
      assert.deepEqual(Array.from(file.get('small').toTypedArray()), Array.from(small));
      assert.deepEqual(Array.from(file.tensorBytes('small')), Array.from(new Uint8Array(small.buffer)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses a header longer than the first read (metadata of several MiB) from a file', () => {
    const words = Array.from({ length: 200_000 }, (_, i) => `token-${i}-${'x'.repeat(i % 13)}`);
    const bytes = serializeGguf({ metadata: [['general.architecture', gguf.str('llama')], ['tokens', gguf.strings(words)]], tensors: [['t', tensor([1, 2, 3, 4])]] });
    assert.ok(bytes.length > 3 * (1 << 20), 'the header should outgrow the first 1 MiB read twice');
    const dir = mkdtempSync(join(tmpdir(), 'attn-gguf-meta-'));
    try {
      const path = join(dir, 'meta.gguf');
      writeGguf(path, { metadata: [['general.architecture', gguf.str('llama')], ['tokens', gguf.strings(words)]], tensors: [['t', tensor([1, 2, 3, 4])]] });
      const file = readGguf(path);
      assert.deepEqual(file.value('tokens'), words);
      assert.deepEqual(file.get('t').toArray(), [1, 2, 3, 4]);
      // cut inside the metadata: the error names the item and the file's end, not the prefix's
      const cut = join(dir, 'cut.gguf');
      const fd = openSync(cut, 'w');
      try {
        writeSync(fd, bytes, 0, 2_500_000, 0);
      } finally {
        closeSync(fd);
      }
      assert.throws(() => readGguf(cut), /^AttnError: .*cut\.gguf: metadata 'tokens'\[\d+\] length \d+ is larger than the rest of the file allows \(at byte 24999\d\d\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the reference files: version, alignment, data offset and every tensor info', () => {
    for (const [label, f] of Object.entries(doc.files)) {
      const file = readGguf(join(FIXTURES, f.path));
      assert.equal(file.version, 3);
      assert.equal(file.alignment, f.alignment, `${label}: alignment`);
      assert.equal(file.dataStart, f.data_start, `${label}: data section offset`);
      assert.deepEqual(
        file.tensorInfos.map((t) => ({ name: t.name, type: t.typeName, shape: t.shape, offset: t.offset, nbytes: t.nbytes })),
        f.tensors, `${label}: tensor infos`,
      );
    }
  });

  it('reads metadata of every value type, arrays (of arrays) included, with their types', () => {
    const file = readGguf(join(FIXTURES, doc.files['f32']!.path));
    const expectTypes: Record<string, string> = {
      'test.u8': 'uint8', 'test.i8': 'int8', 'test.u16': 'uint16', 'test.i16': 'int16', 'test.u32': 'uint32', 'test.i32': 'int32',
      'test.f32': 'float32', 'test.bool': 'bool', 'test.string': 'string', 'test.u64': 'uint64', 'test.i64': 'int64', 'test.f64': 'float64',
    };
    for (const [key, expected] of Object.entries(doc.test_metadata)) {
      const v = file.metadata.get(key)!;
      assert.ok(v, `${key} present`);
      if (expectTypes[key]) assert.equal(v.type, expectTypes[key], `${key}: type`);
      if (v.type === 'uint64' || v.type === 'int64') assert.equal(v.value, BigInt(expected as string), key);
      else assert.deepEqual(file.value(key), expected, key);
    }
    // a u64 beyond 2^53 stays exact (a bigint) in the plain view too
    assert.equal(file.value('test.u64'), 2n ** 53n + 2n);
    assert.equal(file.value('test.i64'), -(2 ** 40));
    const nested = file.metadata.get('test.array.nested')!;
    assert.ok(nested.type === 'array' && nested.itemType === 'array');
    assert.deepEqual(nested.value.map((a) => a.itemType), ['int16', 'uint64']);
    assert.equal(file.value('llama.attention.layer_norm_rms_epsilon'), Math.fround(1e-6));
  });

  it('serialises the metadata and tensors it read back to the same bytes (f32, q8_0 with alignment 64, q4_0)', () => {
    for (const [label, f] of Object.entries(doc.files)) {
      const original = new Uint8Array(readFileSync(join(FIXTURES, f.path)));
      const file = new GgufFile(original, f.path);
      const bytes = serializeGguf({
        metadata: file.metadata,
        tensors: file.keys().map((n) => [n, file.get(n)] as const),
        alignment: file.alignment,
      });
      assert.equal(bytes.length, original.length, `${label}: length`);
      assert.ok(Buffer.compare(Buffer.from(bytes), Buffer.from(original)) === 0, `${label}: bytes differ`);
    }
  });

  it('F16 / BF16 tensors keep their storage dtype; float32 on request', () => {
    const q8 = readGguf(join(FIXTURES, doc.files['q8_0']!.path));
    const down = q8.get('blk.0.ffn_down.weight');
    assert.equal(down.dtype, 'float16');
    assert.deepEqual(q8.get('blk.0.ffn_down.weight', { dtype: 'float32' }).toArray(), down.to('float32').toArray());
    assert.equal(readGguf(join(FIXTURES, doc.files['q4_0']!.path)).get('blk.1.ffn_down.weight').dtype, 'bfloat16');
    assert.equal(q8.get('blk.0.attn_q.weight').dtype, 'int8');
  });

  it('refuses malformed files, naming the problem', () => {
    const src = 'bad.gguf';
    const cases: [string, Uint8Array, RegExp][] = [
      ['short', new Uint8Array(10), /bad.gguf: file is 10 bytes, shorter than the 24-byte GGUF header/],
      ['magic', Uint8Array.from([...enc.encode('GGML'), ...new Array(20).fill(0)]), /not a GGUF file: magic is 'GGML', expected 'GGUF'/],
      ['version 1', handMade({ version: 1 }), /GGUF version 1 \(32-bit counts\) is not supported/],
      ['version 4', handMade({ version: 4 }), /GGUF version 4 is not supported \(2, 3\)/],
      ['value type', handMade({ kv: [kv('a', 13, [0])] }), /metadata 'a' type: unknown value type 13/],
      ['duplicate key', handMade({ kv: [kv('a', 4, u32b(1)), kv('a', 4, u32b(2))] }), /metadata key 'a' appears twice/],
      ['bool', handMade({ kv: [kv('b', 7, [2])] }), /metadata 'b': bool byte is 2, expected 0 or 1/],
      ['truncated string', handMade({ kv: [Uint8Array.from([...str('k'), ...u32b(8), 200, 0, 0, 0, 0, 0, 0, 0])] }), /metadata 'k' length 200 is larger than the rest of the file allows/],
      ['alignment', handMade({ kv: [kv('general.alignment', 4, u32b(48))] }), /general.alignment 48 is not a power of two/],
      ['misaligned offset', handMade({ infos: [info('t', [4], 0, 8)], data: 64 }), /tensor 't' offset 8 is not a multiple of the alignment 32/],
      ['out of bounds', handMade({ infos: [info('t', [64], 0, 0)], data: 32 }), /tensor 't' \(F32, shape \[64\]\) needs bytes \[0, 256\) of the data section, which has 32/],
      ['unknown ggml type', handMade({ infos: [info('t', [4], 99, 0)], data: 32 }), /tensor 't' has unknown ggml type 99/],
      ['block', handMade({ infos: [info('t', [48], 8, 0)], data: 64 }), /tensor 't' \(Q8_0, shape \[48\]\): rows of 48 elements are not a multiple of the block size 32/],
      ['overlap', handMade({ infos: [info('a', [16], 0, 0), info('b', [16], 0, 32)], data: 128 }), /tensors 'a' and 'b' overlap/],
      ['dims', handMade({ infos: [info('t', [1, 1, 1, 1, 1], 0, 0)], data: 32 }), /tensor 't' has 5 dimensions \(at most 4\)/],
      ['count', handMade({ tensorCount: 1 }), /tensor count 1 is larger than the rest of the file allows/],
    ];
    for (const [what, bytes, re] of cases) assert.throws(() => new GgufFile(bytes, src), re, what);
    const q4k = new GgufFile(handMade({ infos: [info('t', [256], 12, 0)], data: 160 }), src);
    assert.throws(() => q4k.get('t'), /tensor 't' has ggml type Q4_K, which attn does not read \(F32, F16, BF16, Q8_0, Q4_0\)/);
    assert.throws(() => q4k.get('u'), /bad.gguf: no tensor named 'u'/);
  });
});

describe('GGUF writer', () => {
  it('round-trips metadata and tensors of every supported type; the file is written atomically', () => {
    const g = new Generator(3);
    const w = randn([4, 64], { generator: g });
    const tensors: [string, ReturnType<typeof randn>][] = [
      ['f32', randn([3, 5], { generator: g })], ['f16', w.to('float16')], ['bf16', w.to('bfloat16')],
      ['q8', quantizeInt8(w, { blockSize: 32, scaleFormat: 'float16' })], ['q4', quantizeInt4(w)], ['vec', tensor([1, 2, 3])],
    ];
    const metadata: [string, GgufMetadataValue][] = [
      ['general.architecture', gguf.str('llama')], ['n', gguf.u32(7)], ['big', gguf.u64(2n ** 60n)], ['names', gguf.strings(['x', 'ÿ', '\ufeffkept BOM'])],
      ['nested', { type: 'array', itemType: 'array', value: [{ type: 'array', itemType: 'bool', value: [true] }] }],
    ];
    const dir = mkdtempSync(join(tmpdir(), 'attn-gguf-'));
    try {
      const path = join(dir, 'm.gguf');
      writeGguf(path, { metadata, tensors, alignment: 128 });
      assert.deepEqual(readdirSync(dir), ['m.gguf'], 'no temporary file left behind');
      const file = readGguf(path);
      assert.equal(file.alignment, 128);
      assert.equal(file.value('general.alignment'), 128);
      assert.equal(file.value('big'), 2n ** 60n);
      assert.deepEqual(file.value('names'), ['x', 'ÿ', '\ufeffkept BOM'], 'a leading U+FEFF is part of the string');
      assert.deepEqual(file.value('nested'), [[true]]);
      for (const [name, t] of tensors) {
        const back = file.get(name);
        assert.equal(back.dtype, t.dtype, name);
        assert.deepEqual(back.to('float32').toArray(), t.to('float32').toArray(), name);
        assert.equal(file.info(name).offset % 128, 0);
      }
      assert.deepEqual(file.tensorInfos.map((t) => t.typeName), ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'F32']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what GGUF cannot hold, naming the tensor or key', () => {
    const w = randn([2, 64], { generator: new Generator(4) });
    const write = (tensors: [string, ReturnType<typeof randn>][], metadata: [string, GgufMetadataValue][] = []) => serializeGguf({ metadata, tensors });
    assert.throws(() => write([['w', quantizeInt8(w, { blockSize: 32 })]]), /tensor 'w': block 0 has scale .*, which float16 cannot hold exactly \(quantize with scaleFormat: 'float16'\)/);
    assert.throws(() => write([['w', quantizeInt8(w, { blockSize: 64, scaleFormat: 'float16' })]]), /tensor 'w': int8 with blocks of 64 cannot be written as Q8_0 \(blocks of 32\)/);
    assert.throws(() => write([['w', w.to('float64')]]), /tensor 'w': dtype float64 has no GGUF type here/);
    assert.throws(() => write([['w', w], ['w', w]]), /tensor 'w' is given twice/);
    assert.throws(() => write([], [['k', gguf.u8(300)]]), /metadata 'k': 300 is not a uint8/);
    assert.throws(() => write([], [['k', gguf.u32(1)], ['k', gguf.u32(2)]]), /metadata key 'k' is given twice/);
    assert.throws(() => serializeGguf({ metadata: [], tensors: [], alignment: 24 }), /alignment 24 is not a power of two/);
  });
});
