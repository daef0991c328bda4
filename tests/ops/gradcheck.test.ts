/**
 * Finite-difference gradient checks in float64 for every op: the PyTorch fixture cases (same
 * inputs, promoted to float64) plus ops that have no fixture (dropout, clone, sign, ...).
 * Central differences with eps 1e-6 and torch.autograd.gradcheck's tolerances.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as A from '../../src/index.js';
import { backward, fromTypedArray, noGrad, withoutFused, type Tensor } from '../../src/index.js';
import { decodeValues, loadFixture, type FixtureTensor } from '../helpers.js';
import { OPS, type OpFn } from './op-table.js';

interface OpCase {
  name: string;
  args: Record<string, unknown>;
  inputs: FixtureTensor[];
  grads: (FixtureTensor | null)[];
}

const EPS = 1e-6;
const ATOL = 1e-5;
const RTOL = 1e-3;

function toF64(f: FixtureTensor): Tensor {
  const vals = decodeValues(f.data);
  if (f.dtype === 'float32') return fromTypedArray(Float64Array.from(vals), f.shape);
  if (f.dtype === 'int32') return fromTypedArray(Int32Array.from(vals), f.shape);
  return fromTypedArray(Uint8Array.from(vals), f.shape, { dtype: 'bool' });
}

/** sum_i sum(out_i * w_i) with fixed pseudo-random weights, so every output element matters. */
function scalarLoss(outs: Tensor[]): Tensor {
  let total: Tensor | null = null;
  outs.forEach((o, k) => {
    if (o.dtype !== 'float64') return;
    const w = Float64Array.from({ length: o.size }, (_, i) => Math.sin(1.7 * i + 0.3 * k + 0.5));
    const term = A.sum(A.mul(o, fromTypedArray(w, o.shape)));
    total = total ? A.add(total, term) : term;
  });
  if (!total) throw new Error('no float output');
  return total;
}

export function gradcheck(name: string, fn: OpFn, inputs: Tensor[], args: Record<string, unknown> = {}): number {
  const evalLoss = (): number => noGrad(() => {
    const out = fn(inputs, args);
    return scalarLoss(Array.isArray(out) ? out : [out]).item();
  });
  const floats = inputs.filter((t) => t.dtype === 'float64');
  for (const t of floats) t.requiresGrad_(true);
  const out = fn(inputs, args);
  backward(scalarLoss(Array.isArray(out) ? out : [out]));
  let checked = 0;
  for (const [k, t] of inputs.entries()) {
    if (t.dtype !== 'float64') continue;
    const data = t.storage.data as Float64Array;
    const analytic = t.grad ? t.grad.toTypedArray() : new Float64Array(t.size);
    for (let i = 0; i < data.length; i++) {
      const orig = data[i]!;
      if (!Number.isFinite(orig)) continue;
      data[i] = orig + EPS;
      const up = evalLoss();
      data[i] = orig - EPS;
      const down = evalLoss();
      data[i] = orig;
      const numeric = (up - down) / (2 * EPS);
      const a = analytic[i]!;
      assert.ok(
        Math.abs(a - numeric) <= ATOL + RTOL * Math.abs(numeric),
        `${name}: d/d input ${k}[${i}]: analytic ${a}, finite difference ${numeric}`,
      );
      checked++;
    }
  }
  return checked;
}

const doc = loadFixture<OpCase>('ops.json');

describe('finite-difference gradient checks (float64)', () => {
  for (const c of doc.cases) {
    if (c.grads.every((g) => g === null)) continue;
    it(`${c.name}`, () => {
      const n = gradcheck(c.name, OPS[c.name]!, c.inputs.map(toF64), c.args);
      assert.ok(n > 0, 'checked no element');
    });
    it(`${c.name} (composed)`, () => {
      withoutFused(() => gradcheck(c.name, OPS[c.name]!, c.inputs.map(toF64), c.args));
    });
  }

  const g = () => fromTypedArray(Float64Array.from({ length: 12 }, (_, i) => Math.cos(i * 1.3) * 1.5), [3, 4]);
  const extra: [string, OpFn, Tensor[]][] = [
    ['dropout (seeded)', ([x]) => A.dropout(x!, 0.3, { generator: new A.Generator(7) }), [g()]],
    ['clone', ([x]) => A.mul(A.clone(x!), 2), [g()]],
    ['contiguous of a transpose', ([x]) => A.mul(x!.mT.contiguous(), 2), [g()]],
    ['sign (zero gradient)', ([x]) => A.add(A.sign(x!), A.mul(x!, 0.5)), [g()]],
    ['chunk', ([x]) => A.chunk(x!, 2, 1), [g()]],
    ['narrow + expand + sum', ([x]) => A.sum(x!.narrow(1, 1, 2).unsqueeze(0).expand(2, 3, 2), 0), [g()]],
    ['variance over two axes', ([x]) => A.variance(x!, [0, 1]), [g()]],
    ['min over all', ([x]) => A.min(x!), [g()]],
    ['reshape of non-contiguous (copy)', ([x]) => A.mul(x!.mT.reshape(12), 1), [g()]],
    ['silu(layerNorm) chain', ([x]) => A.silu(A.layerNorm(x!)), [g()]],
  ];
  for (const [name, fn, inputs] of extra) it(name, () => assert.ok(gradcheck(name, fn, inputs) > 0));
});
