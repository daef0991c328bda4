/** Every shape, dtype or axis error names the op and the operands. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as A from '../../src/index.js';
import { tensor, zeros, arange, setBackend, getBackend } from '../../src/index.js';

const f = (shape: number[]) => zeros(shape);

describe('error messages', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['matmul inner', () => A.matmul(f([2, 3]), f([4, 5])), /^matmul: \[2,3\] @ \[4,5\]: inner dimensions differ \(3 vs 4\)$/],
    ['matmul batch', () => A.matmul(f([2, 2, 3]), f([3, 3, 4])), /^matmul: \[2,2,3\] @ \[3,3,4\]: batch dimensions cannot be broadcast$/],
    ['matmul scalar', () => A.matmul(zeros([]), f([2])), /^matmul: \[\] @ \[2\]: both operands need at least 1 dimension$/],
    ['broadcast', () => A.add(f([2, 3]), f([4])), /^add: shapes \[2,3\] and \[4\] cannot be broadcast \(dimension 1: 3 vs 4\)$/],
    ['reshape', () => f([2, 3]).reshape(4, 2), /^reshape: cannot reshape \[2,3\] \(6 elements\) to \[4,2\] \(8 elements\)$/],
    ['reshape -1', () => f([2, 3]).reshape(-1, 4), /^reshape: cannot reshape \[2,3\] \(6 elements\) to \[-1,4\]$/],
    ['axis', () => A.sum(f([2, 3]), 2), /^sum: axis 2 is out of range for a tensor with 2 dimensions$/],
    ['softmax axis', () => A.softmax(f([2, 3]), -3), /^softmax: axis -3 is out of range for a tensor with 2 dimensions$/],
    ['permute', () => f([2, 3]).permute(0, 0), /^permute: dims \[0,0\] repeat an axis$/],
    ['expand', () => f([2, 3]).expand(4, 3), /^expand: cannot expand \[2,3\] to \[4,3\] \(dimension 0: 2 vs 4\)$/],
    ['concat', () => A.concat([f([2, 3]), f([3, 3])], 1), /^concat: tensor 1 has shape \[3,3\], which does not match \[2,3\] outside dimension 1$/],
    ['gather index dtype', () => A.gather(f([2, 3]), 1, f([2, 1])), /^gather: index must be int32, got float32$/],
    ['gather range', () => A.gather(f([2, 3]), 1, tensor([[3], [0]], { dtype: 'int32' })), /^gather: index 3 is out of range for dimension 1 of size 3$/],
    ['indexSelect range', () => A.embedding(f([4, 2]), tensor([4], { dtype: 'int32' })), /^indexSelect: index 4 is out of range for dimension 0 of size 4$/],
    ['where cond', () => A.where(f([2]), 1, f([2])), /^where: condition must be bool, got float32$/],
    ['cross entropy shapes', () => A.crossEntropy(f([4, 5]), tensor([1, 2], { dtype: 'int32' })), /^crossEntropy: logits \[4,5\] and targets \[2\] do not match: expected targets of shape \[4\]$/],
    ['cross entropy target', () => A.crossEntropy(f([2, 5]), tensor([1, 5], { dtype: 'int32' })), /^crossEntropy: target 5 is out of range for 5 classes$/],
    ['cross entropy dtype', () => A.crossEntropy(f([2, 5]), f([2])), /^crossEntropy: targets must be int32 class ids, got float32$/],
    ['layerNorm weight', () => A.layerNorm(f([2, 4]), { weight: f([5]) }), /^layerNorm: weight has shape \[5\], expected \[4\] \(the last dimension of \[2,4\]\)$/],
    ['dropout p', () => A.dropout(f([2]), 1.5), /^dropout: probability must be in \[0, 1\], got 1.5$/],
    ['item', () => f([2]).item(), /^item: only one-element tensors can be converted to a number, got shape \[2\]$/],
    ['int softmax', () => A.softmax(arange(3)), /^softmax: needs a float tensor, got int32$/],
    ['split sizes', () => A.split(f([5]), [2, 2]), /^split: sizes \[2,2\] sum to 4, but dimension 0 of \[5\] has 5$/],
    ['pad', () => A.pad(f([2]), 0, -1, 0), /^pad: padding must be non-negative integers, got -1, 0$/],
    ['dtype', () => f([2]).to('float8' as 'float32'), /^to: unknown dtype 'float8'$/],
  ];
  for (const [name, fn, re] of cases) {
    it(name, () => {
      assert.throws(fn, (e: Error) => {
        assert.ok(e instanceof A.AttnError, `not an AttnError: ${e}`);
        assert.match(e.message, re);
        return true;
      });
    });
  }

  it('use after dispose is an error, not garbage', () => {
    const t = tensor([1, 2]);
    t.dispose();
    assert.throws(() => A.add(t, 1), (e: Error) => e.message === 'add: a tensor of shape [2] was used after dispose()');
  });

  it('no backend registered is explained', () => {
    const b = getBackend();
    try {
      setBackend(null as never);
      assert.throws(() => A.add(tensor([1]), 1), /backend: no backend is registered/);
    } finally {
      setBackend(b);
    }
  });
});

describe('non-finite handling matches PyTorch', () => {
  it('softmax with some -inf entries gives exact zeros there and no NaN', () => {
    for (const fused of [true, false]) {
      const run = () => A.softmax(tensor([[0, -Infinity, 1], [-Infinity, 2, -Infinity]]));
      const y = (fused ? run() : A.withoutFused(run)).toArray<number[][]>();
      assert.equal(y[0]![1], 0);
      assert.deepEqual(y[1], [0, 1, 0]);
      assert.ok(y.flat().every(Number.isFinite));
    }
  });

  it('a fully masked row gives NaN, as torch.softmax does', () => {
    const y = A.softmax(tensor([[-Infinity, -Infinity]])).toArray<number[][]>();
    assert.ok(y[0]!.every(Number.isNaN));
  });

  it('logsumexp of an all -inf row is -inf; log_softmax stays finite for large logits', () => {
    assert.equal(A.logsumexp(tensor([[-Infinity, -Infinity]]), 1).item(), -Infinity);
    const l = A.logSoftmax(tensor([[1000, 0, -1000]])).toArray<number[][]>()[0]!;
    assert.equal(l[0], 0);
    assert.ok(l.every(Number.isFinite));
  });

  it('cross-entropy of huge logits is finite; -inf on a non-target class is fine', () => {
    for (const fused of [true, false]) {
      const run = () => A.crossEntropy(tensor([[1e4, -1e4, 0], [0, -Infinity, 1]]).requiresGrad_(), tensor([1, 2], { dtype: 'int32' }));
      const loss = fused ? run() : A.withoutFused(run);
      assert.ok(Math.abs(loss.item() - (2e4 + Math.log1p(Math.exp(-1))) / 2) < 1e-2, `${loss.item()}`);
    }
  });

  it('sigmoid saturates without overflow', () => {
    assert.deepEqual(A.sigmoid(tensor([-1000, 1000])).toArray(), [0, 1]);
  });
});
