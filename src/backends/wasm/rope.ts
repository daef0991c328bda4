/** Backend.fused.rope on the wasm kernel (assembly/rope.ts). */
import { sizeOf, type FusedRope } from '../../tensor/index.js';
import type { Backend } from '../../tensor/index.js';
import { resultF32, type OutputAlloc, type WasmRuntime } from './runtime.js';

export function wasmRope(rt: WasmRuntime, alloc: OutputAlloc, _ref: Backend): FusedRope {
  return {
    apply(x, cos, sin, layout, inverse) {
      const d = x.shape[x.shape.length - 1]!;
      const t = x.shape[x.shape.length - 2]!;
      const n = sizeOf(x.shape);
      try {
        const [xp, cp, sp] = [x, cos, sin].map((v) => rt.stageF32(v.data, v.offset, sizeOf(v.shape))) as [number, number, number];
        const y = resultF32(rt, alloc, n);
        rt.exports.rope(xp, cp, sp, y.ptr, n / (t * d), t, d, layout === 'interleaved' ? 1 : 0, inverse ? -1 : 1);
        return y.done();
      } finally {
        rt.reset();
      }
    },
  };
}
