/** Inverted dropout with a seeded generator. */
import { bernoulli, cast, fail, isFloat, mul, type Generator, type Tensor, zerosLike } from '../tensor/index.js';

export interface DropoutOptions {
  /** When false (evaluation), dropout is the identity. Default true. */
  training?: boolean;
  generator?: Generator;
}

/** Zeroes each element with probability p and scales the rest by 1 / (1 - p). */
export function dropout(x: Tensor, p: number, opts: DropoutOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) fail('dropout', `probability must be in [0, 1], got ${p}`);
  if (!isFloat(x.dtype)) fail('dropout', `needs a float tensor, got ${x.dtype}`);
  if (opts.training === false || p === 0) return x;
  if (p === 1) return mul(x, zerosLike(x));
  const keepMask = bernoulli(x.shape, 1 - p, opts.generator ? { generator: opts.generator } : {});
  return mul(x, mul(cast(keepMask, x.dtype), 1 / (1 - p)));
}
