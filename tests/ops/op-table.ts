/**
 * attn's implementation of every fixture case (tests/fixtures/ops.json), by case name.
 * The same table drives the finite-difference checks, so every op is checked both ways.
 */
import * as A from '../../src/index.js';
import type { Tensor } from '../../src/index.js';

export type Args = Record<string, unknown>;
export type OpFn = (x: Tensor[], args: Args) => Tensor | Tensor[];

const n = (args: Args, k: string): number => args[k] as number;

export const OPS: Record<string, OpFn> = {
  neg: ([x]) => A.neg(x!),
  exp: ([x]) => A.exp(x!),
  log: ([x]) => A.log(x!),
  sqrt: ([x]) => A.sqrt(x!),
  rsqrt: ([x]) => A.rsqrt(x!),
  abs: ([x]) => A.abs(x!),
  tanh: ([x]) => A.tanh(x!),
  sigmoid: ([x]) => A.sigmoid(x!),
  relu: ([x]) => A.relu(x!),
  gelu: ([x]) => A.gelu(x!),
  gelu_tanh: ([x]) => A.gelu(x!, 'tanh'),
  silu: ([x]) => A.silu(x!),
  swiglu: ([g, u]) => A.swiglu(g!, u!),
  erf: ([x]) => A.erf(x!),
  sin: ([x]) => A.sin(x!),
  cos: ([x]) => A.cos(x!),
  clamp: ([x], a) => A.clamp(x!, n(a, 'min'), n(a, 'max')),
  square: ([x]) => A.square(x!),

  add: ([a, b]) => A.add(a!, b!),
  sub: ([a, b]) => A.sub(a!, b!),
  mul: ([a, b]) => A.mul(a!, b!),
  div: ([a, b]) => A.div(a!, b!),
  pow: ([a, b]) => A.pow(a!, b!),
  pow_scalar: ([x], a) => A.pow(x!, n(a, 'exponent')),
  maximum: ([a, b]) => A.maximum(a!, b!),
  minimum: ([a, b]) => A.minimum(a!, b!),
  add_scalar: ([x], a) => A.add(x!, n(a, 'scalar')),
  rsub_scalar: ([x], a) => A.sub(n(a, 'scalar'), x!),
  div_scalar: ([x], a) => A.div(x!, n(a, 'scalar')),

  where: ([c, a, b]) => A.where(c!, a!, b!),
  masked_fill: ([x, m], a) => A.maskedFill(x!, m!, n(a, 'value')),

  sum_all: ([x]) => A.sum(x!),
  sum_dim: ([x], a) => A.sum(x!, n(a, 'dim')),
  sum_dims_keepdim: ([x], a) => A.sum(x!, a.dims as number[], true),
  mean: ([x], a) => A.mean(x!, n(a, 'dim')),
  mean_all: ([x]) => A.mean(x!),
  var: ([x], a) => A.variance(x!, n(a, 'dim')),
  var_biased: ([x], a) => A.variance(x!, n(a, 'dim'), { correction: 0 }),
  max_dim: ([x], a) => A.max(x!, n(a, 'dim')),
  min_dim: ([x], a) => A.min(x!, n(a, 'dim')),
  max_all: ([x]) => A.max(x!),
  logsumexp: ([x], a) => A.logsumexp(x!, n(a, 'dim')),
  argmax: ([x], a) => A.argmax(x!, n(a, 'dim')),
  argmin: ([x], a) => A.argmin(x!, n(a, 'dim')),

  matmul: ([a, b]) => A.matmul(a!, b!),
  matmul_batched: ([a, b]) => A.matmul(a!, b!),
  matmul_transposed: ([a, b]) => A.matmul(a!, b!.mT),
  matvec: ([a, b]) => A.matmul(a!, b!),
  vecmat: ([a, b]) => A.matmul(a!, b!),
  dot: ([a, b]) => A.matmul(a!, b!),

  reshape: ([x], a) => A.mul(x!.reshape(a.shape as number[]), 1),
  permute: ([x], a) => A.mul(x!.permute(a.dims as number[]), 1),
  transpose_matmul: ([x, y]) => A.matmul(x!.transpose(0, 1), y!),
  expand: ([x], a) => A.mul(x!.expand(a.shape as number[]), 1),
  slice: ([x], a) => A.mul(x!.slice(n(a, 'dim'), n(a, 'start'), n(a, 'end')), 1),
  unsqueeze_squeeze: ([x]) => A.mul(x!.unsqueeze(1).squeeze(1), 1),
  flatten: ([x], a) => A.mul(x!.flatten(n(a, 'start')), 1),
  concat: ([a, b], args) => A.concat([a!, b!], n(args, 'dim')),
  stack: ([a, b], args) => A.stack([a!, b!], n(args, 'dim')),
  split: ([x], a) => A.split(x!, a.sizes as number[], n(a, 'dim')),
  pad: ([x], a) => A.pad(x!, n(a, 'dim'), n(a, 'before'), n(a, 'after')),

  gather: ([x, i], a) => A.gather(x!, n(a, 'dim'), i!),
  scatter_add: ([x, i, s], a) => A.scatterAdd(x!, n(a, 'dim'), i!, s!),
  index_select: ([x, i], a) => A.indexSelect(x!, n(a, 'dim'), i!),
  index_add: ([x, i, s], a) => A.indexAdd(x!, n(a, 'dim'), i!, s!),
  embedding: ([w, i]) => A.embedding(w!, i!),

  softmax: ([x], a) => A.softmax(x!, n(a, 'dim')),
  softmax_dim0: ([x], a) => A.softmax(x!, n(a, 'dim')),
  log_softmax: ([x], a) => A.logSoftmax(x!, n(a, 'dim')),
  softmax_neg_inf: ([x], a) => A.softmax(x!, n(a, 'dim')),

  layer_norm: ([x, w, b], a) => A.layerNorm(x!, { weight: w!, bias: b!, eps: n(a, 'eps') }),
  layer_norm_plain: ([x], a) => A.layerNorm(x!, { eps: n(a, 'eps') }),
  rms_norm: ([x, w], a) => A.rmsNorm(x!, { weight: w!, eps: n(a, 'eps') }),

  cross_entropy: ([x, t]) => A.crossEntropy(x!, t!),
  cross_entropy_sum: ([x, t]) => A.crossEntropy(x!, t!, { reduction: 'sum' }),
  cross_entropy_none: ([x, t]) => A.crossEntropy(x!, t!, { reduction: 'none' }),
  cross_entropy_ignore: ([x, t], a) => A.crossEntropy(x!, t!, { ignoreIndex: n(a, 'ignoreIndex') }),
  cross_entropy_smoothing: ([x, t], a) => A.crossEntropy(x!, t!, { labelSmoothing: n(a, 'labelSmoothing') }),
  cross_entropy_smoothing_ignore: ([x, t], a) =>
    A.crossEntropy(x!, t!, { labelSmoothing: n(a, 'labelSmoothing'), ignoreIndex: n(a, 'ignoreIndex') }),
  cross_entropy_3d: ([x, t]) => A.crossEntropy(x!, t!),

  attention: ([q, k, v]) => A.scaledDotProductAttention(q!, k!, v!),
  attention_causal: ([q, k, v]) => A.scaledDotProductAttention(q!, k!, v!, { causal: true }),
  attention_gqa: ([q, k, v]) => A.scaledDotProductAttention(q!, k!, v!, { causal: true }),
  attention_mqa_decode: ([q, k, v]) => A.scaledDotProductAttention(q!, k!, v!, { causal: true }),
  attention_sliding_window: ([q, k, v], a) => A.scaledDotProductAttention(q!, k!, v!, { causal: true, window: n(a, 'window') }),
  attention_local_bidirectional: ([q, k, v], a) => A.scaledDotProductAttention(q!, k!, v!, { window: n(a, 'window') }),
  attention_padding_mask: ([q, k, v, m]) => A.scaledDotProductAttention(q!, k!, v!, { mask: m! }),
};
