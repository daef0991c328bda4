/**
 * Tensor: a strided view (shape, strides, offset, dtype) onto a reference-counted Storage,
 * plus autograd state. Methods are thin: the arithmetic lives in primitives.ts (one gradient
 * rule per primitive) and the conversions in convert.ts.
 */
import type { DType, TypedArray } from './dtype.js';
import { isFloat } from './dtype.js';
import { fail, formatShape } from './errors.js';
import { contiguousStrides, isContiguous, sizeOf, type Shape } from './shape.js';
import type { Storage } from './storage.js';
import type { View } from './backend.js';
import { backward as runBackward, type BackwardOptions, type GradNode } from './autograd.js';
import { track } from './scope.js';
import * as P from './primitives.js';
import { toDType } from './convert.js';

export type Scalar = number;
export type TensorLike = Tensor | number;

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly isTensor = true;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  readonly storage: Storage;

  /** Whether gradients flow to this tensor. Leaves set it; op outputs inherit it. */
  requiresGrad = false;
  /** Accumulated gradient (leaves, and non-leaves that called `retainGrad`). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, while the graph is alive. */
  gradFn: GradNode | null = null;
  retainsGrad = false;
  /** Optional name for debugging and analysis hooks. */
  name = '';
  private disposed = false;

  constructor(storage: Storage, shape: Shape, strides?: readonly number[], offset = 0) {
    this.storage = storage;
    this.dtype = storage.dtype;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    storage.retain();
    track(this);
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** The strided view that kernels read. Throws if the tensor was disposed. */
  view(op = 'tensor'): View {
    if (this.disposed || this.storage.released) fail(op, `a tensor of shape ${formatShape(this.shape)} was used after dispose()`);
    return { data: this.storage.data, dtype: this.dtype, shape: this.shape, strides: this.strides, offset: this.offset };
  }

  // ---- autograd ----

  requiresGrad_(on = true): this {
    if (on && !isFloat(this.dtype)) fail('requiresGrad', `only float tensors can require gradients, got ${this.dtype}`);
    if (!this.isLeaf) fail('requiresGrad', 'can only be set on leaf tensors; use detach() first');
    this.requiresGrad = on;
    return this;
  }

  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  backward(grad?: Tensor, opts?: BackwardOptions): void {
    runBackward(this, grad, opts);
  }

  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  /** A tensor sharing this storage but cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, this.strides, this.offset);
  }

  // ---- memory ----

  /** Releases this view's hold on the storage; the buffer is reused when no view holds it. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.gradFn?.release();
    this.storage.release();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- views (no copy) ----

  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return P.reshape(this, flatArgs(shape));
  }
  view_(...shape: number[] | [readonly number[]]): Tensor {
    return P.reshape(this, flatArgs(shape), true);
  }
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return P.permute(this, flatArgs(dims));
  }
  transpose(a: number, b: number): Tensor {
    return P.transpose(this, a, b);
  }
  /** Transpose of the last two dimensions. */
  get mT(): Tensor {
    if (this.ndim < 2) fail('mT', `needs at least 2 dimensions, got shape ${formatShape(this.shape)}`);
    return P.transpose(this, -2, -1);
  }
  expand(...shape: number[] | [readonly number[]]): Tensor {
    return P.expand(this, flatArgs(shape));
  }
  /** Elements [start, end) of `dim` (negative indices count from the end). */
  slice(dim: number, start: number, end?: number): Tensor {
    return P.slice(this, dim, start, end);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return P.slice(this, dim, start, start + length);
  }
  unsqueeze(dim: number): Tensor {
    return P.unsqueeze(this, dim);
  }
  squeeze(dim?: number): Tensor {
    return P.squeeze(this, dim);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return P.flatten(this, startDim, endDim);
  }
  contiguous(): Tensor {
    return P.contiguous(this);
  }
  clone(): Tensor {
    return P.clone(this);
  }
  to(dtype: DType): Tensor {
    return toDType(this, dtype);
  }

  // ---- elementwise ----

  add(o: TensorLike): Tensor { return P.add(this, o); }
  sub(o: TensorLike): Tensor { return P.sub(this, o); }
  mul(o: TensorLike): Tensor { return P.mul(this, o); }
  div(o: TensorLike): Tensor { return P.div(this, o); }
  pow(o: TensorLike): Tensor { return P.pow(this, o); }
  maximum(o: TensorLike): Tensor { return P.maximum(this, o); }
  minimum(o: TensorLike): Tensor { return P.minimum(this, o); }
  neg(): Tensor { return P.neg(this); }
  exp(): Tensor { return P.exp(this); }
  log(): Tensor { return P.log(this); }
  sqrt(): Tensor { return P.sqrt(this); }
  abs(): Tensor { return P.abs(this); }
  tanh(): Tensor { return P.tanh(this); }
  sigmoid(): Tensor { return P.sigmoid(this); }
  erf(): Tensor { return P.erf(this); }
  sin(): Tensor { return P.sin(this); }
  cos(): Tensor { return P.cos(this); }
  sign(): Tensor { return P.sign(this); }
  eq(o: TensorLike): Tensor { return P.compare('eq', this, o); }
  ne(o: TensorLike): Tensor { return P.compare('ne', this, o); }
  lt(o: TensorLike): Tensor { return P.compare('lt', this, o); }
  le(o: TensorLike): Tensor { return P.compare('le', this, o); }
  gt(o: TensorLike): Tensor { return P.compare('gt', this, o); }
  ge(o: TensorLike): Tensor { return P.compare('ge', this, o); }

  // ---- reductions, products, indexing ----

  sum(axes?: number | readonly number[], keepdim = false): Tensor { return P.sum(this, axes, keepdim); }
  argmax(dim?: number, keepdim = false): Tensor { return P.argmax(this, dim, keepdim); }
  argmin(dim?: number, keepdim = false): Tensor { return P.argmin(this, dim, keepdim); }
  matmul(o: Tensor): Tensor { return P.matmul(this, o); }
  gather(dim: number, index: Tensor): Tensor { return P.gather(this, dim, index); }
  indexSelect(dim: number, index: Tensor): Tensor { return P.indexSelect(this, dim, index); }

  // ---- reading values ----

  /** The elements in row-major order as a new typed array (storage dtypes are converted to float32). */
  toTypedArray(): TypedArray {
    return P.readContiguous(this);
  }

  /** Values as nested arrays of numbers; `t.toArray<number[][]>()` states the expected nesting. */
  toArray<T extends NestedArray = NestedArray>(): T {
    const flat = this.toTypedArray();
    if (this.ndim === 0) return flat[0]! as T;
    const build = (dim: number, off: number): NestedArray => {
      const n = this.shape[dim]!;
      const step = sizeOf(this.shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) out.push(dim === this.ndim - 1 ? flat[off + i]! : build(dim + 1, off + i * step));
      return out;
    };
    return build(0, 0) as T;
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) fail('item', `only one-element tensors can be converted to a number, got shape ${formatShape(this.shape)}`);
    return this.toTypedArray()[0]!;
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

export type NestedArray = number | NestedArray[];

function flatArgs(args: number[] | [readonly number[]]): number[] {
  return Array.isArray(args[0]) ? [...(args[0] as readonly number[])] : (args as number[]);
}
