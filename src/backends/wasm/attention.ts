/** Backend.fused.attention on the wasm kernels (assembly/attention.ts). */
import { sizeOf, type AttentionSpec, type FusedAttention, type TypedArray, type View } from '../../tensor/index.js';
import { output, WasmOutOfMemory, type OutputAlloc, type WasmRuntime } from './runtime.js';
import { JOB_ATTN_BWD, JOB_ATTN_FWD, f32Bits, type ThreadPool } from './pool.js';

function put(rt: WasmRuntime, v: View): number {
  return rt.stageF32(v.data, v.offset, sizeOf(v.shape));
}

/** Stages k or v [B, H, Tk, D] whose heads sit at element strides [sb, sh] (rows contiguous): the whole span. */
function putStrided(rt: WasmRuntime, v: View, strides: [number, number]): number {
  const [b, h, tk, d] = v.shape as [number, number, number, number];
  const span = (b - 1) * strides[0] + (h - 1) * strides[1] + tk * d;
  return rt.stageF32(v.data, v.offset, span);
}

/** Copies the storage span of a (broadcast) bias view; returns pointer and element strides. */
function putBias(rt: WasmRuntime, bias: View | null): number[] {
  if (!bias) return [0, 0, 0, 0, 0];
  let lo = bias.offset;
  let hi = bias.offset;
  bias.shape.forEach((d, i) => {
    const ext = (d - 1) * bias.strides[i]!;
    if (ext < 0) lo += ext;
    else hi += ext;
  });
  const p = rt.stageF32(bias.data, lo, hi - lo + 1);
  const base = p + (bias.offset - lo) * 4;
  return [base, ...bias.strides];
}

/** Copies a scratch result into a buffer of its own (in this backend's memory when possible). */
function out(rt: WasmRuntime, alloc: OutputAlloc, ptr: number, n: number): TypedArray {
  const o = output(alloc, 'float32', n, false);
  o.set(rt.f32(ptr, n));
  return o;
}

export function wasmAttention(rt: WasmRuntime, pool: ThreadPool, alloc: OutputAlloc): FusedAttention {
  return {
    forward(q, k, v, bias, s: AttentionSpec) {
      try {
        const rows = s.batch * s.headsQ * s.tq;
        const ks = s.kvStrides?.key ?? [s.headsKV * s.tk * s.headDim, s.tk * s.headDim];
        const vs = s.kvStrides?.value ?? [s.headsKV * s.tk * s.valueDim, s.tk * s.valueDim];
        const [qp, kp, vp] = [put(rt, q), putStrided(rt, k, ks), putStrided(rt, v, vs)];
        const op = rt.alloc(rows * s.valueDim * 4);
        const lp = rt.alloc(rows * 4);
        const sp = s.stats ? rt.alloc(rows * 8) : 0;
        const bargs = putBias(rt, bias);
        pool.run(JOB_ATTN_FWD, [
          qp, kp, vp, op, lp, s.headsQ, s.headsKV, s.tq, s.tk, s.headDim, s.valueDim, f32Bits(s.scale),
          // work items: (batch, KV head, query row), each running its GQA group's heads together
          s.causal ? 1 : 0, s.window, ...bargs, ks[0], ks[1], vs[0], vs[1], s.batch * s.headsKV * s.tq, sp,
        ]);
        return { out: out(rt, alloc, op, rows * s.valueDim), lse: out(rt, alloc, lp, rows), ...(sp ? { stats: out(rt, alloc, sp, rows * 2) } : {}) };
      } catch (e) {
        // no room in wasm memory for the staged inputs: ops attention takes the composed path
        if (e instanceof WasmOutOfMemory) return null;
        throw e;
      } finally {
        rt.reset();
      }
    },
    backward(q, k, v, bias, o, lse, gOut, s: AttentionSpec) {
      try {
        const rows = s.batch * s.headsQ * s.tq;
        const kvRows = s.batch * s.headsKV * s.tk;
        const [qp, kp, vp, opp, lp, gop] = [put(rt, q), put(rt, k), put(rt, v), put(rt, o), put(rt, lse), put(rt, gOut)];
        const gq = rt.alloc(rows * s.headDim * 4);
        const gk = rt.alloc(kvRows * s.headDim * 4);
        const gv = rt.alloc(kvRows * s.valueDim * 4);
        const delta = rt.alloc(rows * 4);
        rt.f32(gq, rows * s.headDim).fill(0);
        rt.f32(gk, kvRows * s.headDim).fill(0);
        rt.f32(gv, kvRows * s.valueDim).fill(0);
        const bargs = putBias(rt, bias);
        pool.run(JOB_ATTN_BWD, [
          qp, kp, vp, opp, lp, gop, gq, gk, gv, delta, s.headsQ, s.headsKV, s.tq, s.tk, s.headDim, s.valueDim,
          f32Bits(s.scale), s.causal ? 1 : 0, s.window, ...bargs, s.batch * s.headsKV,
        ]);
        return { gq: out(rt, alloc, gq, rows * s.headDim), gk: out(rt, alloc, gk, kvRows * s.headDim), gv: out(rt, alloc, gv, kvRows * s.valueDim) };
      } finally {
        rt.reset();
      }
    },
  };
}
