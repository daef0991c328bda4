/**
 * Fused kernels of the reference backend, each over rows of the last axis of a contiguous input.
 * The composed versions in src/ops are their oracle (tests/ops/fused.test.ts).
 */
import {
  AttnError, allocate, sizeOf,
  type FusedCrossEntropyOptions, type FusedCrossEntropy, type FusedKernels, type FusedNorm, type FusedSoftmax,
  type TypedArray, type View,
} from '../../tensor/index.js';

function rows(v: View): [number, number] {
  const c = v.shape[v.shape.length - 1] ?? 1;
  return [c === 0 ? 0 : sizeOf(v.shape) / c, c];
}

const softmax: FusedSoftmax = {
  forward(x) {
    const [r, c] = rows(x);
    const out = allocate(x.dtype, r * c, false);
    const d = x.data;
    for (let i = 0; i < r; i++) {
      const o = x.offset + i * c;
      let m = -Infinity;
      for (let j = 0; j < c; j++) if (d[o + j]! > m || d[o + j]! !== d[o + j]!) m = d[o + j]!;
      let s = 0;
      for (let j = 0; j < c; j++) s += out[i * c + j] = Math.exp(d[o + j]! - m);
      const inv = 1 / s;
      for (let j = 0; j < c; j++) out[i * c + j]! *= inv;
    }
    return out;
  },
  backward(y, gy) {
    const [r, c] = rows(y);
    const out = allocate(y.dtype, r * c, false);
    for (let i = 0; i < r; i++) {
      let dot = 0;
      for (let j = 0; j < c; j++) dot += y.data[y.offset + i * c + j]! * gy.data[gy.offset + i * c + j]!;
      for (let j = 0; j < c; j++) {
        const yv = y.data[y.offset + i * c + j]!;
        out[i * c + j] = yv * (gy.data[gy.offset + i * c + j]! - dot);
      }
    }
    return out;
  },
};

const logSoftmax: FusedSoftmax = {
  forward(x) {
    const [r, c] = rows(x);
    const out = allocate(x.dtype, r * c, false);
    const d = x.data;
    for (let i = 0; i < r; i++) {
      const o = x.offset + i * c;
      const lse = logSumExp(d, o, c);
      for (let j = 0; j < c; j++) out[i * c + j] = d[o + j]! - lse;
    }
    return out;
  },
  backward(y, gy) {
    const [r, c] = rows(y);
    const out = allocate(y.dtype, r * c, false);
    for (let i = 0; i < r; i++) {
      let s = 0;
      for (let j = 0; j < c; j++) s += gy.data[gy.offset + i * c + j]!;
      for (let j = 0; j < c; j++) out[i * c + j] = gy.data[gy.offset + i * c + j]! - Math.exp(y.data[y.offset + i * c + j]!) * s;
    }
    return out;
  },
};

/** log(sum(exp(row))) with the max shifted out; an all -inf row gives -inf (as PyTorch). */
function logSumExp(d: TypedArray, o: number, c: number): number {
  let m = -Infinity;
  for (let j = 0; j < c; j++) if (d[o + j]! > m || d[o + j]! !== d[o + j]!) m = d[o + j]!;
  const shift = m === -Infinity || m === Infinity ? 0 : m;
  let s = 0;
  for (let j = 0; j < c; j++) s += Math.exp(d[o + j]! - shift);
  return Math.log(s) + shift;
}

function makeNorm(centered: boolean): FusedNorm {
  return {
    forward(x, weight, bias, eps) {
      const [r, c] = rows(x);
      const y = allocate(x.dtype, r * c, false);
      const mean = centered ? allocate(x.dtype, r, false) : null;
      const rstd = allocate(x.dtype, r, false);
      const d = x.data;
      for (let i = 0; i < r; i++) {
        const o = x.offset + i * c;
        let mu = 0;
        if (centered) {
          for (let j = 0; j < c; j++) mu += d[o + j]!;
          mu /= c;
          mean![i] = mu;
        }
        let v = 0;
        for (let j = 0; j < c; j++) v += (d[o + j]! - mu) ** 2;
        const rs = 1 / Math.sqrt(v / c + eps);
        rstd[i] = rs;
        for (let j = 0; j < c; j++) {
          let t = (d[o + j]! - mu) * rs;
          if (weight) t *= weight.data[weight.offset + j]!;
          if (bias) t += bias.data[bias.offset + j]!;
          y[i * c + j] = t;
        }
      }
      return { y, mean, rstd };
    },
    backward(gy, x, weight, mean, rstd, hasBias) {
      const [r, c] = rows(x);
      const gx = allocate(x.dtype, r * c, false);
      const gW = weight ? new Float64Array(c) : null;
      const gB = hasBias ? new Float64Array(c) : null;
      const xhat = new Float64Array(c);
      const gh = new Float64Array(c);
      for (let i = 0; i < r; i++) {
        const o = x.offset + i * c;
        const g = gy.offset + i * c;
        const mu = mean ? mean[i]! : 0;
        const rs = rstd[i]!;
        let sumG = 0;
        let sumGX = 0;
        for (let j = 0; j < c; j++) {
          const xh = (x.data[o + j]! - mu) * rs;
          const gyv = gy.data[g + j]!;
          xhat[j] = xh;
          gh[j] = weight ? gyv * weight.data[weight.offset + j]! : gyv;
          sumG += gh[j]!;
          sumGX += gh[j]! * xh;
          if (gW) gW[j] += gyv * xh;
          if (gB) gB[j] += gyv;
        }
        const mg = centered ? sumG / c : 0;
        const mgx = sumGX / c;
        for (let j = 0; j < c; j++) gx[i * c + j] = rs * (gh[j]! - mg - xhat[j]! * mgx);
      }
      const toDtype = (a: Float64Array | null): TypedArray | null => {
        if (!a) return null;
        const out = allocate(x.dtype, c, false);
        out.set(a);
        return out;
      };
      return { gx, gWeight: toDtype(gW), gBias: toDtype(gB) };
    },
  };
}

function checkTarget(t: number, c: number, opts: FusedCrossEntropyOptions): boolean {
  if (t === opts.ignoreIndex) return false;
  if (t < 0 || t >= c) throw new AttnError('crossEntropy', `target ${t} is out of range for ${c} classes`);
  return true;
}

const crossEntropy: FusedCrossEntropy = {
  forward(logits, targets, opts) {
    const [r, c] = rows(logits);
    const loss = allocate(logits.dtype, r, false);
    const lse = allocate(logits.dtype, r, false);
    const eps = opts.labelSmoothing;
    for (let i = 0; i < r; i++) {
      const o = logits.offset + i * c;
      const l = logSumExp(logits.data, o, c);
      lse[i] = l;
      const t = targets.data[targets.offset + i]!;
      if (!checkTarget(t, c, opts)) {
        loss[i] = 0;
        continue;
      }
      let v = (1 - eps) * (l - logits.data[o + t]!);
      if (eps > 0) {
        let mean = 0;
        for (let j = 0; j < c; j++) mean += logits.data[o + j]!;
        v += eps * (l - mean / c);
      }
      loss[i] = v;
    }
    return { loss, lse };
  },
  backward(logits, targets, lse, gLoss, opts) {
    const [r, c] = rows(logits);
    const out = allocate(logits.dtype, r * c, false);
    const eps = opts.labelSmoothing;
    for (let i = 0; i < r; i++) {
      const o = logits.offset + i * c;
      const t = targets.data[targets.offset + i]!;
      const g = gLoss.data[gLoss.offset + i]!;
      if (!checkTarget(t, c, opts)) {
        for (let j = 0; j < c; j++) out[i * c + j] = 0;
        continue;
      }
      for (let j = 0; j < c; j++) {
        const p = Math.exp(logits.data[o + j]! - lse[i]!);
        out[i * c + j] = g * (p - eps / c - (j === t ? 1 - eps : 0));
      }
    }
    return out;
  },
};

export const referenceFused: FusedKernels = {
  softmax,
  logSoftmax,
  layerNorm: makeNorm(true),
  rmsNorm: makeNorm(false),
  crossEntropy,
};
