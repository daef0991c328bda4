/** Basic layers: Linear, Embedding, LayerNorm, RMSNorm. Weights use PyTorch's layouts and inits. */
import { add, matmul, ones, transpose, uniform, normal, zeros, type Generator, type Tensor } from '../tensor/index.js';
import { embedding, layerNorm, rmsNorm } from '../ops/index.js';
import { Module } from './module.js';

export interface LinearOptions {
  bias?: boolean;
  generator?: Generator;
}

/** y = x W^T + b with W [out, in]; initialised U(-1/sqrt(in), 1/sqrt(in)) as torch.nn.Linear. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    const g = opts.generator ? { generator: opts.generator } : {};
    this.weight = this.param('weight', uniform([outFeatures, inFeatures], -bound, bound, g));
    this.bias = opts.bias === false ? null : this.param('bias', uniform([outFeatures], -bound, bound, g));
  }

  forward(x: Tensor): Tensor {
    const y = matmul(x, transpose(this.weight, 0, 1)); // [..., out]
    return this.bias ? add(y, this.bias) : y;
  }
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
