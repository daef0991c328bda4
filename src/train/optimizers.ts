/**
 * Optimizers updating parameters in place: SGD with momentum, Adam, and AdamW
 * (decoupled weight decay, Loshchilov & Hutter 2019), with PyTorch's update rules.
 */
import { fail, formatShape, noGrad, type Tensor } from '../tensor/index.js';

export interface ParamGroup {
  params: Tensor[];
  /** Overrides the optimizer's weight decay for this group (0 for norms, biases, embeddings). */
  weightDecay?: number;
}

function buffer(p: Tensor, op: string): Float32Array | Float64Array {
  if (!p.isContiguous || p.offset !== 0 || !(p.dtype === 'float32' || p.dtype === 'float64')) {
    fail(op, `parameter ${p.name || formatShape(p.shape)} must be a contiguous float tensor owning its storage`);
  }
  return p.storage.data as Float32Array | Float64Array;
}

function gradBuffer(p: Tensor): ArrayLike<number> | null {
  return p.grad ? p.grad.toTypedArray() : null;
}

export abstract class Optimizer {
  readonly groups: ParamGroup[];
  stepCount = 0;

  constructor(params: Tensor[] | ParamGroup[], public lr: number) {
    if (!(lr >= 0)) fail('optimizer', `learning rate must be >= 0, got ${lr}`);
    this.groups = params.length && 'params' in (params[0] as object) ? (params as ParamGroup[]) : [{ params: params as Tensor[] }];
  }

  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.zeroGrad();
  }

  step(): void {
    this.stepCount++;
    noGrad(() => {
      for (const g of this.groups) for (const p of g.params) {
        const grad = gradBuffer(p);
        if (grad) this.update(p, buffer(p, 'optimizer'), grad, g);
      }
    });
  }

  protected abstract update(p: Tensor, data: Float32Array | Float64Array, grad: ArrayLike<number>, group: ParamGroup): void;

  /** Per-parameter buffers by kind (`exp_avg`, `exp_avg_sq`, `momentum_buffer`, as torch names them). */
  protected abstract buffers(): Map<string, Map<Tensor, Float64Array>>;

  /**
   * The optimizer's state for a checkpoint: step count, learning rate and every per-parameter
   * buffer, keyed `kind.paramName` (names from `names`, e.g. the model's namedParameters). Buffers
   * stay float64, so a resumed run continues bit for bit.
   */
  stateDict(names: ReadonlyMap<Tensor, string>): OptimizerState {
    const buffers = new Map<string, Float64Array>();
    for (const [kind, byParam] of this.buffers()) {
      for (const [p, buf] of byParam) {
        const name = names.get(p);
        if (name === undefined) fail('Optimizer.stateDict', `a parameter of shape ${formatShape(p.shape)} has no name`);
        buffers.set(`${kind}.${name}`, buf);
      }
    }
    return { stepCount: this.stepCount, lr: this.lr, buffers };
  }

  /** Restores stateDict's output; a buffer for an unknown parameter or of the wrong size is an error that names it. */
  loadStateDict(state: OptimizerState, names: ReadonlyMap<Tensor, string>): void {
    const byName = new Map([...names].map(([p, n]) => [n, p]));
    const own = this.buffers();
    for (const m of own.values()) m.clear();
    for (const [key, buf] of state.buffers) {
      const dot = key.indexOf('.');
      const kind = key.slice(0, dot);
      const p = byName.get(key.slice(dot + 1));
      const target = own.get(kind);
      if (!target) fail('Optimizer.loadStateDict', `'${key}': ${this.constructor.name} has no '${kind}' buffers`);
      if (!p) fail('Optimizer.loadStateDict', `'${key}': no parameter named '${key.slice(dot + 1)}'`);
      if (buf.length !== p.size) fail('Optimizer.loadStateDict', `'${key}': ${buf.length} values for a parameter of ${p.size}`);
      target.set(p, Float64Array.from(buf));
    }
    this.stepCount = state.stepCount;
    this.lr = state.lr;
  }
}

export interface OptimizerState {
  stepCount: number;
  lr: number;
  buffers: Map<string, Float64Array>;
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
}

export class SGD extends Optimizer {
  private readonly momentumBuf = new Map<Tensor, Float64Array>();
  readonly momentum: number;
  readonly weightDecay: number;

  constructor(params: Tensor[] | ParamGroup[], opts: SGDOptions) {
    super(params, opts.lr);
    this.momentum = opts.momentum ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
  }

  protected buffers(): Map<string, Map<Tensor, Float64Array>> {
    return new Map([['momentum_buffer', this.momentumBuf]]);
  }

  protected update(p: Tensor, w: Float32Array | Float64Array, grad: ArrayLike<number>, group: ParamGroup): void {
    const wd = group.weightDecay ?? this.weightDecay;
    let buf = this.momentumBuf.get(p);
    const first = !buf;
    if (this.momentum && !buf) this.momentumBuf.set(p, (buf = new Float64Array(w.length)));
    for (let i = 0; i < w.length; i++) {
      let g = grad[i]! + wd * w[i]!;
      if (buf) {
        // torch: the first step's buffer is the gradient itself (no dampening)
        buf[i] = first ? g : this.momentum * buf[i]! + g;
        g = buf[i]!;
      }
      w[i] = w[i]! - this.lr * g;
    }
  }
}

export interface AdamOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** Adam; with `decoupled` (AdamW) weight decay shrinks weights directly instead of adding to the gradient. */
export class Adam extends Optimizer {
  protected readonly expAvg = new Map<Tensor, Float64Array>();
  protected readonly expAvgSq = new Map<Tensor, Float64Array>();
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  protected decoupled = false;

  constructor(params: Tensor[] | ParamGroup[], opts: AdamOptions) {
    super(params, opts.lr);
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
  }

  protected buffers(): Map<string, Map<Tensor, Float64Array>> {
    return new Map([['exp_avg', this.expAvg], ['exp_avg_sq', this.expAvgSq]]);
  }

  protected update(p: Tensor, w: Float32Array | Float64Array, grad: ArrayLike<number>, group: ParamGroup): void {
    const [b1, b2] = this.betas;
    const wd = group.weightDecay ?? this.weightDecay;
    let m1 = this.expAvg.get(p);
    let m2 = this.expAvgSq.get(p);
    if (!m1 || !m2) {
      this.expAvg.set(p, (m1 = new Float64Array(w.length)));
      this.expAvgSq.set(p, (m2 = new Float64Array(w.length)));
    }
    const bc1 = 1 - b1 ** this.stepCount;
    const bc2 = 1 - b2 ** this.stepCount;
    const stepSize = this.lr / bc1;
    for (let i = 0; i < w.length; i++) {
      let g = grad[i]!;
      if (this.decoupled) w[i] = w[i]! * (1 - this.lr * wd);
      else if (wd) g += wd * w[i]!;
      const m = (m1[i] = b1 * m1[i]! + (1 - b1) * g);
      const v = (m2[i] = b2 * m2[i]! + (1 - b2) * g * g);
      w[i] = w[i]! - (stepSize * m) / (Math.sqrt(v) / Math.sqrt(bc2) + this.eps);
    }
  }
}

export class AdamW extends Adam {
  constructor(params: Tensor[] | ParamGroup[], opts: AdamOptions) {
    super(params, { weightDecay: 0.01, ...opts });
    this.decoupled = true;
  }
}

/** Scales all gradients so that their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  let sq = 0;
  for (const p of params) if (p.grad) for (const g of p.grad.toTypedArray()) sq += g * g;
  const norm = Math.sqrt(sq);
  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) {
    for (const p of params) {
      if (!p.grad) continue;
      const d = p.grad.storage.data;
      for (let i = 0; i < d.length; i++) d[i] = d[i]! * scale;
    }
  }
  return norm;
}
