/** Basic layers: Linear, Embedding, LayerNorm, RMSNorm. Weights use PyTorch's layouts and inits. */
import { ones, toBackendMemory, uniform, normal, zeros, type Generator, type Tensor } from '../tensor/index.js';
import { embedding, layerNorm, linear, linearMany, rmsNorm } from '../ops/index.js';
import { Module } from './module.js';

export interface LinearOptions {
  bias?: boolean;
  generator?: Generator;
}

/**
 * y = x W^T + b with W [out, in]; initialised U(-1/sqrt(in), 1/sqrt(in)) as torch.nn.Linear.
 * W may be replaced by a stored-format copy (`setWeight`, as quantizeModel does): ops.linear
 * then runs the backend's fused kernel over it.
 */
export class Linear extends Module {
  readonly bias: Tensor | null;
  /**
   * How an int8 / int4 weight meets its input: 'float32' (exact) or 'q8_0' (llama.cpp's
   * arithmetic: the input quantized to q8_0 blocks, integer dot products). Float weights ignore it.
   */
  activations: 'float32' | 'q8_0' = 'float32';

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    const g = opts.generator ? { generator: opts.generator } : {};
    this.param('weight', uniform([outFeatures, inFeatures], -bound, bound, g));
    this.bias = opts.bias === false ? null : this.param('bias', uniform([outFeatures], -bound, bound, g));
  }

  /** [out, in]: float32 for training, or a storage format after quantization. */
  get weight(): Tensor {
    return this.parameter('weight');
  }

  /**
   * Replaces the weight by a tensor of the same shape: a quantized or half-precision copy for
   * inference (quantizeModel, GGUF loading), which forward then runs through the fused kernel.
   * With `{ release: true }` the replaced weight is disposed (its memory returns to the backend;
   * a float32 original would otherwise stay in the wasm heap beside its quantized copy): only
   * for a weight this layer alone holds.
   */
  setWeight(t: Tensor, opts: { release?: boolean } = {}): void {
    const old = this.weight;
    // kept for every forward pass: in the backend's memory, so the kernel reads it in place
    this.setParameter('weight', toBackendMemory(t));
    if (opts.release && old !== t && !old.isDisposed) old.dispose();
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias, { activations: this.activations }); // [..., out]
  }
}

/**
 * layer.forward(x) for several Linear layers of one input, the same values, through linearMany:
 * at decode one kernel pass over all their rows (q/k/v, SwiGLU's gate and up) instead of a
 * dispatch each. Layers of a subclass, or with different activation modes, run one by one.
 */
export function linearLayers(x: Tensor, layers: readonly Linear[]): Tensor[] {
  const act = layers[0]?.activations;
  if (layers.some((l) => l.constructor !== Linear || l.activations !== act)) return layers.map((l) => l.forward(x));
  return linearMany(x, layers.map((l) => l.weight), layers.map((l) => l.bias), { activations: act }); // [..., out_i]
}

/** Lookup table [num, dim], initialised N(0, std) (std 1 as torch.nn.Embedding by default). */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, opts: { std?: number; generator?: Generator } = {}) {
    super();
    this.weight = this.param('weight', normal([numEmbeddings, embeddingDim], 0, opts.std ?? 1, opts.generator ? { generator: opts.generator } : {}));
  }

  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids); // [...ids, dim]
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly dim: number, readonly eps = 1e-5, opts: { bias?: boolean } = {}) {
    super();
    this.weight = this.param('weight', ones([dim]));
    this.bias = opts.bias === false ? null : this.param('bias', zeros([dim]));
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, { weight: this.weight, bias: this.bias, eps: this.eps });
  }
}

export class RMSNorm extends Module {
  readonly weight: Tensor;

  constructor(readonly dim: number, readonly eps = 1e-6) {
    super();
    this.weight = this.param('weight', ones([dim]));
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, { weight: this.weight, eps: this.eps });
  }
}
