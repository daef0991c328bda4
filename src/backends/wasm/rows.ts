/**
 * Row-wise fused kernels (softmax, log-softmax, LayerNorm, RMSNorm, cross-entropy) on wasm for
 * resident float32 tensors; other cases use the reference backend's fused kernels.
 */
import {
  AttnError, sizeOf, type FusedCrossEntropy, type FusedKernels, type FusedNorm, type FusedSoftmax, type TypedArray, type View,
} from '../../tensor/index.js';
import { output, type OutputAlloc, type WasmRuntime } from './runtime.js';

function rowsOf(v: View): [number, number] {
  const c = v.shape[v.shape.length - 1] ?? 1;
  return [c === 0 ? 0 : sizeOf(v.shape) / c, c];
}

/** Addresses of f32 views/arrays in this memory, or null if any is elsewhere or not float32. */
function addresses(rt: WasmRuntime, items: (View | TypedArray | null)[]): number[] | null {
  const out: number[] = [];
  for (const it of items) {
    if (it === null) {
      out.push(0);
      continue;
    }
    const isView = 'shape' in it;
    const data = isView ? it.data : it;
    if (isView && it.dtype !== 'float32' && it.dtype !== 'int32') return null;
    if (!isView && !(data instanceof Float32Array)) return null;
    const p = rt.addressOf(data, isView ? it.offset : 0, 4);
    if (p < 0) return null;
    out.push(p);
  }
  return out;
}

export function wasmRowKernels(rt: WasmRuntime, ref: FusedKernels, alloc: OutputAlloc): FusedKernels {
  const e = rt.exports;
  const softmax = (log: 0 | 1, fallback: FusedSoftmax): FusedSoftmax => ({
    forward(x) {
      const [r, c] = rowsOf(x);
      const p = x.dtype === 'float32' ? addresses(rt, [x]) : null;
      const y = p ? output(alloc, 'float32', r * c, false) : null;
      const yp = y ? addresses(rt, [y]) : null;
      if (!p || !y || !yp) return fallback.forward(x);
      e.softmaxForward(p[0]!, yp[0]!, r, c, log);
      return y;
    },
    backward(y, gy) {
      const [r, c] = rowsOf(y);
      const p = y.dtype === 'float32' ? addresses(rt, [y, gy]) : null;
      const gx = p ? output(alloc, 'float32', r * c, false) : null;
      const gp = gx ? addresses(rt, [gx]) : null;
      if (!p || !gx || !gp) return fallback.backward(y, gy);
      e.softmaxBackward(p[0]!, p[1]!, gp[0]!, r, c, log);
      return gx;
    },
  });

  const norm = (centered: 0 | 1, fallback: FusedNorm): FusedNorm => ({
    forward(x, w, b, eps) {
      const [r, c] = rowsOf(x);
      const p = x.dtype === 'float32' ? addresses(rt, [x, w, b]) : null;
      if (!p) return fallback.forward(x, w, b, eps);
      const y = output(alloc, 'float32', r * c, false);
      const mean = centered ? output(alloc, 'float32', r, false) : null;
      const rstd = output(alloc, 'float32', r, false);
      const q = addresses(rt, [y, mean, rstd]);
      if (!q) return fallback.forward(x, w, b, eps);
      e.normForward(p[0]!, p[1]!, p[2]!, q[0]!, q[1]!, q[2]!, r, c, eps, centered);
      return { y, mean, rstd };
    },
    backward(gy, x, w, mean, rstd, hasBias) {
      const [r, c] = rowsOf(x);
      const p = x.dtype === 'float32' ? addresses(rt, [gy, x, w, mean, rstd]) : null;
      if (!p) return fallback.backward(gy, x, w, mean, rstd, hasBias);
      const gx = output(alloc, 'float32', r * c, false);
      const gW = w ? output(alloc, 'float32', c, true) : null;
      const gB = hasBias ? output(alloc, 'float32', c, true) : null;
      const q = addresses(rt, [gx, gW, gB]);
      if (!q) return fallback.backward(gy, x, w, mean, rstd, hasBias);
      e.normBackward(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, q[0]!, q[1]!, q[2]!, r, c, centered);
      return { gx, gWeight: gW, gBias: gB };
    },
  });

  /** Class ids in place when resident, else copied to scratch (ids usually come from JS arrays). */
  const stageTargets = (targets: View, rows: number): number => {
    const at = rt.addressOf(targets.data, targets.offset, 4);
    if (at >= 0) return at;
    const ptr = rt.alloc(rows * 4);
    rt.i32(ptr, rows).set((targets.data as Int32Array).subarray(targets.offset, targets.offset + rows));
    return ptr;
  };

  const crossEntropy: FusedCrossEntropy = {
    forward(logits, targets, opts) {
      const [r, c] = rowsOf(logits);
      const p = logits.dtype === 'float32' ? addresses(rt, [logits]) : null;
      if (!p) return ref.crossEntropy!.forward(logits, targets, opts);
      const loss = output(alloc, 'float32', r, false);
      const lse = output(alloc, 'float32', r, false);
      const q = addresses(rt, [loss, lse]);
      if (!q) return ref.crossEntropy!.forward(logits, targets, opts);
      try {
        const bad = e.crossEntropyForward(p[0]!, stageTargets(targets, r), q[0]!, q[1]!, r, c, opts.ignoreIndex, opts.labelSmoothing);
        if (bad !== opts.ignoreIndex) throw new AttnError('crossEntropy', `target ${bad} is out of range for ${c} classes`);
      } finally {
        rt.reset();
      }
      return { loss, lse };
    },
    backward(logits, targets, lse, gLoss, opts) {
      const [r, c] = rowsOf(logits);
      const p = logits.dtype === 'float32' ? addresses(rt, [logits, lse, gLoss]) : null;
      const gx = p ? output(alloc, 'float32', r * c, false) : null;
      const q = gx ? addresses(rt, [gx]) : null;
      if (!p || !gx || !q) return ref.crossEntropy!.backward(logits, targets, lse, gLoss, opts);
      try {
        e.crossEntropyBackward(p[0]!, stageTargets(targets, r), p[1]!, p[2]!, q[0]!, r, c, opts.ignoreIndex, opts.labelSmoothing);
      } finally {
        rt.reset();
      }
      return gx;
    },
  };

  return {
    softmax: softmax(0, ref.softmax!),
    logSoftmax: softmax(1, ref.logSoftmax!),
    layerNorm: norm(1, ref.layerNorm!),
    rmsNorm: norm(0, ref.rmsNorm!),
    crossEntropy,
  };
}
