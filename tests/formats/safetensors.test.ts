/**
 * safetensors: reading files from an independent writer (scripts/reference/safetensors_files.py),
 * byte-identical serialisation of the same tensors, round trips, atomic writes, sharded
 * checkpoints, and one test per header error.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  SafetensorsFile, ShardedSafetensors, parseSafetensorsIndex, parseSafetensorsHeader, readSafetensors, readSafetensorsIndex, serializeSafetensors,
  tensor, writeSafetensors, randn, Generator, type Tensor,
} from '../../src/index.js';
import { FIXTURES, loadFixture, tempDir } from '../helpers.js';

interface RefTensor { dtype: string; shape: number[]; values: number[] }
const doc = loadFixture<never>('safetensors-reference.json') as unknown as {
  metadata: Record<string, string>;
  order: string[];
  tensors: Record<string, RefTensor>;
  unaligned: Record<string, RefTensor>;
  i64: Record<string, RefTensor>;
};

const ATTN_DTYPE: Record<string, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int32', I32: 'int32', F64: 'float64', BOOL: 'bool' };

function values(t: Tensor): number[] {
  const f = t.dtype === 'float16' || t.dtype === 'bfloat16' ? t.to('float32') : t;
  return Array.from(f.toTypedArray());
}

/** Builds a file from a header object and a data buffer of `dataBytes` zero bytes. */
function fileWith(header: unknown, dataBytes: number, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

const tmp = tempDir('attn-safetensors-');

describe('safetensors: files larger than one buffer', () => {
  it('opens a file larger than 2 GiB and reads a tensor beyond 2 GiB', () => {
    // a sparse file: 'big' (2.2 GB of zeros, never written) then 'small'
    const big = 550_000_000;
    const header = fileWith({
      big: { dtype: 'F32', shape: [big], data_offsets: [0, big * 4] },
      small: { dtype: 'F16', shape: [4], data_offsets: [big * 4, big * 4 + 8] },
    }, 0);
    const path = join(tmp, 'big.safetensors');
    const small = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001]); // 1, -2, 65504, 2^-24
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, header, 0, header.length, 0);
      writeSync(fd, new Uint8Array(small.buffer), 0, 8, header.length + big * 4);
    } finally {
      closeSync(fd);
    }
    assert.ok(statSync(path).size > 2 ** 31);
    const file = readSafetensors(path);
    assert.equal(file.byteLength, header.length + big * 4 + 8);
    assert.deepEqual(file.keys().sort(), ['big', 'small']);
    assert.deepEqual(values(file.get('small')), [1, -2, 65504, 2 ** -24]);
  });
});

describe('safetensors: files from an independent writer', () => {
  const file = readSafetensors(join(FIXTURES, 'safetensors-reference.safetensors'));

  it('reads metadata, names, dtypes, shapes and every value (F32, F16, BF16, I64, I32, F64, BOOL, empty, scalar)', () => {
    assert.deepEqual({ ...file.metadata }, doc.metadata);
    assert.deepEqual(file.keys().sort(), Object.keys(doc.tensors).sort());
    for (const [name, ref] of Object.entries(doc.tensors)) {
      const t = file.get(name);
      assert.equal(file.entry(name).dtype, ref.dtype, name);
      assert.equal(t.dtype, ATTN_DTYPE[ref.dtype], name);
      assert.deepEqual([...t.shape], ref.shape, name);
      assert.deepEqual(values(t), ref.values.map((v) => (ref.dtype === 'BOOL' ? (v ? 1 : 0) : v)), name);
    }
  });

  it('over a buffer views aligned data in place and copies misaligned data; from a file every tensor has its own buffer', () => {
    const buf = new Uint8Array(readFileSync(join(FIXTURES, 'safetensors-reference.safetensors')));
    const inMemory = new SafetensorsFile(buf);
    assert.equal(inMemory.get('model.embed_tokens.weight').storage.data.buffer, buf.buffer, 'aligned F32 tensor should view the buffer');
    const fromFile = [file.get('model.embed_tokens.weight'), file.get('model.embed_tokens.weight')];
    assert.notEqual(fromFile[0]!.storage.data.buffer, fromFile[1]!.storage.data.buffer, 'each get from a file reads its own copy');
    assert.deepEqual(values(fromFile[0]!), values(inMemory.get('model.embed_tokens.weight')));
    const unBuf = new Uint8Array(readFileSync(join(FIXTURES, 'safetensors-unaligned.safetensors')));
    const start = 8 + Number(new DataView(unBuf.buffer).getBigUint64(0, true));
    assert.notEqual(start % 4, 0, 'fixture should be misaligned');
    const un = new SafetensorsFile(unBuf);
    const unFile = readSafetensors(join(FIXTURES, 'safetensors-unaligned.safetensors'));
    for (const [name, ref] of Object.entries(doc.unaligned)) {
      assert.deepEqual(values(un.get(name)), ref.values, name);
      assert.deepEqual(values(unFile.get(name)), ref.values, `${name} (from the file)`);
    }
    assert.notEqual(un.get('a').storage.data.buffer, unBuf.buffer);
  });

  it('serialises the same tensors to byte-identical output', () => {
    const tensors = new Map<string, Tensor>(file.keys().map((k) => [k, file.get(k)]));
    const ours = serializeSafetensors(tensors, { metadata: doc.metadata });
    const theirs = new Uint8Array(readFileSync(join(FIXTURES, 'safetensors-reference.safetensors')));
    assert.equal(ours.length, theirs.length);
    assert.ok(Buffer.from(ours).equals(Buffer.from(theirs)), 'bytes differ from the reference writer');
  });

  it('reads I64 as int32 and refuses values beyond int32', () => {
    const f = readSafetensors(join(FIXTURES, 'safetensors-i64.safetensors'));
    const ref = doc.i64['position_ids']!;
    const t = f.get('position_ids');
    assert.equal(t.dtype, 'int32');
    assert.deepEqual([...t.shape], ref.shape);
    assert.deepEqual(Array.from(t.toTypedArray()), (ref.values as unknown as number[][]).flat());
    assert.throws(() => f.get('too_big'), /tensor 'too_big': I64 value 2147483648 at index 0 does not fit int32/);
  });
});

describe('safetensors: writing', () => {
  it('round-trips float32, float16, bfloat16, int32, bool and non-contiguous views', () => {
    const g = new Generator(1);
    const w = randn([3, 5], { generator: g });
    const tensors = {
      'w': w,
      'wT': w.mT, // a strided view: written in row-major order of the view
      'half': w.to('float16'),
      'halfT': w.to('float16').mT,
      'brain': w.to('bfloat16'),
      'ids': tensor([7, -2, 2147483647], { dtype: 'int32' }),
      'flags': tensor([1, 0, 1], { dtype: 'bool' }),
    };
    const back = new SafetensorsFile(serializeSafetensors(tensors, { metadata: { format: 'pt' } }));
    assert.deepEqual({ ...back.metadata }, { format: 'pt' });
    for (const [name, t] of Object.entries(tensors)) {
      const r = back.get(name);
      assert.equal(r.dtype, t.dtype, name);
      assert.deepEqual([...r.shape], [...t.shape], name);
      assert.deepEqual(values(r), values(t), name);
    }
  });

  it('writes atomically through a temporary file and reads back', () => {
    const path = join(tmp, 'model.safetensors');
    writeSafetensors(path, { a: tensor([[1, 2], [3, 4]]) });
    writeSafetensors(path, { b: tensor([5, 6, 7]) }); // replaces the first file
    assert.deepEqual(readdirSync(tmp).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left behind');
    const f = readSafetensors(path);
    assert.deepEqual(f.keys(), ['b']);
    assert.deepEqual(values(f.get('b')), [5, 6, 7]);
  });

  it('refuses dtypes safetensors cannot hold and the reserved name', () => {
    assert.throws(() => serializeSafetensors({ q: tensor([1, 2]).to('int8') }), /tensor 'q': dtype int8 has no safetensors equivalent/);
    assert.throws(() => serializeSafetensors({ __metadata__: tensor([1]) }), /'__metadata__' is reserved/);
  });
});

describe('safetensors: sharded checkpoints', () => {
  it('loads tensors through model.safetensors.index.json, opening shards on first use', () => {
    const dir = tempDir('attn-sharded-');
    writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), { 'x.weight': tensor([1, 2]), 'y.weight': tensor([3]) });
    writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), { 'z.weight': tensor([[4, 5]]) });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({
      metadata: { total_size: 16 },
      weight_map: { 'x.weight': 'model-00001-of-00002.safetensors', 'y.weight': 'model-00001-of-00002.safetensors', 'z.weight': 'model-00002-of-00002.safetensors' },
    }));
    const s = readSafetensorsIndex(join(dir, 'model.safetensors.index.json'));
    assert.deepEqual(s.keys(), ['x.weight', 'y.weight', 'z.weight']);
    assert.deepEqual(s.files(), ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    assert.deepEqual(values(s.get('z.weight')), [4, 5]);
    assert.deepEqual(values(s.get('x.weight')), [1, 2]);
    assert.throws(() => s.get('w.weight'), /no tensor named 'w.weight' in the weight_map/);
    // Shards are opened lazily, once each.
    const opened: string[] = [];
    const lazy = new ShardedSafetensors(parseSafetensorsIndex(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')), (f) => {
      opened.push(f);
      return readSafetensors(join(dir, f));
    });
    assert.deepEqual(opened, []);
    lazy.get('z.weight');
    lazy.get('z.weight');
    assert.deepEqual(opened, ['model-00002-of-00002.safetensors']);
  });

  it('names the tensor when a shard does not hold what the index promises, and validates the index', () => {
    const dir = tempDir('attn-sharded-');
    writeSafetensors(join(dir, 'a.safetensors'), { 'x.weight': tensor([1]) });
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ weight_map: { 'y.weight': 'a.safetensors' } }));
    assert.throws(() => readSafetensorsIndex(join(dir, 'index.json')).get('y.weight'), /weight_map says 'y.weight' is in a.safetensors, but that file does not hold it/);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ weight_map: { 'y.weight': '../etc/passwd' } }));
    assert.throws(() => readSafetensorsIndex(join(dir, 'bad.json')), /weight_map\['y.weight'\] must be a plain file name/);
    writeFileSync(join(dir, 'none.json'), JSON.stringify({ metadata: {} }));
    assert.throws(() => readSafetensorsIndex(join(dir, 'none.json')), /'weight_map' must be an object/);
  });
});

describe('safetensors: header validation names what is wrong', () => {
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const cases: [string, Uint8Array, RegExp][] = [
    ['a file shorter than 8 bytes', new Uint8Array(5), /file is 5 bytes, shorter than the 8-byte header length/],
    ['a header length past the end', (() => { const b = fileWith(ok, 8); new DataView(b.buffer).setBigUint64(0, 1000n, true); return b; })(), /header length 1000 runs past the end of the file/],
    ['an absurd header length', (() => { const b = fileWith(ok, 8); new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true); return b; })(), /exceeds the limit/],
    ['a header that is not JSON', fileWith(null, 0, '{"a": '), /header is not valid UTF-8 JSON/],
    ['a header that is a JSON array', fileWith([1, 2], 0), /header must be a JSON object/],
    ['non-string metadata', fileWith({ __metadata__: { n: 1 }, ...ok }, 8), /__metadata__.n must be a string, got 1/],
    ['an unknown dtype', fileWith({ a: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, 2), /tensor 'a': unsupported dtype "F8_E4M3"/],
    ['a bad shape', fileWith({ a: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, 8), /tensor 'a': shape must be an array of non-negative integers, got \[2,-1\]/],
    ['missing data_offsets', fileWith({ a: { dtype: 'F32', shape: [2] } }, 8), /tensor 'a': data_offsets must be \[begin, end\]/],
    ['end before begin', fileWith({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, 8), /tensor 'a': data_offsets \[8, 0\] end before begin/],
    ['offsets out of bounds', fileWith({ a: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 8), /tensor 'a': data_offsets \[4, 12\] out of bounds \(data buffer is 8 bytes\)/],
    ['shape x dtype size != byte length', fileWith({ a: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 8] } }, 8), /tensor 'a': shape \[2,3\] x F16 is 12 bytes but data_offsets \[0, 8\] span 8/],
    ['overlapping tensors', fileWith({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /tensor 'b': data_offsets \[4, 8\] overlap tensor 'a'/],
    ['a gap between tensors', fileWith({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, 12), /tensor 'b': data_offsets \[8, 12\] leave a gap after tensor 'a'/],
    ['a gap at the start', fileWith({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /tensor 'a': data_offsets \[4, 8\] leave a gap after the header/],
    ['trailing bytes', fileWith(ok, 12), /data buffer is 12 bytes but the tensors cover 8 \(4 trailing bytes\)/],
  ];
  for (const [what, bytes, error] of cases) {
    it(`rejects ${what}`, () => assert.throws(() => parseSafetensorsHeader(bytes, 'bad.safetensors'), error));
  }

  it('errors name the file', () => {
    assert.throws(() => new SafetensorsFile(new Uint8Array(3), 'weights/model.safetensors'), /^AttnError: weights\/model.safetensors: file is 3 bytes/);
    assert.throws(() => new SafetensorsFile(fileWith(ok, 8)).get('b'), /no tensor named 'b'/);
  });

  it('accepts a minimal valid header and an empty file with only metadata', () => {
    const f = new SafetensorsFile(fileWith(ok, 8));
    assert.deepEqual(values(f.get('a')), [0, 0]);
    assert.deepEqual(new SafetensorsFile(fileWith({ __metadata__: { k: 'v' } }, 0)).keys(), []);
  });
});


