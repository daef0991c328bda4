/** LayerNorm and RMSNorm over the last axis: fused kernel when available, composed otherwise. */
import {
  add, contiguous, fail, formatShape, fromBuffer, isFloat, mul, recordOp, sub,
  type FusedNorm, type Tensor,
} from '../tensor/index.js';
import { fusedKernel } from './fused.js';
import { mean } from './reductions.js';
import { rsqrt } from './activations.js';

export interface NormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  eps?: number;
}

function check(op: string, x: Tensor, p: Tensor | null | undefined, what: string): void {
  if (!isFloat(x.dtype)) fail(op, `needs a float input, got ${x.dtype}`);
  if (x.ndim === 0) fail(op, 'needs at least one dimension');
  const d = x.shape[x.ndim - 1]!;
  if (p && (p.ndim !== 1 || p.shape[0] !== d)) {
    fail(op, `${what} has shape ${formatShape(p.shape)}, expected [${d}] (the last dimension of ${formatShape(x.shape)})`);
  }
}

function runFused(op: string, k: FusedNorm, x: Tensor, w: Tensor | null, b: Tensor | null, eps: number): Tensor {
  const xc = contiguous(x);
  const wc = w ? contiguous(w) : null;
  const bc = b ? contiguous(b) : null;
  const r = k.forward(xc.view(op), wc?.view(op) ?? null, bc?.view(op) ?? null, eps);
  const y = fromBuffer(r.y, x.dtype, x.shape);
  // The saved statistics are tensors too, so that tidy/dispose return their buffers to the pool.
  const rows = [r.rstd.length];
  const mean = r.mean ? fromBuffer(r.mean, x.dtype, rows) : null;
  const rstd = fromBuffer(r.rstd, x.dtype, rows);
  const inputs = [xc, ...(wc ? [wc] : []), ...(bc ? [bc] : [])];
  return recordOp(y, op, inputs, (g) => {
    const gr = k.backward(contiguous(g).view(op), xc.view(op), wc?.view(op) ?? null, mean?.view(op).data ?? null, rstd.view(op).data, bc !== null);
    const grads = [fromBuffer(gr.gx, x.dtype, x.shape)];
    if (wc) grads.push(fromBuffer(gr.gWeight!, wc.dtype, wc.shape));
    if (bc) grads.push(fromBuffer(gr.gBias!, bc.dtype, bc.shape));
    return grads;
  });
}

/** (x - mean) / sqrt(var + eps) * weight + bias over the last axis (biased variance, as PyTorch). */
export function layerNorm(x: Tensor, opts: NormOptions = {}): Tensor {
  const { weight = null, bias = null, eps = 1e-5 } = opts;
  check('layerNorm', x, weight, 'weight');
  check('layerNorm', x, bias, 'bias');
  const k = fusedKernel('layerNorm');
  if (k) return runFused('layerNorm', k, x, weight, bias, eps);
  const centered = sub(x, mean(x, -1, true));
  let y = mul(centered, rsqrt(add(mean(mul(centered, centered), -1, true), eps)));
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

/** x / sqrt(mean(x^2) + eps) * weight over the last axis (Zhang & Sennrich 2019; LLaMA, T5). */
export function rmsNorm(x: Tensor, opts: Omit<NormOptions, 'bias'> = {}): Tensor {
  const { weight = null, eps = 1e-6 } = opts;
  check('rmsNorm', x, weight, 'weight');
  const k = fusedKernel('rmsNorm');
  if (k) return runFused('rmsNorm', k, x, weight, null, eps);
  let y = mul(x, rsqrt(add(mean(mul(x, x), -1, true), eps)));
  if (weight) y = mul(y, weight);
  return y;
}
