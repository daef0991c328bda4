/**
 * The Backend interface: the primitive kernels every backend must implement, plus optional
 * named fused kernels. The reference backend (src/backends/reference) defines the semantics;
 * faster backends are tested against it by the conformance suite (tests/backends/conformance.ts).
 *
 * Kernels receive strided views (broadcast dimensions have stride 0) and return a new
 * contiguous buffer from `allocate` (src/tensor/storage.ts). They never see autograd.
 */
import type { ComputeDType, DType, TypedArray } from './dtype.js';
import type { Shape } from './shape.js';
import type { QuantScales } from './storage.js';
import { fail } from './errors.js';

/** A strided window onto a buffer. */
export interface View {
  readonly data: TypedArray;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

export const UNARY_OPS = ['neg', 'exp', 'log', 'sqrt', 'abs', 'tanh', 'sigmoid', 'erf', 'sin', 'cos', 'sign'] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];
export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];
export const COMPARE_OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
export type CompareOp = (typeof COMPARE_OPS)[number];
export const REDUCE_OPS = ['sum', 'argmax', 'argmin'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

/** Fused softmax / log-softmax over the last axis of a contiguous input. */
export interface FusedSoftmax {
  forward(x: View): TypedArray;
  /** Gradient of the input from the saved output `y` and the output gradient `gy`. */
  backward(y: View, gy: View): TypedArray;
}

export interface NormForwardResult {
  y: TypedArray;
  /** Per-row mean (layer norm only). */
  mean: TypedArray | null;
  /** Per-row 1 / sqrt(var + eps) (or 1 / rms for RMSNorm). */
  rstd: TypedArray;
}

export interface NormBackwardResult {
  gx: TypedArray;
  gWeight: TypedArray | null;
  gBias: TypedArray | null;
}

/** Fused normalisation over the last axis; weight and bias have the last axis's length. */
export interface FusedNorm {
  forward(x: View, weight: View | null, bias: View | null, eps: number): NormForwardResult;
  backward(gy: View, x: View, weight: View | null, mean: TypedArray | null, rstd: TypedArray, hasBias: boolean): NormBackwardResult;
}

export interface FusedCrossEntropyOptions {
  ignoreIndex: number;
  labelSmoothing: number;
}

/** Fused cross-entropy over rows of logits [N, C] with int32 targets [N]. */
export interface FusedCrossEntropy {
  /** Per-row losses (0 for ignored rows) and per-row logsumexp. */
  forward(logits: View, targets: View, opts: FusedCrossEntropyOptions): { loss: TypedArray; lse: TypedArray };
  /** Gradient of the logits given the per-row loss gradient. */
  backward(logits: View, targets: View, lse: TypedArray, gLoss: View, opts: FusedCrossEntropyOptions): TypedArray;
}

/** Sizes and masking of one fused attention call (see src/ops/attention.ts for the semantics). */
export interface AttentionSpec {
  batch: number;
  headsQ: number;
  /** Divides headsQ: query head h reads KV head h / (headsQ / headsKV). */
  headsKV: number;
  tq: number;
  tk: number;
  headDim: number;
  valueDim: number;
  scale: number;
  /** Query row i sits at position i + (tk - tq); causal allows keys j <= position. */
  causal: boolean;
  /** 0 for none; else keys with |position - j| < window (only the past when causal). */
  window: number;
  /** Forward only: also return each row's largest weight and entropy (nats) of its weights. */
  stats?: boolean;
  /**
   * Forward only: element strides [batch, head] of k and v when their rows are contiguous but
   * their heads are not packed (a view of the first Tk rows of a preallocated KV cache); absent
   * means k and v are contiguous.
   */
  kvStrides?: { key: [number, number]; value: [number, number] };
}

/**
 * Exact attention without materialising the [tq, tk] scores. q [B, Hq, Tq, D], k [B, Hkv, Tk, D],
 * v [B, Hkv, Tk, Dv] contiguous (forward: k and v may have strided heads, see kvStrides); bias (optional) is additive and broadcast to [B, Hq, Tq, Tk]
 * through its strides. forward returns out [B, Hq, Tq, Dv] and the per-row log-sum-exp.
 */
export interface FusedAttention {
  /**
   * With spec.stats, also per query row [max weight, entropy] ([B, Hq, Tq, 2]). null: the kernel
   * could not run (no room for its scratch); the caller takes the composed path.
   */
  forward(q: View, k: View, v: View, bias: View | null, spec: AttentionSpec): { out: TypedArray; lse: TypedArray; stats?: TypedArray } | null;
  backward(
    q: View, k: View, v: View, bias: View | null, out: View, lse: View, gOut: View, spec: AttentionSpec,
  ): { gq: TypedArray; gk: TypedArray; gv: TypedArray };
}

/**
 * y [M, N] = x [M, K] @ w^T for weights w [N, K] stored as float32, float16, bfloat16 or int8
 * with per-block scales along K (the decode path: few rows, weights read once).
 */
export interface FusedLinear {
  /** null: the kernel could not run (no room for its scratch); the caller takes the composed path. */
  forward(x: View, w: View, scales: QuantScales | null, opts?: FusedLinearOptions): TypedArray | null;
  /**
   * Optional: weights [n_i, k] of one dtype and block size against the same x, as one pass over
   * all their rows (one dispatch, x prepared once): decode's q/k/v and gate/up projections.
   * null: not handled (too many rows of x for the matvec path, or no room); the caller loops.
   */
  forwardMany?(x: View, weights: readonly { w: View; scales: QuantScales | null; finite?: boolean }[], opts?: LinearKernelOptions): TypedArray[] | null;
}

/** What ops.linear tells the kernel besides the user's options. */
export interface FusedLinearOptions extends LinearKernelOptions {
  /**
   * float16 weights: true when the caller knows they hold no Inf/NaN (ops.linear scans each
   * storage once per version, Storage.halfFinite), so the kernel may skip its own check;
   * forwardMany takes it per weight as `finite`.
   */
  finiteWeights?: boolean;
}

/**
 * How a quantized (int8 / int4) weight meets its input: 'float32' (default) multiplies the
 * float input by the dequantized weights; 'q8_0' quantizes the input to q8_0 blocks of 32 first
 * and sums integer products per block, as llama.cpp's CPU backend does (see
 * tensor/convert.ts quantizeActivationsQ8 for the exact rule).
 */
export interface LinearKernelOptions {
  activations?: 'float32' | 'q8_0';
}

/**
 * Rotary position embedding over x [..., T, d] contiguous with cos/sin [T, d/2]; 'half' pairs
 * channels (i, i + d/2), 'interleaved' pairs (2i, 2i + 1). inverse rotates by -angle (the
 * gradient).
 */
export interface FusedRope {
  apply(x: View, cos: View, sin: View, layout: 'half' | 'interleaved', inverse: boolean): TypedArray;
}

/** GELU over a contiguous input: 'none' is exact (erf), 'tanh' the GPT-2 approximation. */
export interface FusedGelu {
  forward(x: View, approximate: 'none' | 'tanh'): TypedArray;
  /** Gradient of the input from the saved input and the output gradient. */
  backward(x: View, gy: View, approximate: 'none' | 'tanh'): TypedArray;
}

/**
 * SwiGLU's gate, silu(gate) * up, over two contiguous inputs of one shape (Shazeer 2020; the
 * LLaMA feed-forward): one pass instead of sigmoid, mul, mul.
 */
export interface FusedSwiglu {
  forward(gate: View, up: View): TypedArray;
  /** Gradients of gate and up from the saved inputs and the output gradient. */
  backward(gate: View, up: View, gy: View): [TypedArray, TypedArray];
}

export interface FusedKernels {
  attention?: FusedAttention;
  gelu?: FusedGelu;
  swiglu?: FusedSwiglu;
  rope?: FusedRope;
  linear?: FusedLinear;
  softmax?: FusedSoftmax;
  logSoftmax?: FusedSoftmax;
  layerNorm?: FusedNorm;
  rmsNorm?: FusedNorm;
  crossEntropy?: FusedCrossEntropy;
}

export type FusedKernelName = keyof FusedKernels;
export const FUSED_KERNEL_NAMES: readonly FusedKernelName[] = ['softmax', 'logSoftmax', 'layerNorm', 'rmsNorm', 'crossEntropy', 'attention', 'linear', 'rope', 'gelu', 'swiglu'];

export interface Backend {
  readonly name: string;

  unary(op: UnaryOp, x: View, outDtype: ComputeDType): TypedArray;
  /** `a` and `b` are already broadcast to `outShape` (stride 0 on broadcast axes). */
  binary(op: BinaryOp, a: View, b: View, outShape: Shape, outDtype: ComputeDType): TypedArray;
  compare(op: CompareOp, a: View, b: View, outShape: Shape): Uint8Array;
  where(cond: View, a: View, b: View, outShape: Shape, outDtype: ComputeDType): TypedArray;
  /** Reduces `axes` (sorted, non-empty); the result has x's shape with those axes set to 1. */
  reduce(op: ReduceOp, x: View, axes: readonly number[], outDtype: ComputeDType): TypedArray;
  /** a: [...batch, m, k], b: [...batch, k, n], both broadcast to the same batch; out [...batch, m, n]. */
  matmul(a: View, b: View, outDtype: ComputeDType): TypedArray;
  /** Contiguous copy, converting between compute dtypes. */
  copy(x: View, outDtype: ComputeDType): TypedArray;
  /** Zero padding of one axis. */
  pad(x: View, axis: number, before: number, after: number): TypedArray;
  concat(xs: readonly View[], axis: number, outShape: Shape): TypedArray;
  /** out[..i..] = x[..index[..i..]..] along `axis`; out has index's shape. */
  gather(x: View, axis: number, index: View): TypedArray;
  /** Copy of x with src added at positions `index` along `axis`. */
  scatterAdd(x: View, axis: number, index: View, src: View): TypedArray;
  /** Selects whole slices along `axis` with a 1-d index. */
  indexSelect(x: View, axis: number, index: View): TypedArray;
  /** Copy of x with slices of src added at a 1-d index along `axis`. */
  indexAdd(x: View, axis: number, index: View, src: View): TypedArray;

  readonly fused: FusedKernels;

  /**
   * Optional: buffers for new tensors, e.g. inside WebAssembly memory so that kernels read them
   * without copies. Returns null to fall back to ordinary typed arrays. `free` receives every
   * buffer this returned once its last tensor is released.
   */
  allocate?(dtype: DType, size: number, zero: boolean): TypedArray | null;
  free?(data: TypedArray): void;
  /**
   * Optional: whether no half in these float16 bits is Inf/NaN (Storage.halfFinite's scan), or
   * null to leave it to the JS loop (e.g. the data is not in this backend's memory).
   */
  halfFinite?(data: Uint16Array): boolean | null;
}

let current: Backend | null = null;

export function setBackend(b: Backend): void {
  current = b;
}

export function getBackend(): Backend {
  if (!current) fail('backend', "no backend is registered; import from 'attn' (which registers the reference backend) or call setBackend()");
  return current;
}

export function hasBackend(): boolean {
  return current !== null;
}
