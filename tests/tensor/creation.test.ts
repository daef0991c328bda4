import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  arange, bernoulli, eye, full, Generator, linspace, manualSeed, normal, ones, rand, randint, randn, tensor, zeros,
  fromTypedArray, mean, variance, withoutInit, uniform, LlamaConfig, LlamaForCausalLM,
} from '../../src/index.js';

describe('creation', () => {
  it('from nested arrays, numbers, typed arrays', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.equal(t.dtype, 'float32');
    assert.deepEqual(t.toArray(), [[1, 2, 3], [4, 5, 6]]);
    assert.equal(tensor(3.5).ndim, 0);
    assert.equal(tensor(3.5).item(), 3.5);
    assert.equal(tensor([true, false]).dtype, 'bool');
    assert.equal(tensor([1, 2], { dtype: 'int32' }).dtype, 'int32');
    const src = new Float32Array([1, 2, 3, 4]);
    const copied = tensor(src, { shape: [2, 2] });
    src[0] = 9;
    assert.equal(copied.toArray<number[][]>()[0]![0], 1);
    assert.equal(fromTypedArray(src, [4]).storage.data, src);
    assert.throws(() => tensor([[1, 2], [3]]), /tensor: ragged nested array/);
    assert.throws(() => fromTypedArray(new Float32Array(3), [2, 2]), /fromTypedArray: 3 values do not fill shape \[2,2\] \(4 elements\)/);
  });

  it('constants and ranges', () => {
    assert.deepEqual(zeros([2]).toArray(), [0, 0]);
    assert.deepEqual(ones([2], { dtype: 'int32' }).toArray(), [1, 1]);
    assert.deepEqual(full([2, 1], 7).toArray(), [[7], [7]]);
    assert.deepEqual(arange(4).toArray(), [0, 1, 2, 3]);
    assert.deepEqual(arange(1, 2, 0.25).toArray(), [1, 1.25, 1.5, 1.75]);
    assert.deepEqual(arange(5, 0, -2).toArray(), [5, 3, 1]);
    assert.deepEqual(linspace(0, 1, 5).toArray(), [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(eye(2).toArray(), [[1, 0], [0, 1]]);
    assert.throws(() => zeros([2, -1]), /invalid shape \[2,-1\]/);
  });

  it('seeded generators are deterministic and restorable', () => {
    const a = randn([5], { generator: new Generator(42) }).toArray();
    const b = randn([5], { generator: new Generator(42) }).toArray();
    const c = randn([5], { generator: new Generator(43) }).toArray();
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    const g = new Generator(5);
    g.normal();
    const state = g.getState();
    const next = [g.normal(), g.random(), g.nextUint32()];
    g.setState(state);
    assert.deepEqual([g.normal(), g.random(), g.nextUint32()], next);
    manualSeed(3);
    const d = rand([3]).toArray();
    manualSeed(3);
    assert.deepEqual(rand([3]).toArray(), d);
  });

  it('distributions have the right moments (n = 100000)', () => {
    const g = new Generator(9);
    const n = randn([100000], { generator: g, dtype: 'float64' });
    assert.ok(Math.abs(mean(n).item()) < 0.02);
    assert.ok(Math.abs(variance(n).item() - 1) < 0.02);
    const u = rand([100000], { generator: g, dtype: 'float64' });
    assert.ok(Math.abs(mean(u).item() - 0.5) < 0.01);
    assert.ok(Math.abs(variance(u).item() - 1 / 12) < 0.003);
    const s = normal([100000], 3, 0.5, { generator: g, dtype: 'float64' });
    assert.ok(Math.abs(mean(s).item() - 3) < 0.01);
    const ints = randint(0, 4, [10000], { generator: g }).toTypedArray();
    const counts = [0, 0, 0, 0];
    for (const v of ints) counts[v]!++;
    for (const c of counts) assert.ok(Math.abs(c - 2500) < 200, `${counts}`);
    const bits = bernoulli([10000], 0.3, { generator: g });
    assert.equal(bits.dtype, 'bool');
    const ones_ = [...bits.toTypedArray()].filter((v) => v).length;
    assert.ok(Math.abs(ones_ - 3000) < 200);
  });

  it('withoutInit: initialisers give zeros and draw nothing, only inside the call', () => {
    const g = new Generator(7);
    const inside = withoutInit(() => [uniform([3, 4], -1, 1, { generator: g }), randn([5], { generator: g }), normal([2], 0, 1, { generator: g })]);
    for (const t of inside) assert.ok([...t.toTypedArray()].every((v) => v === 0));
    // the generator was not advanced: its next draw equals a fresh generator's first
    assert.deepEqual([...rand([4], { generator: g }).toTypedArray()], [...rand([4], { generator: new Generator(7) }).toTypedArray()]);
    assert.ok([...randn([8]).toTypedArray()].some((v) => v !== 0));
    // nested calls restore the outer state; an exception restores it too
    assert.throws(() => withoutInit(() => { throw new Error('boom'); }), /boom/);
    assert.ok([...randn([8]).toTypedArray()].some((v) => v !== 0));
    // a model built inside has all-zero parameters
    const config = LlamaConfig.fromDict({ vocab_size: 16, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2 });
    const model = withoutInit(() => new LlamaForCausalLM(config));
    for (const [name, p] of model.namedParameters()) {
      if (name.includes('norm')) continue; // RMSNorm weights start at ones, not random
      assert.ok([...p.toTypedArray()].every((v) => v === 0), name);
    }
  });
});
