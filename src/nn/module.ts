/**
 * Module: a tree of named parameters and submodules, with checkpoint names that follow the
 * registration path (`layers.0.attn.q_proj.weight`), as PyTorch's nn.Module.
 */
import { fail, formatShape, isFloat, noGrad, sameShape, type Tensor } from '../tensor/index.js';

export abstract class Module {
  /**
   * Training mode (dropout active) or evaluation mode (deterministic). Unlike PyTorch, a module
   * starts in evaluation mode: attn's models are built for inference and analysis as often as for
   * training, so randomness has to be asked for (`model.train()`), and a model built or loaded
   * without it gives the same output on every call. train()/eval() set the whole tree.
   */
  training = false;
  private readonly params = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /** Registers a trainable tensor (marks it requiresGrad) under `name`. */
  protected param(name: string, t: Tensor): Tensor {
    if (this.params.has(name) || this.children.has(name)) fail('Module', `'${name}' is registered twice`);
    if (!t.requiresGrad) t.requiresGrad_(true);
    this.params.set(name, t);
    return t;
  }

  /** The tensor registered as `name` on this module (not a descendant). */
  protected parameter(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) fail('Module', `${this.constructor.name} has no parameter '${name}'`);
    return t;
  }

  /**
   * Replaces the parameter `name` of this module (not a descendant) by a tensor of the same
   * shape. Protected: only a module whose forward reads the parameter through `parameter(name)`
   * (not a field captured at construction) sees the replacement, so each such module exposes
   * its own setter (`Linear.setWeight`). A float replacement requires gradients like the
   * original; a storage-format one (float16, int8, int4) cannot train.
   */
  protected setParameter(name: string, t: Tensor): void {
    const old = this.parameter(name);
    if (!sameShape(old.shape, t.shape)) fail('setParameter', `${name}: expected shape ${formatShape(old.shape)}, got ${formatShape(t.shape)}`);
    if (isFloat(t.dtype) && !t.requiresGrad && t.isLeaf) t.requiresGrad_(true);
    this.params.set(name, t);
  }

  protected module<M extends Module>(name: string, m: M): M {
    if (this.params.has(name) || this.children.has(name)) fail('Module', `'${name}' is registered twice`);
    this.children.set(name, m);
    return m;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.params) out.push([prefix + n, p]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  /** This module and every descendant with its dotted path ('' for this one), parents first. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, m] of this.children) out.push(...m.namedModules(`${prefix}${n}.`));
    return out;
  }

  /** This module and every submodule below it, depth first in registration order (PyTorch's modules()). */
  *modules(): IterableIterator<Module> {
    yield this;
    for (const m of this.children.values()) yield* m.modules();
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** Sets training mode (`on`, default true) on this module and all submodules. */
  train(on = true): this {
    this.training = on;
    for (const m of this.children.values()) m.train(on);
    return this;
  }

  /** Sets evaluation mode on this module and all submodules: dropout becomes the identity. */
  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters());
  }

  /** Copies values into the parameters; missing, unexpected or mis-shaped entries are errors that name them. */
  loadStateDict(state: ReadonlyMap<string, Tensor>, opts: { strict?: boolean } = {}): void {
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    if (strict) {
      const missing = [...own.keys()].filter((k) => !state.has(k));
      const unexpected = [...state.keys()].filter((k) => !own.has(k));
      if (missing.length) fail('loadStateDict', `missing tensors: ${missing.join(', ')}`);
      if (unexpected.length) fail('loadStateDict', `unexpected tensors: ${unexpected.join(', ')}`);
    }
    noGrad(() => {
      for (const [name, p] of own) {
        const src = state.get(name);
        if (!src) continue;
        if (!sameShape(src.shape, p.shape)) fail('loadStateDict', `${name}: expected shape ${formatShape(p.shape)}, got ${formatShape(src.shape)}`);
        const converted = src.to(p.dtype);
        // a contiguous source is copied straight from its storage (toTypedArray would copy twice)
        const values = converted.isContiguous ? converted.storage.data.subarray(converted.offset, converted.offset + converted.size) : converted.toTypedArray();
        p.storage.data.set(values, p.offset);
        p.storage.markModified();
        if (converted !== src) converted.dispose();
      }
    });
  }
}
