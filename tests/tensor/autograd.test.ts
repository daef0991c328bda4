import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { add, backward, cast, exp, matmul, mul, noGrad, isGradEnabled, sum, tensor, ones, where, compare, max } from '../../src/index.js';

describe('autograd', () => {
  it('chain rule through a small graph with a shared input', () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    const y = sum(mul(x, x)); // d/dx = 2x
    const z = add(y, sum(mul(x, 3))); // + 3
    z.backward();
    assert.deepEqual(x.grad!.toArray(), [5, 7, 9]);
  });

  it('gradients accumulate across backward calls until zeroed', () => {
    const w = tensor([2, -1]).requiresGrad_();
    sum(mul(w, w)).backward();
    sum(mul(w, w)).backward();
    assert.deepEqual(w.grad!.toArray(), [8, -4]);
    w.zeroGrad();
    assert.equal(w.grad, null);
    sum(w).backward();
    assert.deepEqual(w.grad!.toArray(), [1, 1]);
  });

  it('backward of a non-scalar needs a supplied gradient', () => {
    const x = tensor([[1, 2], [3, 4]]).requiresGrad_();
    const y = mul(x, 2);
    assert.throws(() => y.backward(), /backward: a gradient can be created implicitly only for a scalar output; got shape \[2,2\]/);
    y.backward(tensor([[1, 0], [0, 10]]));
    assert.deepEqual(x.grad!.toArray(), [[2, 0], [0, 20]]);
    assert.throws(() => mul(x, 2).backward(ones([3])), /backward: gradient shape \[3\] does not match output shape \[2,2\]/);
  });

  it('the graph is freed after backward unless retained', () => {
    const x = tensor([1, 2]).requiresGrad_();
    const y = sum(exp(x));
    y.backward();
    assert.equal(y.gradFn!.freed, true);
    assert.throws(() => y.backward(), /backward: trying to backward through the graph a second time \(op \w+\); pass \{ retainGraph: true \}/);
    const z = sum(exp(x));
    x.zeroGrad();
    z.backward(undefined, { retainGraph: true });
    z.backward();
    assert.ok(Math.abs(x.grad!.toArray<number[]>()[0]! - 2 * Math.E) < 1e-5);
  });

  it('noGrad records nothing; detach cuts the graph', () => {
    const x = tensor([1, 2]).requiresGrad_();
    const y = noGrad(() => {
      assert.equal(isGradEnabled(), false);
      return mul(x, 2);
    });
    assert.equal(isGradEnabled(), true);
    assert.equal(y.requiresGrad, false);
    assert.equal(y.gradFn, null);
    const d = mul(x, 2).detach();
    assert.equal(d.requiresGrad, false);
    assert.equal(d.storage, d.storage);
    const z = sum(mul(x, mul(x, 3).detach())); // d/dx = 3x (detached factor is constant)
    z.backward();
    assert.deepEqual(x.grad!.toArray(), [3, 6]);
  });

  it('only float leaves can require grad; ints and bools pass no gradient', () => {
    assert.throws(() => tensor([1], { dtype: 'int32' }).requiresGrad_(), /requiresGrad: only float tensors can require gradients, got int32/);
    const x = tensor([1, -2, 3]).requiresGrad_();
    const m = compare('gt', x, 0);
    assert.equal(m.requiresGrad, false);
    sum(where(m, x, 0)).backward();
    assert.deepEqual(x.grad!.toArray(), [1, 0, 1]);
  });

  it('retainGrad keeps the gradient of an intermediate', () => {
    const x = tensor([1, 2]).requiresGrad_();
    const h = mul(x, 3).retainGrad();
    sum(mul(h, h)).backward();
    assert.deepEqual(h.grad!.toArray(), [6, 12]);
    assert.deepEqual(x.grad!.toArray(), [18, 36]);
  });

  it('cast passes gradients back in the source dtype', () => {
    const x = tensor([1, 2], { dtype: 'float64' }).requiresGrad_();
    sum(mul(cast(x, 'float32'), 2)).backward();
    assert.equal(x.grad!.dtype, 'float64');
    assert.deepEqual(x.grad!.toArray(), [2, 2]);
  });

  it('broadcast gradients are summed back to the operand shape', () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]).requiresGrad_();
    const b = tensor([10, 20, 30]).requiresGrad_();
    const w = tensor([[1, 0, 0], [0, 1, 1]]);
    backward(sum(mul(add(a, b), w)));
    assert.deepEqual(b.grad!.toArray(), [1, 1, 1]);
    assert.deepEqual(a.grad!.toArray(), [[1, 0, 0], [0, 1, 1]]);
  });

  it('max routes the gradient to the first maximal element', () => {
    const x = tensor([[1, 5, 5], [7, 0, 2]]).requiresGrad_();
    sum(max(x, 1)).backward();
    assert.deepEqual(x.grad!.toArray(), [[0, 1, 0], [1, 0, 0]]);
  });

  it('matmul gradients match the closed form', () => {
    const a = tensor([[1, 2], [3, 4]]).requiresGrad_();
    const b = tensor([[5], [6]]).requiresGrad_();
    sum(matmul(a, b)).backward();
    assert.deepEqual(a.grad!.toArray(), [[5, 6], [5, 6]]);
    assert.deepEqual(b.grad!.toArray(), [[4], [6]]);
  });
});
