/**
 * Weight quantization for inference: every Linear weight of a model replaced by a block-scaled
 * integer copy, which `ops.linear` runs through the backend's fused kernel (dequantising in
 * registers, each weight read once). Embeddings, norms and biases keep their float32 values, as
 * do matrices used outside a Linear (a tied LM head is the embedding table).
 *
 * Schemes (the storage formats of tensor/convert.ts):
 *   int8  per output channel: one float32 scale per weight row (max|row| / 127)
 *   q8_0  ggml's Q8_0: blocks of 32 along the input axis, int8 values, half-precision scales
 *   q4_0  ggml's Q4_0: blocks of 32, 4-bit values in [-8, 7], half-precision scales
 * Bytes per weight in memory (scales held as float32): 1 + 4 / in_features, 1.125 and 0.625;
 * in a GGUF file (half-precision scales) q8_0 and q4_0 take 1.0625 and 0.5625.
 *
 * The error of one weight is at most half a quantization step (scale / 2) for int8 and q8_0;
 * q4_0's asymmetric grid (d = x_amax / -8 maps the largest-magnitude element to exactly -8)
 * keeps every element within d / 2 except that values near +|x_amax| clamp to 7 d, an error of
 * at most |d|. `quantizationErrorBound` states these per scheme.
 */
import { fail, noGrad, quantizeInt4, quantizeInt8, type Tensor } from '../tensor/index.js';
import { Linear } from './layers.js';
import type { Module } from './module.js';

export type QuantScheme = 'int8' | 'q8_0' | 'q4_0';

export const QUANT_SCHEMES: readonly QuantScheme[] = ['int8', 'q8_0', 'q4_0'];

export interface QuantizeModelOptions {
  scheme: QuantScheme;
  /**
   * Linear layers (by dotted module path, e.g. `lm_head`) to leave in float; default none. A
   * layer whose input size is not a multiple of the block size (32) is always left in float and
   * reported in `skipped`.
   */
  exclude?: (path: string) => boolean;
  /** 'q8_0': quantized layers take llama.cpp's arithmetic (Linear.activations); default 'float32'. */
  activations?: 'float32' | 'q8_0';
}

export interface QuantizeModelReport {
  /** Module paths of the quantized Linear layers. */
  quantized: string[];
  /** Linear layers left in float, with the reason. */
  skipped: { path: string; reason: string }[];
  /** Weight bytes of the quantized layers before (float32) and after (values + scales). */
  bytesBefore: number;
  bytesAfter: number;
}

/** Block size of a scheme for a row of `inFeatures` (int8 is per channel: the whole row). */
export function schemeBlockSize(scheme: QuantScheme, inFeatures: number): number {
  return scheme === 'int8' ? inFeatures : 32;
}

/** Quantizes one [out, in] float weight with a scheme. */
export function quantizeWeight(w: Tensor, scheme: QuantScheme): Tensor {
  if (w.ndim !== 2) fail('quantizeWeight', `expected a [out, in] matrix, got ${w.ndim} dimensions`);
  const inFeatures = w.shape[1]!;
  switch (scheme) {
    case 'int8': return quantizeInt8(w, { blockSize: inFeatures });
    case 'q8_0': return quantizeInt8(w, { blockSize: 32, scaleFormat: 'float16' });
    case 'q4_0': return quantizeInt4(w, { blockSize: 32, scaleFormat: 'float16' });
    default: return fail('quantizeWeight', `unknown scheme '${String(scheme)}' (${QUANT_SCHEMES.join(', ')})`);
  }
}

/**
 * The largest |w - dequantize(quantize(w))| a scheme allows for an element of a block whose
 * stored scale is `scale` (see the header): half a step for int8 and q8_0, a whole step for
 * q4_0, plus the rounding of the stored scale times the largest |q| (int8: float32, relative
 * 2^-24; q8_0 / q4_0: float16, relative 2^-11, absolute 2^-25 for subnormal scales), doubled
 * for slack.
 */
export function quantizationErrorBound(scheme: QuantScheme, scale: number): number {
  const s = Math.abs(scale);
  switch (scheme) {
    case 'int8': return s * (0.5 + 127 * 2 ** -23);
    case 'q8_0': return s * (0.5 + 127 * 2 ** -10) + 127 * 2 ** -24;
    case 'q4_0': return s * (1 + 8 * 2 ** -10) + 8 * 2 ** -24;
  }
}

/**
 * Replaces the weight of every Linear in `model` (except excluded ones) by its quantized copy,
 * in place, and returns what was done. The model is for inference afterwards: quantized weights
 * have no gradients, and loading a state dict into them is refused by their dtype.
 */
export function quantizeModel(model: Module, opts: QuantizeModelOptions): QuantizeModelReport {
  if (!QUANT_SCHEMES.includes(opts.scheme)) fail('quantizeModel', `unknown scheme '${String(opts.scheme)}' (${QUANT_SCHEMES.join(', ')})`);
  const activations = opts.activations ?? 'float32';
  if (activations !== 'float32' && activations !== 'q8_0') fail('quantizeModel', `activations must be 'float32' or 'q8_0', got '${String(activations)}'`);
  const report: QuantizeModelReport = { quantized: [], skipped: [], bytesBefore: 0, bytesAfter: 0 };
  noGrad(() => {
    for (const [path, m] of model.namedModules()) {
      if (!(m instanceof Linear)) continue;
      const w = m.weight;
      if (w.dtype !== 'float32') {
        report.skipped.push({ path, reason: `weight is already ${w.dtype}` });
        continue;
      }
      if (opts.exclude?.(path)) {
        report.skipped.push({ path, reason: 'excluded' });
        continue;
      }
      const block = schemeBlockSize(opts.scheme, m.inFeatures);
      if (m.inFeatures % block !== 0) {
        report.skipped.push({ path, reason: `input size ${m.inFeatures} is not a multiple of the block size ${block}` });
        continue;
      }
      const q = quantizeWeight(w.detach(), opts.scheme);
      report.bytesBefore += w.size * 4;
      report.bytesAfter += q.storage.nbytes;
      m.setWeight(q);
      if (activations === 'q8_0' && m.inFeatures % 32 === 0 && q.storage.quant && q.storage.quant.blockSize % 32 === 0) m.activations = 'q8_0';
      report.quantized.push(path);
    }
  });
  return report;
}
