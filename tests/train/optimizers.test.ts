/**
 * Optimizers step by step against PyTorch (tests/fixtures/train.json from
 * scripts/reference/train.py): same init, same batches, same losses at every step.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Adam, AdamW, SGD, add, crossEntropy, fromTypedArray, gelu, layerNorm, matmul, clipGradNorm, tensor, sum, mul,
  type Optimizer, type Tensor,
} from '../../src/index.js';
import { assertClose, loadFixture } from '../helpers.js';

interface TrainCase {
  name: string;
  options: { lr: number; momentum?: number; weightDecay: number; betas?: [number, number]; eps?: number };
  losses: number[];
  grads_step0: Record<string, number[]>;
  final: Record<string, number[]>;
}

const doc = loadFixture<TrainCase>('train.json') as ReturnType<typeof loadFixture<TrainCase>> & {
  shapes: Record<string, number[]>;
  init: Record<string, number[]>;
  batches: { x: number[]; x_shape: number[]; y: number[] }[];
};

function forward(p: Record<string, Tensor>, x: Tensor): Tensor {
  let h = gelu(add(matmul(x, p['fc1.weight']!.mT), p['fc1.bias']!));
  h = layerNorm(h, { weight: p['ln.weight']!, bias: p['ln.bias']!, eps: 1e-5 });
  return add(matmul(h, p['fc2.weight']!.mT), p['fc2.bias']!);
}

function makeOptimizer(c: TrainCase, params: Tensor[]): Optimizer {
  const o = c.options;
  if (c.name === 'sgd_momentum') return new SGD(params, { lr: o.lr, momentum: o.momentum!, weightDecay: o.weightDecay });
  if (c.name === 'adam') return new Adam(params, { lr: o.lr, betas: o.betas!, eps: o.eps!, weightDecay: o.weightDecay });
  return new AdamW(params, { lr: o.lr, betas: o.betas!, eps: o.eps!, weightDecay: o.weightDecay });
}

describe(`optimizers vs PyTorch ${doc.versions.torch} (${doc.generator})`, () => {
  for (const c of doc.cases) {
    it(`${c.name}: ${c.losses.length} steps give the same losses, step-0 gradients and final weights`, () => {
      const params: Record<string, Tensor> = {};
      for (const [k, v] of Object.entries(doc.init)) params[k] = fromTypedArray(Float32Array.from(v), doc.shapes[k]!).requiresGrad_();
      const opt = makeOptimizer(c, Object.values(params));
      doc.batches.forEach((b, step) => {
        opt.zeroGrad();
        const x = fromTypedArray(Float32Array.from(b.x), b.x_shape);
        const y = fromTypedArray(Int32Array.from(b.y), [b.y.length]);
        const loss = crossEntropy(forward(params, x), y);
        loss.backward();
        if (step === 0) {
          for (const [k, g] of Object.entries(c.grads_step0)) assertClose(params[k]!.grad!, g, { atol: 1e-6, rtol: 1e-4 }, `${c.name} step-0 grad ${k}`);
        }
        opt.step();
        const rel = Math.abs(loss.item() - c.losses[step]!) / Math.abs(c.losses[step]!);
        assert.ok(rel <= 1e-4, `${c.name} step ${step}: loss ${loss.item()} vs torch ${c.losses[step]} (relative ${rel.toExponential(2)})`);
      });
      for (const [k, w] of Object.entries(c.final)) assertClose(params[k]!, w, { atol: 1e-5, rtol: 1e-4 }, `${c.name} final ${k}`);
    });
  }

  it('clipGradNorm scales gradients to the max norm and returns the norm before clipping', () => {
    const a = tensor([3, 0]).requiresGrad_();
    const b = tensor([0, 4]).requiresGrad_();
    sum(add(mul(a, a), mul(b, b))).backward(); // grads (6,0) and (0,8): norm 10
    const norm = clipGradNorm([a, b], 5);
    assert.ok(Math.abs(norm - 10) < 1e-9);
    assertClose(a.grad!, [3, 0], { atol: 1e-5, rtol: 0 }, 'a');
    assertClose(b.grad!, [0, 4], { atol: 1e-5, rtol: 0 }, 'b');
  });
});
