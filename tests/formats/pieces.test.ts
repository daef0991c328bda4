// Streamed file writes: GGUF and safetensors files written piece by piece (never whole in
// memory), byte-identical to the one-buffer serialisers, and atomic when a piece fails.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  MAX_BUFFER_BYTES, ggufPieces, gguf, joinPieces, quantizeInt4, quantizeInt8, randn, safetensorsPieces, serializeGguf,
  serializeSafetensors, writeFileAtomic, writeGguf, writeSafetensors, Generator,
} from '../../src/index.js';
import { tempDir } from '../helpers.js';

describe('streamed file writes', () => {
  const g = new Generator(5);
  const w = randn([8, 64], { generator: g });
  const tensors: [string, ReturnType<typeof randn>][] = [
    ['a.f32', randn([3, 5], { generator: g })], ['b.q8', quantizeInt8(w, { blockSize: 32, scaleFormat: 'float16' })],
    ['c.q4', quantizeInt4(w, { blockSize: 32, scaleFormat: 'float16' })], ['d.f16', randn([7], { generator: g }).to('float16')],
    ['e.t', randn([4, 6], { generator: g }).transpose(0, 1)],
  ];
  const metadata: [string, ReturnType<typeof gguf.u32>][] = [['general.architecture', gguf.str('test')], ['x.count', gguf.u32(7)]];

  it('writeGguf streams the bytes serializeGguf makes, its layout size exact', () => {
    const dir = tempDir('attn-pieces-');
    for (const alignment of [32, 64]) {
      const opts = { metadata, tensors, alignment };
      const whole = serializeGguf(opts);
      const layout = ggufPieces(opts);
      assert.equal(layout.byteLength, whole.length);
      const pieces = [...layout.pieces()];
      assert.equal(pieces.length > tensors.length, true, 'a piece per tensor after the header');
      const path = join(dir, `m${alignment}.gguf`);
      assert.equal(writeGguf(path, opts), whole.length);
      assert.deepEqual(readFileSync(path), Buffer.from(whole));
    }
  });

  it('writeSafetensors streams the bytes serializeSafetensors makes', () => {
    const dir = tempDir('attn-pieces-');
    const st = Object.fromEntries([['x', randn([3, 4], { generator: g })], ['y', randn([5], { generator: g }).to('bfloat16')], ['z', randn([2, 3], { generator: g }).transpose(0, 1)]]);
    const whole = serializeSafetensors(st, { metadata: { format: 'pt' } });
    assert.equal(safetensorsPieces(st, { metadata: { format: 'pt' } }).byteLength, whole.length);
    const path = join(dir, 'm.safetensors');
    writeSafetensors(path, st, { metadata: { format: 'pt' } });
    assert.deepEqual(readFileSync(path), Buffer.from(whole));
  });

  it('a piece that fails leaves neither the file nor its temporary', () => {
    const dir = tempDir('attn-pieces-');
    const path = join(dir, 'out.bin');
    function* pieces(): Iterable<Uint8Array> {
      yield new Uint8Array(1000).fill(1);
      throw new Error('tensor 2 could not be converted');
    }
    assert.throws(() => writeFileAtomic(path, pieces()), /tensor 2 could not be converted/);
    assert.equal(existsSync(path), false);
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(writeFileAtomic(path, [new Uint8Array([1, 2]), new Uint8Array([3])]), 3);
    assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
  });

  it('one buffer past what a typed array holds is refused with the streaming writer named', () => {
    const huge = { byteLength: MAX_BUFFER_BYTES + 1, pieces: () => [] };
    assert.throws(() => joinPieces(huge, 'serializeGguf'), /serializeGguf: the file would be 4294967297 bytes, more than one buffer holds .*writeGguf/);
  });
});
