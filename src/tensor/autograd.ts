/**
 * Reverse-mode automatic differentiation.
 *
 * Every primitive op that has an input requiring a gradient records a GradNode on its output:
 * the op's name, its inputs, and the op's gradient rule (a closure over whatever the forward
 * saved). `backward` walks the recorded graph in reverse topological order, runs each rule once
 * with the summed gradient of its output, and accumulates into `.grad` of leaf tensors.
 * After a backward the graph is freed (the closures and saved tensors become garbage) unless
 * `retainGraph` is set, as in PyTorch.
 */
import { fail, formatShape } from './errors.js';
import { sameShape } from './shape.js';
import { keep } from './scope.js';
import type { Tensor } from './tensor.js';

export type GradRule = (grad: Tensor) => readonly (Tensor | null)[];

export class GradNode {
  freed = false;
  constructor(
    readonly op: string,
    public inputs: readonly Tensor[],
    public rule: GradRule | null,
  ) {}

  release(): void {
    this.freed = true;
    this.inputs = [];
    this.rule = null;
  }
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording gradients (like `torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Records `rule` on `out` when grad mode is on and any input requires a gradient. */
export function recordOp<T extends Tensor>(out: T, op: string, inputs: readonly Tensor[], rule: GradRule): T {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.gradFn = new GradNode(op, inputs, rule);
  }
  return out;
}

export interface BackwardOptions {
  /** Keep the graph so that backward can run through it again. */
  retainGraph?: boolean;
}

/** Hooks the engine needs from the op layer (set by primitives.ts to avoid an import cycle). */
export interface EngineOps {
  add(a: Tensor, b: Tensor): Tensor;
  onesLike(t: Tensor): Tensor;
  cloneContiguous(t: Tensor): Tensor;
}

let engineOps: EngineOps | null = null;
export function setEngineOps(ops: EngineOps): void {
  engineOps = ops;
}

export function backward(root: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  const ops = engineOps!;
  if (!root.requiresGrad) fail('backward', 'the tensor does not require grad and has no grad_fn');
  if (grad === undefined) {
    if (root.size !== 1) {
      fail('backward', `a gradient can be created implicitly only for a scalar output; got shape ${formatShape(root.shape)}, pass the output gradient`);
    }
    grad = ops.onesLike(root);
  } else if (!sameShape(grad.shape, root.shape)) {
    fail('backward', `gradient shape ${formatShape(grad.shape)} does not match output shape ${formatShape(root.shape)}`);
  }

  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, grad]]);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node = t.gradFn;
      if (!node) {
        accumulateGrad(t, g);
        continue;
      }
      if (node.freed || !node.rule) {
        fail('backward', `trying to backward through the graph a second time (op ${node.op}); pass { retainGraph: true } to the first backward`);
      }
      if (t.retainsGrad) accumulateGrad(t, g);
      const inGrads = node.rule(g);
      node.inputs.forEach((input, k) => {
        const gi = inGrads[k];
        if (!gi || !input.requiresGrad) return;
        if (!sameShape(gi.shape, input.shape)) {
          fail('backward', `gradient rule of ${node.op} returned shape ${formatShape(gi.shape)} for an input of shape ${formatShape(input.shape)}`);
        }
        const prev = grads.get(input);
        grads.set(input, prev ? ops.add(prev, gi) : gi);
      });
    }
  });
  if (!opts.retainGraph) for (const t of order) t.gradFn?.release();
}

/** Tensors reachable from root through grad nodes, inputs before outputs. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, k] = top;
    const inputs = t.gradFn?.inputs ?? [];
    if (k < inputs.length) {
      top[1]++;
      const next = inputs[k]!;
      if (next.requiresGrad && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/** t.grad += g (a new tensor; the previous gradient is released, so accumulation steps do not leak it). */
function accumulateGrad(t: Tensor, g: Tensor): void {
  const ops = engineOps!;
  const previous = t.grad;
  t.grad = keep(previous ? ops.add(previous, g) : ops.cloneContiguous(g));
  previous?.dispose();
}
