/**
 * Scaled dot-product attention (Vaswani et al. 2017, eq. 1): softmax(q k^T * scale + mask) v,
 * with grouped-query heads (Ainslie et al. 2023; MQA when there is one KV head), causal and
 * sliding-window masks (Mistral; Longformer's local attention when bidirectional), and an
 * additive bias or boolean mask (padding, ALiBi slopes, T5 relative bias).
 *
 * When the backend has a fused `attention` kernel (FlashAttention-style, never materialising the
 * [Tq, Tk] scores) it runs that; the composed version below is its fallback and test oracle.
 */
import {
  add, arange, compare, full, contiguous, expand, fail, formatShape, fromBuffer, isFloat, log, matmul, mul, neg, recordOp, reshape,
  sum, transpose, where, logicalAnd, sub, type AttentionSpec, type Generator, type Tensor,
} from '../tensor/index.js';
import { max } from './reductions.js';
import { dropout } from './dropout.js';
import { fusedKernel } from './fused.js';
import { softmax } from './softmax.js';

export interface AttentionOptions {
  /** Bool mask (true = attend) or additive float bias, broadcastable to [B, Hq, Tq, Tk]. */
  mask?: Tensor;
  /**
   * Causal masking aligned to the end: query row i sits at position i + (Tk - Tq) and attends
   * keys j <= that position (a decode step's single query sees the whole cache).
   */
  causal?: boolean;
  /** Sliding window: keys with |position - j| < window (with causal: the last `window` keys). */
  window?: number;
  /** Defaults to 1 / sqrt(head dim). */
  scale?: number;
  /**
   * Dropout probability on the attention weights (after softmax), as Hugging Face models apply it
   * in training; pass 0 (the default) in evaluation. Above 0 the composed path runs, because the
   * fused kernel never materialises the weights.
   */
  dropout?: number;
  /** Generator for the dropout mask (default: the global generator). */
  generator?: Generator;
}

/**
 * q [..., Hq, Tq, D], k [..., Hkv, Tk, D], v [..., Hkv, Tk, Dv] -> [..., Hq, Tq, Dv].
 * Hq must be a multiple of Hkv (query head h uses KV head floor(h / (Hq / Hkv))).
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const { scale, window } = checkAttention(q, k, v, opts);
  const p = opts.dropout ?? 0;
  if (!(p >= 0 && p < 1)) fail('attention', `dropout must be in [0, 1), got ${p}`);
  if (p === 0 && canFuse(q, k, v, opts)) return fusedAttention(q, k, v, opts, scale, window);
  return composedAttention(q, k, v, opts, scale, window);
}

/** Per query row of attention: its largest weight and the entropy (nats) of its weights. */
export interface AttentionStats {
  /** [..., Hq, Tq]: max_j p_ij (1 for a row that attends one key, 1 / Tk for a uniform row). */
  maxWeight: Tensor;
  /** [..., Hq, Tq]: -sum_j p_ij log p_ij (0 for one key, log Tk for a uniform row). */
  entropy: Tensor;
}

/**
 * Row statistics of the attention weights softmax(q k^T * scale + mask) without materialising
 * them when the backend has the fused kernel: it keeps, beside the online softmax's running max
 * m and normaliser l, the running sum of p (s - m), so max weight = 1 / l and entropy =
 * log l - sum p (s - m) / l at the end of each row. The composed fallback (and oracle) computes
 * them from the materialised weights. Same arguments as scaledDotProductAttention (no dropout).
 */
export function attentionStats(q: Tensor, k: Tensor, v: Tensor, opts: Omit<AttentionOptions, 'dropout' | 'generator'> = {}): AttentionStats {
  const { scale, window } = checkAttention(q, k, v, opts);
  if (canFuse(q, k, v, opts)) {
    const { kernel, spec, qc, ks, vs, biasView, kvStrides } = fusedInputs(q, k, v, opts, scale, window);
    const r = kernel.forward(qc.view('attention'), ks.view('attention'), vs.view('attention'), biasView, { ...spec, kvStrides, stats: true });
    if (r?.stats) {
      const st = fromBuffer(r.stats, 'float32', [spec.batch, spec.headsQ, spec.tq, 2]); // [B, Hq, Tq, (max, entropy)]
      return { maxWeight: contiguous(st.narrow(3, 0, 1).squeeze(3)), entropy: contiguous(st.narrow(3, 1, 1).squeeze(3)) };
    }
  }
  const weights = attentionWeightsComposed(q, k, opts, scale, window); // [..., Tq, Tk]
  // 0 log 0 = 0; a fully masked row (NaN weights) stays NaN, as in the kernel
  const plogp = where(compare('eq', weights, 0), 0, mul(weights, log(weights)));
  return { maxWeight: max(weights, -1), entropy: neg(sum(plogp, -1)) };
}

/** Shape checks shared by attention and its statistics; the resolved scale and window. */
function checkAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): { scale: number; window: number } {
  const nd = q.ndim;
  if (nd < 2 || k.ndim !== nd || v.ndim !== nd) {
    fail('attention', `query ${formatShape(q.shape)}, key ${formatShape(k.shape)} and value ${formatShape(v.shape)} must have the same rank >= 2`);
  }
  const d = q.shape[nd - 1]!;
  if (k.shape[nd - 1] !== d) fail('attention', `query ${formatShape(q.shape)} and key ${formatShape(k.shape)} head dims differ`);
  if (k.shape[nd - 2] !== v.shape[nd - 2]) fail('attention', `key ${formatShape(k.shape)} and value ${formatShape(v.shape)} lengths differ`);
  const hq = nd >= 3 ? q.shape[nd - 3]! : 1;
  const hkv = nd >= 3 ? k.shape[nd - 3]! : 1;
  if (nd >= 3 && (v.shape[nd - 3] !== hkv || hq % hkv !== 0)) {
    fail('attention', `query heads (${hq}) must be a multiple of key/value heads (${hkv}, ${v.shape[nd - 3]})`);
  }
  const window = opts.window ?? 0;
  if (!(Number.isInteger(window) && window >= 0)) fail('attention', `window must be a non-negative integer, got ${window}`);
  return { scale: opts.scale ?? 1 / Math.sqrt(d), window };
}

function canFuse(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): boolean {
  return fusedKernel('attention') !== undefined && q.ndim === 4 && q.dtype === 'float32' && k.dtype === 'float32' && v.dtype === 'float32' && !opts.mask?.requiresGrad;
}

/** Bool [Tq, Tk]: which keys each query row may attend under causal / window masking. */
export function attentionMask(tq: number, tk: number, opts: { causal?: boolean; window?: number } = {}): Tensor {
  const pos = add(arange(tq).reshape(tq, 1), tk - tq); // [Tq, 1]
  const key = arange(tk).reshape(1, tk); // [1, Tk]
  let allowed = full([tq, tk], 1, { dtype: 'bool' });
  if (opts.causal) allowed = logicalAnd(allowed, compare('le', key, pos));
  if (opts.window) {
    const dist = sub(pos, key); // position - j
    allowed = logicalAnd(allowed, compare('lt', dist, opts.window));
    if (!opts.causal) allowed = logicalAnd(allowed, compare('gt', dist, -opts.window));
  }
  return allowed;
}

/** Bool [Tq, Tk]: query i may attend key j when j <= i + (Tk - Tq). */
export function causalMask(tq: number, tk: number): Tensor {
  return attentionMask(tq, tk, { causal: true });
}

/**
 * HF's repeat_kv: each KV head repeated `group` times in place along the head axis,
 * [..., Hkv, T, D] -> [..., Hkv*group, T, D], so query head h reads KV head floor(h / group).
 */
export function repeatKv(x: Tensor, group: number): Tensor {
  if (group === 1) return x;
  const nd = x.ndim;
  const s = x.shape;
  const e = expand(x.unsqueeze(nd - 2), [...s.slice(0, nd - 2), group, s[nd - 2]!, s[nd - 1]!]); // [..., Hkv, g, T, D]
  return reshape(e, [...s.slice(0, nd - 3), s[nd - 3]! * group, s[nd - 2]!, s[nd - 1]!]); // [..., Hq, T, D]
}

/** softmax(q k^T * scale + masks) materialised: [..., Hq, Tq, Tk]. */
function attentionWeightsComposed(q: Tensor, k: Tensor, opts: AttentionOptions, scale: number, window: number): Tensor {
  const nd = q.ndim;
  const group = nd >= 3 ? q.shape[nd - 3]! / k.shape[nd - 3]! : 1;
  const kk = repeatKv(k, group);
  let scores = mul(matmul(q, transpose(kk, -2, -1)), scale); // [..., Tq, Tk]
  const tq = q.shape[nd - 2]!;
  const tk = k.shape[nd - 2]!;
  if (opts.causal || window) scores = where(attentionMask(tq, tk, { causal: opts.causal ?? false, window }), scores, -Infinity);
  if (opts.mask) scores = opts.mask.dtype === 'bool' ? where(opts.mask, scores, -Infinity) : add(scores, opts.mask);
  return softmax(scores, -1); // [..., Tq, Tk]
}

function composedAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions, scale: number, window: number): Tensor {
  const nd = q.ndim;
  const group = nd >= 3 ? q.shape[nd - 3]! / k.shape[nd - 3]! : 1;
  let weights = attentionWeightsComposed(q, k, opts, scale, window); // [..., Tq, Tk]
  if (opts.dropout) weights = dropout(weights, opts.dropout, opts.generator ? { generator: opts.generator } : {});
  return matmul(weights, repeatKv(v, group)); // [..., Tq, Dv]
}

/** [B, H, T, D] with each head's T x D block row-major (any batch and head strides). */
function rowContiguous(t: Tensor): boolean {
  const [, , rows, d] = t.shape as [number, number, number, number];
  return (t.strides[3] === 1 || d === 1) && (t.strides[2] === d || rows === 1);
}

/** The fused kernel's inputs: contiguous q, k/v read in place where their rows are contiguous, the bias. */
function fusedInputs(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions, scale: number, window: number) {
  const kernel = fusedKernel('attention')!;
  const [b, hq, tq, d] = q.shape as [number, number, number, number];
  const [, hkv, tk] = k.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  if (k.shape[0] !== b || v.shape[0] !== b) fail('attention', `batch sizes differ: ${formatShape(q.shape)}, ${formatShape(k.shape)}, ${formatShape(v.shape)}`);
  const spec: AttentionSpec = { batch: b, headsQ: hq, headsKV: hkv, tq, tk, headDim: d, valueDim: dv, scale, causal: opts.causal ?? false, window };
  let bias: Tensor | null = null;
  if (opts.mask) {
    const m = opts.mask.dtype === 'bool' ? where(opts.mask, 0, -Infinity) : opts.mask;
    if (!isFloat(m.dtype)) fail('attention', `mask must be bool or float, got ${m.dtype}`);
    bias = expand(m.dtype === 'float32' ? m : m.to('float32'), [b, hq, tq, tk]);
  }
  const qc = contiguous(q);
  // keys/values whose rows are contiguous are read in place even when their heads are not packed
  // (the first Tk rows of a preallocated KV cache), saving a copy per decode step
  const [ks, vs] = [rowContiguous(k) ? k : contiguous(k), rowContiguous(v) ? v : contiguous(v)];
  const kvStrides = { key: [ks.strides[0]!, ks.strides[1]!] as [number, number], value: [vs.strides[0]!, vs.strides[1]!] as [number, number] };
  const biasView = bias ? bias.view('attention') : null;
  return { kernel, spec, qc, ks, vs, biasView, kvStrides };
}

function fusedAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions, scale: number, window: number): Tensor {
  const { kernel, spec, qc, ks, vs, biasView, kvStrides } = fusedInputs(q, k, v, opts, scale, window);
  const [b, hq, tq] = [spec.batch, spec.headsQ, spec.tq];
  const dv = spec.valueDim;
  const r = kernel.forward(qc.view('attention'), ks.view('attention'), vs.view('attention'), biasView, { ...spec, kvStrides });
  if (!r) return composedAttention(q, k, v, opts, scale, window); // the kernel had no room for its scratch
  const out = fromBuffer(r.out, 'float32', [b, hq, tq, dv]);
  const lse = fromBuffer(r.lse, 'float32', [b, hq, tq]);
  return recordOp(out, 'attention', [qc, ks, vs], (g) => {
    const [kc, vc] = [contiguous(ks), contiguous(vs)];
    const gr = kernel.backward(
      qc.view('attention'), kc.view('attention'), vc.view('attention'), biasView, out.view('attention'), lse.view('attention'),
      contiguous(g).view('attention'), spec,
    );
    return [fromBuffer(gr.gq, 'float32', qc.shape), fromBuffer(gr.gk, 'float32', kc.shape), fromBuffer(gr.gv, 'float32', vc.shape)];
  });
}
