/**
 * Initialisation for training from scratch, as Hugging Face's `PreTrainedModel._init_weights`
 * does it for GPT-2, LLaMA-family and BERT models: every matrix (linear weights, embeddings)
 * N(0, initializer_range), biases 0, norm weights 1; GPT-2 additionally draws the residual output
 * projections (`c_proj.weight`) with std / sqrt(2 n_layer) (Radford et al. 2019, sec. 2.3), so the
 * residual stream's variance does not grow with depth. Families with their own scheme (T5's
 * factor-scaled init, torch.nn.Transformer's xavier) keep what their constructors draw.
 */
import { noGrad, type Generator } from '../tensor/index.js';
import type { Module } from '../nn/index.js';

export interface InitOptions {
  /** initializer_range */
  std: number;
  generator: Generator;
  /** Parameter-name suffixes drawn with std * residualScale (GPT-2: ['c_proj.weight'], scale 1/sqrt(2 n_layer)). */
  residualNames?: readonly string[];
  residualScale?: number;
}

export function initWeights(model: Module, o: InitOptions): void {
  noGrad(() => {
    for (const [name, p] of model.namedParameters()) {
      const data = p.storage.data as Float32Array;
      const start = p.offset;
      const end = start + p.size;
      if (p.ndim < 2) {
        // biases (and BERT's MLM output bias) start at 0; LayerNorm / RMSNorm gains at 1
        data.fill(name.endsWith('bias') ? 0 : 1, start, end);
        continue;
      }
      const residual = o.residualNames?.some((s) => name.endsWith(s)) ?? false;
      const std = residual ? o.std * (o.residualScale ?? 1) : o.std;
      for (let i = start; i < end; i++) data[i] = o.generator.normal() * std;
    }
  });
}
