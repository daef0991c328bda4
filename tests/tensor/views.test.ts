import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { arange, tensor, add, mul, sum, concat, split, stack } from '../../src/index.js';

describe('views share storage and compute the right strides', () => {
  it('reshape of a contiguous tensor is a view', () => {
    const x = arange(24).to('float32');
    const y = x.reshape(2, 3, 4);
    assert.equal(y.storage, x.storage);
    assert.deepEqual(y.strides, [12, 4, 1]);
    assert.deepEqual(x.reshape(-1, 6).shape, [4, 6]);
  });

  it('permute and transpose swap strides without copying', () => {
    const x = arange(24).reshape(2, 3, 4);
    const p = x.permute(2, 0, 1);
    assert.equal(p.storage, x.storage);
    assert.deepEqual(p.shape, [4, 2, 3]);
    assert.deepEqual(p.strides, [1, 12, 4]);
    assert.equal(p.isContiguous, false);
    assert.deepEqual(x.transpose(0, 2).toArray(), p.permute(0, 2, 1).toArray());
    assert.deepEqual(arange(6).reshape(2, 3).mT.toArray(), [[0, 3], [1, 4], [2, 5]]);
  });

  it('view() of a compatible non-contiguous layout avoids a copy; reshape copies otherwise', () => {
    const x = arange(24).reshape(2, 3, 4);
    const sliced = x.slice(0, 1, 2); // [1,3,4] at offset 12, contiguous in its own dims
    assert.equal(sliced.view_(12).storage, x.storage);
    const t = x.transpose(1, 2); // [2,4,3]: merging the last two dims needs a copy
    assert.throws(() => t.view_(2, 12), /view: cannot view \[2,4,3\] with strides \[12,1,4\] as \[2,12\]/);
    const r = t.reshape(2, 12);
    assert.notEqual(r.storage, x.storage);
    assert.deepEqual(r.toArray<number[][]>()[0], [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    // splitting a dimension of a transposed view is still a view
    assert.equal(t.view_(2, 2, 2, 3).storage, x.storage);
  });

  it('slice/narrow select a window at an offset', () => {
    const x = arange(12).reshape(3, 4);
    const s = x.slice(1, 1, 3);
    assert.equal(s.storage, x.storage);
    assert.equal(s.offset, 1);
    assert.deepEqual(s.toArray(), [[1, 2], [5, 6], [9, 10]]);
    assert.deepEqual(x.narrow(0, 1, 2).toArray(), [[4, 5, 6, 7], [8, 9, 10, 11]]);
    assert.deepEqual(x.slice(1, -1).toArray(), [[3], [7], [11]]);
  });

  it('expand broadcasts with stride 0', () => {
    const x = tensor([[1], [2]]);
    const e = x.expand(2, 3);
    assert.deepEqual(e.strides, [1, 0]);
    assert.deepEqual(e.toArray(), [[1, 1, 1], [2, 2, 2]]);
    assert.deepEqual(tensor([1, 2, 3]).expand(2, -1).toArray(), [[1, 2, 3], [1, 2, 3]]);
  });

  it('contiguous() copies a permuted view into row-major order', () => {
    const x = arange(6).reshape(2, 3).mT;
    const c = x.contiguous();
    assert.notEqual(c.storage, x.storage);
    assert.equal(c.isContiguous, true);
    assert.deepEqual([...c.toTypedArray()], [0, 3, 1, 4, 2, 5]);
    const already = arange(4);
    assert.equal(already.contiguous(), already);
  });

  it('ops read non-contiguous and broadcast operands correctly', () => {
    const a = arange(6).to('float32').reshape(2, 3).mT; // [3,2]
    const b = tensor([10, 20]);
    assert.deepEqual(add(a, b).toArray(), [[10, 23], [11, 24], [12, 25]]);
    assert.deepEqual(sum(mul(a, a), 0).toArray(), [0 + 1 + 4, 9 + 16 + 25]);
  });

  it('unsqueeze, squeeze, flatten', () => {
    const x = arange(6).reshape(2, 3);
    assert.deepEqual(x.unsqueeze(0).shape, [1, 2, 3]);
    assert.deepEqual(x.unsqueeze(-1).shape, [2, 3, 1]);
    assert.deepEqual(x.unsqueeze(1).squeeze().shape, [2, 3]);
    assert.deepEqual(x.reshape(1, 2, 1, 3).squeeze(2).shape, [1, 2, 3]);
    assert.deepEqual(arange(24).reshape(2, 3, 4).flatten(1).shape, [2, 12]);
  });

  it('concat, split and stack round-trip', () => {
    const x = arange(12).reshape(3, 4);
    const parts = split(x, [1, 3], 1);
    assert.deepEqual(parts.map((p) => p.shape), [[3, 1], [3, 3]]);
    assert.deepEqual(concat(parts, 1).toArray(), x.toArray());
    assert.deepEqual(stack([x, x], 0).shape, [2, 3, 4]);
    assert.deepEqual(split(arange(5), 2).map((p) => p.toArray()), [[0, 1], [2, 3], [4]]);
  });
});
